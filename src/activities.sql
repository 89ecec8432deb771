-- activities.sql: calls, emails, meetings, notes, texts and chats, logged against a lead, a contact, an
-- account or an opportunity. Logging one marks the contact as reached and a new lead as contacted.

CREATE TYPE crm.activity_type AS ENUM ('call', 'email', 'meeting', 'note', 'sms', 'chat');
COMMENT ON TYPE crm.activity_type IS 'Kind of activity: call, email, meeting, note, sms, chat.';
CREATE TYPE crm.activity_direction AS ENUM ('inbound', 'outbound');
COMMENT ON TYPE crm.activity_direction IS 'Who started it: inbound (the customer) or outbound (the tenant).';
CREATE TYPE crm.sentiment AS ENUM ('positive', 'neutral', 'negative');
COMMENT ON TYPE crm.sentiment IS 'How an interaction went: positive, neutral, negative.';

CREATE TABLE crm.activities (
    tenant_id        uuid                   NOT NULL DEFAULT crm.current_tenant()
                                            REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id               uuid                   NOT NULL DEFAULT crm.uuid_v7(),
    type             crm.activity_type      NOT NULL,
    direction        crm.activity_direction,
    subject          text,
    body             text,
    occurred_at      timestamptz            NOT NULL DEFAULT pg_catalog.now() CHECK (pg_catalog.isfinite(occurred_at)),
    duration_minutes integer                CHECK (duration_minutes >= 0),
    outcome          text                   CHECK (outcome ~ '^[a-z][a-z0-9_]*$'),
    next_step        text,
    sentiment        crm.sentiment,
    lead_id          uuid,
    contact_id       uuid,
    account_id       uuid,
    opportunity_id   uuid,
    owner_id         uuid                   NOT NULL DEFAULT crm.current_user_id(),
    created_at       timestamptz            NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz            NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES crm.opportunities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id),
    CONSTRAINT activities_about_something CHECK (num_nonnulls(lead_id, contact_id, account_id, opportunity_id) > 0)
);
CREATE INDEX activities_tenant_lead ON crm.activities (tenant_id, lead_id, occurred_at) WHERE lead_id IS NOT NULL;
CREATE INDEX activities_tenant_contact ON crm.activities (tenant_id, contact_id, occurred_at) WHERE contact_id IS NOT NULL;
CREATE INDEX activities_tenant_account ON crm.activities (tenant_id, account_id, occurred_at) WHERE account_id IS NOT NULL;
CREATE INDEX activities_tenant_opportunity ON crm.activities (tenant_id, opportunity_id, occurred_at) WHERE opportunity_id IS NOT NULL;
CREATE INDEX activities_tenant_owner ON crm.activities (tenant_id, owner_id, occurred_at);
COMMENT ON TABLE crm.activities IS 'Interactions logged against a lead, a contact, an account or an opportunity (at least one). Logging one updates the contact''s last_contacted_at and moves a new lead to contacted.';
COMMENT ON COLUMN crm.activities.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.activities.id IS 'The activity''s id (uuid_v7).';
COMMENT ON COLUMN crm.activities.type IS 'call, email, meeting, note, sms or chat.';
COMMENT ON COLUMN crm.activities.direction IS 'inbound or outbound.';
COMMENT ON COLUMN crm.activities.subject IS 'Subject line or title.';
COMMENT ON COLUMN crm.activities.body IS 'Content or minutes.';
COMMENT ON COLUMN crm.activities.occurred_at IS 'When it happened; defaults to now.';
COMMENT ON COLUMN crm.activities.duration_minutes IS 'How long it took, in minutes.';
COMMENT ON COLUMN crm.activities.outcome IS 'How it ended, a lowercase word (connected, no_answer, replied, held, ...); lead scoring gives points by type and outcome.';
COMMENT ON COLUMN crm.activities.next_step IS 'What was agreed to do next.';
COMMENT ON COLUMN crm.activities.sentiment IS 'positive, neutral or negative.';
COMMENT ON COLUMN crm.activities.lead_id IS 'The lead it concerns.';
COMMENT ON COLUMN crm.activities.contact_id IS 'The contact it concerns.';
COMMENT ON COLUMN crm.activities.account_id IS 'The account it concerns.';
COMMENT ON COLUMN crm.activities.opportunity_id IS 'The opportunity it concerns.';
COMMENT ON COLUMN crm.activities.owner_id IS 'The user who logged it; defaults to the caller.';
COMMENT ON COLUMN crm.activities.created_at IS 'When it was logged.';
COMMENT ON COLUMN crm.activities.updated_at IS 'When it was last changed.';

-- What an activity's row does to other rows, in one place: the leads' and the contacts' (the days of
-- the accounts are rolled up per statement, src/account_activity.sql). SECURITY DEFINER: a rep logs a
-- call on a lead or a contact another rep owns, and it counts all the same; only rows of the activity's
-- own tenant are touched. Each row is written once, and only when it changes (a statement that changes
-- nothing would still run the table's statement triggers):
--   the lead(s) it concerns (before and after a change): their engagement summary, which rescores them
--     (crm.lead_engagement, src/qualification.sql), and, for a new activity other than a note, status
--     contacted for a new lead; one UPDATE per lead, none when both are already so;
--   a new activity's contact: last_contacted_at moves forward to it, never back.
CREATE FUNCTION crm.activities_after_write() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    tenant uuid;
    lead uuid;
    contacts boolean;
    summary jsonb;
    cur record;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.activities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.activities_after_write()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    tenant := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    FOR lead IN SELECT DISTINCT x FROM unnest(ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.lead_id END,
                                                    CASE WHEN TG_OP <> 'DELETE' THEN NEW.lead_id END]) x
                WHERE x IS NOT NULL LOOP
        SELECT l.status, l.engagement INTO cur FROM crm.leads l WHERE l.tenant_id = tenant AND l.id = lead;
        CONTINUE WHEN NOT FOUND;
        summary := crm.lead_engagement(tenant, lead);
        contacts := TG_OP = 'INSERT' AND lead = NEW.lead_id AND NEW.type <> 'note' AND cur.status = 'new';
        -- (status set only when it changes: an UPDATE naming it runs the triggers on status)
        IF contacts THEN
            UPDATE crm.leads l SET engagement = summary, status = 'contacted' WHERE l.tenant_id = tenant AND l.id = lead AND l.status = 'new';
            contacts := FOUND;
        END IF;
        IF NOT contacts AND cur.engagement IS DISTINCT FROM summary THEN
            UPDATE crm.leads l SET engagement = summary WHERE l.tenant_id = tenant AND l.id = lead;
        END IF;
    END LOOP;
    IF TG_OP = 'INSERT' AND NEW.contact_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM crm.contacts c WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.contact_id
                      AND (c.last_contacted_at IS NULL OR c.last_contacted_at < NEW.occurred_at)) THEN
        UPDATE crm.contacts SET last_contacted_at = NEW.occurred_at
         WHERE tenant_id = NEW.tenant_id AND id = NEW.contact_id
           AND (last_contacted_at IS NULL OR last_contacted_at < NEW.occurred_at);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.activities_after_write() IS 'Trigger: an activity inserted, changed or deleted refreshes the engagement summary of the lead(s) it concerns (which rescores them); a new one other than a note moves a new lead to contacted and the contact''s last_contacted_at forward. Each lead and contact is updated once, and only when something changes.';
CREATE TRIGGER activities_after_write AFTER INSERT OR DELETE OR UPDATE OF type, outcome, occurred_at, lead_id ON crm.activities
    FOR EACH ROW EXECUTE FUNCTION crm.activities_after_write();
COMMENT ON TRIGGER activities_after_write ON crm.activities IS 'src/activities.sql: refreshes the engagement of the lead(s) an activity concerns (which rescores them); a new activity moves a new lead to contacted (a note does not count) and the contact''s last_contacted_at forward; each row written once, only when it changes.';

ALTER TABLE crm.activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.activities FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.activities', '');
SELECT crm.secure_table('crm.activities', 'owned');

CREATE VIEW crm_api.activities WITH (security_invoker = true) AS
    SELECT tenant_id, id, type, direction, subject, body, occurred_at, duration_minutes, outcome, next_step, sentiment,
           lead_id, contact_id, account_id, opportunity_id, owner_id, created_at, updated_at
    FROM crm.activities;
COMMENT ON VIEW crm_api.activities IS 'Activities of the caller''s tenant (those it owns only, for a rep of a private tenant). POST one to log a call, an email, a meeting...';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.activities TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.activities_after_write() FROM PUBLIC;
