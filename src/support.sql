-- support.sql: support cases (a light ticket), their comments, and NPS survey responses: what customers
-- say and ask, the satisfaction inputs of account health (issue 5).

CREATE TYPE crm.case_status AS ENUM ('open', 'pending', 'resolved', 'closed');
COMMENT ON TYPE crm.case_status IS 'Where a support case stands: open, pending (waiting on the customer), resolved, closed.';
CREATE TYPE crm.case_priority AS ENUM ('low', 'medium', 'high', 'urgent');
COMMENT ON TYPE crm.case_priority IS 'Case priority, in order: low, medium, high, urgent.';

CREATE TABLE crm.cases (
    tenant_id    uuid              NOT NULL DEFAULT crm.current_tenant()
                                   REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id           uuid              NOT NULL DEFAULT crm.uuid_v7(),
    subject      text              NOT NULL CHECK (pg_catalog.btrim(subject) <> ''),
    description  text,
    status       crm.case_status   NOT NULL DEFAULT 'open',
    priority     crm.case_priority NOT NULL DEFAULT 'medium',
    account_id   uuid,
    contact_id   uuid,
    assignee_id  uuid              NOT NULL DEFAULT crm.current_user_id(),
    opened_at    timestamptz       NOT NULL DEFAULT pg_catalog.now(),
    resolved_at  timestamptz,
    satisfaction integer           CHECK (satisfaction BETWEEN 1 AND 5),
    created_at   timestamptz       NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz       NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE,
    -- cleared on delete by crm.contacts_null_references (src/contacts.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES crm.users (tenant_id, id),
    CONSTRAINT cases_about_someone CHECK (num_nonnulls(account_id, contact_id) > 0),
    CONSTRAINT cases_resolved CHECK ((status IN ('resolved', 'closed')) = (resolved_at IS NOT NULL)),
    CONSTRAINT cases_resolved_after_opened CHECK (resolved_at >= opened_at)
);
CREATE INDEX cases_tenant_account ON crm.cases (tenant_id, account_id, opened_at) WHERE account_id IS NOT NULL;
CREATE INDEX cases_tenant_contact ON crm.cases (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX cases_tenant_assignee ON crm.cases (tenant_id, assignee_id, status);
CREATE INDEX cases_tenant_open ON crm.cases (tenant_id, opened_at) WHERE status IN ('open', 'pending');
COMMENT ON TABLE crm.cases IS 'Support cases of customers (an account, a contact, or both): a light ticket, assigned to a user. Their count, age and satisfaction feed account health.';
COMMENT ON COLUMN crm.cases.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.cases.id IS 'The case''s id (uuid_v7).';
COMMENT ON COLUMN crm.cases.subject IS 'What the case is about.';
COMMENT ON COLUMN crm.cases.description IS 'Details.';
COMMENT ON COLUMN crm.cases.status IS 'open, pending, resolved or closed (resolved_at is set for the last two).';
COMMENT ON COLUMN crm.cases.priority IS 'low, medium, high or urgent.';
COMMENT ON COLUMN crm.cases.account_id IS 'The customer account (the contact''s account when only a contact is given).';
COMMENT ON COLUMN crm.cases.contact_id IS 'The contact who raised it; NULL if the contact is deleted (refused, 23514, when the case names no account).';
COMMENT ON COLUMN crm.cases.assignee_id IS 'The user who works it; defaults to the caller.';
COMMENT ON COLUMN crm.cases.opened_at IS 'When it was opened; defaults to now.';
COMMENT ON COLUMN crm.cases.resolved_at IS 'When it was resolved or closed; set from the status.';
COMMENT ON COLUMN crm.cases.satisfaction IS 'The customer''s satisfaction with its handling (CSAT, 1 to 5).';
COMMENT ON COLUMN crm.cases.created_at IS 'When the case was recorded.';
COMMENT ON COLUMN crm.cases.updated_at IS 'When the case was last changed.';

-- resolved_at follows the status; a case about a contact alone belongs to the contact's account.
CREATE FUNCTION crm.cases_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.status IN ('resolved', 'closed') THEN
        NEW.resolved_at := coalesce(NEW.resolved_at, greatest(pg_catalog.now(), NEW.opened_at));
    ELSE
        NEW.resolved_at := NULL;
    END IF;
    IF NEW.account_id IS NULL AND NEW.contact_id IS NOT NULL THEN
        NEW.account_id := (SELECT c.account_id FROM crm.contacts c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contact_id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.cases_before_write() IS 'Trigger: sets resolved_at when a case is resolved or closed and clears it when it is reopened; fills account_id from the contact.';
CREATE TRIGGER b20_cases_before_write BEFORE INSERT OR UPDATE OF status, resolved_at, account_id, contact_id ON crm.cases
    FOR EACH ROW EXECUTE FUNCTION crm.cases_before_write();
COMMENT ON TRIGGER b20_cases_before_write ON crm.cases IS 'src/support.sql: sets resolved_at from the status; fills account_id from the contact.';

ALTER TABLE crm.cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.cases FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.cases', '');
SELECT crm.secure_table('crm.cases', 'owned', owner_column => 'assignee_id');

CREATE TABLE crm.case_comments (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant()
                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    case_id    uuid        NOT NULL,
    body       text        NOT NULL CHECK (pg_catalog.btrim(body) <> ''),
    is_public  boolean     NOT NULL DEFAULT false,
    author_id  uuid        DEFAULT crm.current_user_id(),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, case_id) REFERENCES crm.cases (tenant_id, id) ON DELETE CASCADE,
    -- cleared on delete by crm.users_null_references (src/tenancy.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, author_id) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX case_comments_author ON crm.case_comments (tenant_id, author_id) WHERE author_id IS NOT NULL;
COMMENT ON INDEX crm.case_comments_author IS 'The comments of a user: what deleting the user clears.';
CREATE INDEX case_comments_case ON crm.case_comments (tenant_id, case_id, created_at);
COMMENT ON TABLE crm.case_comments IS 'Comments on a case: internal notes (is_public false) or replies the customer sees. Visible with their case; written by whoever may change the case.';
COMMENT ON COLUMN crm.case_comments.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.case_comments.id IS 'The comment''s id (uuid_v7).';
COMMENT ON COLUMN crm.case_comments.case_id IS 'The case.';
COMMENT ON COLUMN crm.case_comments.body IS 'The comment.';
COMMENT ON COLUMN crm.case_comments.is_public IS 'Whether the customer sees it (false: internal).';
COMMENT ON COLUMN crm.case_comments.author_id IS 'The user who wrote it; defaults to the caller; NULL if the user is deleted.';
COMMENT ON COLUMN crm.case_comments.created_at IS 'When it was written.';
COMMENT ON COLUMN crm.case_comments.updated_at IS 'When it was last changed.';
ALTER TABLE crm.case_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.case_comments FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.case_comments', '');
SELECT crm.secure_table('crm.case_comments', 'child', 'crm.cases', 'case_id', 'assignee_id');

CREATE TABLE crm.nps_responses (
    tenant_id    uuid        NOT NULL DEFAULT crm.current_tenant()
                             REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT crm.uuid_v7(),
    contact_id   uuid        NOT NULL,
    account_id   uuid,
    score        integer     NOT NULL CHECK (score BETWEEN 0 AND 10),
    comment      text,
    responded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    -- cleared on delete by crm.accounts_null_references (src/accounts.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id)
);
CREATE INDEX nps_responses_contact ON crm.nps_responses (tenant_id, contact_id, responded_at);
CREATE INDEX nps_responses_account ON crm.nps_responses (tenant_id, account_id, responded_at) WHERE account_id IS NOT NULL;
COMMENT ON TABLE crm.nps_responses IS 'Answers of contacts to "how likely are you to recommend us?" (0 to 10: promoters 9-10, detractors 0-6). Visible with their contact; they feed account health.';
COMMENT ON COLUMN crm.nps_responses.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.nps_responses.id IS 'The response''s id (uuid_v7).';
COMMENT ON COLUMN crm.nps_responses.contact_id IS 'The contact who answered.';
COMMENT ON COLUMN crm.nps_responses.account_id IS 'The contact''s account when it answered (filled from the contact); NULL if the account is deleted.';
COMMENT ON COLUMN crm.nps_responses.score IS 'The answer, 0 to 10.';
COMMENT ON COLUMN crm.nps_responses.comment IS 'What the contact added.';
COMMENT ON COLUMN crm.nps_responses.responded_at IS 'When the contact answered; defaults to now.';
COMMENT ON COLUMN crm.nps_responses.created_at IS 'When the response was recorded.';
COMMENT ON COLUMN crm.nps_responses.updated_at IS 'When the response was last changed.';

CREATE FUNCTION crm.nps_responses_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.account_id IS NULL THEN
        NEW.account_id := (SELECT c.account_id FROM crm.contacts c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contact_id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.nps_responses_before_write() IS 'Trigger: fills an NPS response''s account_id from its contact.';
CREATE TRIGGER b20_nps_responses_before_write BEFORE INSERT OR UPDATE OF contact_id, account_id ON crm.nps_responses
    FOR EACH ROW EXECUTE FUNCTION crm.nps_responses_before_write();
COMMENT ON TRIGGER b20_nps_responses_before_write ON crm.nps_responses IS 'src/support.sql: fills account_id from the contact.';
ALTER TABLE crm.nps_responses ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.nps_responses FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.nps_responses', '');
SELECT crm.secure_table('crm.nps_responses', 'child', 'crm.contacts', 'contact_id');

-- who changed what, as for the other core tables
CREATE TRIGGER audit_insert AFTER INSERT ON crm.cases REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.audit('cases');
COMMENT ON TRIGGER audit_insert ON crm.cases IS 'src/support.sql: logs the inserted cases in crm.audit_log.';
CREATE TRIGGER audit_update AFTER UPDATE ON crm.cases REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION crm.audit('cases');
COMMENT ON TRIGGER audit_update ON crm.cases IS 'src/support.sql: logs the changed columns of updated cases in crm.audit_log (derived columns aside).';
CREATE TRIGGER audit_delete AFTER DELETE ON crm.cases REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.audit('cases');
COMMENT ON TRIGGER audit_delete ON crm.cases IS 'src/support.sql: logs the deleted cases in crm.audit_log.';

CREATE VIEW crm_api.cases WITH (security_invoker = true) AS
    SELECT tenant_id, id, subject, description, status, priority, account_id, contact_id, assignee_id, opened_at, resolved_at,
           satisfaction, created_at, updated_at
    FROM crm.cases;
COMMENT ON VIEW crm_api.cases IS 'Support cases of the caller''s tenant (those assigned to it only, for a rep of a private tenant). PATCH status to resolved or closed to resolve one.';
CREATE VIEW crm_api.case_comments WITH (security_invoker = true) AS
    SELECT tenant_id, id, case_id, body, is_public, author_id, created_at, updated_at FROM crm.case_comments;
COMMENT ON VIEW crm_api.case_comments IS 'Comments on the cases the caller reads.';
CREATE VIEW crm_api.nps_responses WITH (security_invoker = true) AS
    SELECT tenant_id, id, contact_id, account_id, score, comment, responded_at, created_at, updated_at FROM crm.nps_responses;
COMMENT ON VIEW crm_api.nps_responses IS 'NPS answers of the contacts the caller reads.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.cases, crm_api.case_comments, crm_api.nps_responses TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.cases_before_write(), crm.nps_responses_before_write() FROM PUBLIC;
