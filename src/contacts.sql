-- contacts.sql: people at accounts, with several email addresses and phone numbers each.
--
-- contact_emails and contact_phones hold every address and number of a contact; exactly one of each
-- (when there are any) is primary, and contacts.email / contacts.phone always show the primary one.
-- Either side may be written: setting contacts.email adds the address (or promotes it) as primary;
-- adding a primary address, promoting one or deleting the primary updates contacts.email. Deleting the
-- primary promotes the oldest remaining address. A primary cannot be demoted by itself: promote another.

CREATE TYPE crm.contact_channel AS ENUM ('email', 'phone', 'sms', 'chat', 'mail');
COMMENT ON TYPE crm.contact_channel IS 'How a contact prefers to be reached: email, phone, sms, chat, mail.';
CREATE TYPE crm.email_type AS ENUM ('work', 'personal', 'other');
COMMENT ON TYPE crm.email_type IS 'Kind of email address: work, personal, other.';
CREATE TYPE crm.phone_type AS ENUM ('work', 'mobile', 'home', 'other');
COMMENT ON TYPE crm.phone_type IS 'Kind of phone number: work, mobile, home, other.';

CREATE TABLE crm.contacts (
    tenant_id          uuid                NOT NULL DEFAULT crm.current_tenant()
                                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                 uuid                NOT NULL DEFAULT crm.uuid_v7(),
    account_id         uuid,
    first_name         text,
    last_name          text,
    title              text,
    email              crm.email,
    phone              crm.phone,
    reports_to_id      uuid,
    preferred_channel  crm.contact_channel,
    email_opt_out      boolean             NOT NULL DEFAULT false,
    email_opt_out_at   timestamptz,
    sms_opt_out        boolean             NOT NULL DEFAULT false,
    sms_opt_out_at     timestamptz,
    last_contacted_at  timestamptz,
    owner_id           uuid                NOT NULL DEFAULT crm.current_user_id(),
    custom             jsonb               NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(custom) = 'object'),
    created_at         timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    updated_at         timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    search            tsvector            GENERATED ALWAYS AS (pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(first_name, '') || ' ' || coalesce(last_name, '')), 'A') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(email::text, '')), 'B') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(title, '')), 'C')) STORED,
    PRIMARY KEY (tenant_id, id),
    -- cleared on delete by crm.accounts_null_references and crm.contacts_null_references (docs/design.md §12)
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, reports_to_id) REFERENCES crm.contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id),
    CONSTRAINT contacts_named CHECK (pg_catalog.btrim(coalesce(first_name, '') || coalesce(last_name, '')) <> '')
);
CREATE UNIQUE INDEX contacts_tenant_email ON crm.contacts (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX contacts_tenant_account ON crm.contacts (tenant_id, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX contacts_tenant_owner ON crm.contacts (tenant_id, owner_id);
CREATE INDEX contacts_tenant_reports_to ON crm.contacts (tenant_id, reports_to_id) WHERE reports_to_id IS NOT NULL;
CREATE INDEX contacts_tenant_phone ON crm.contacts (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_tenant_updated ON crm.contacts (tenant_id, updated_at);
CREATE INDEX contacts_search ON crm.contacts USING gin (search);
COMMENT ON TABLE crm.contacts IS 'People the tenant deals with, usually at an account. email and phone show the primary ones of contact_emails and contact_phones.';
COMMENT ON COLUMN crm.contacts.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.contacts.id IS 'The contact''s id (uuid_v7).';
COMMENT ON COLUMN crm.contacts.account_id IS 'The contact''s account (same tenant), if any; NULL if the account is deleted.';
COMMENT ON COLUMN crm.contacts.first_name IS 'Given name (a first or a last name is required).';
COMMENT ON COLUMN crm.contacts.last_name IS 'Family name.';
COMMENT ON COLUMN crm.contacts.title IS 'Job title.';
COMMENT ON COLUMN crm.contacts.email IS 'The primary email address (crm.email), unique in the tenant; writing it adds or promotes the address in contact_emails.';
COMMENT ON COLUMN crm.contacts.phone IS 'The primary phone number (crm.phone, E.164); writing it adds or promotes the number in contact_phones.';
COMMENT ON COLUMN crm.contacts.reports_to_id IS 'The contact''s manager (same tenant); a cycle is refused (23514). Set to NULL if the manager is deleted.';
COMMENT ON COLUMN crm.contacts.preferred_channel IS 'How the contact prefers to be reached.';
COMMENT ON COLUMN crm.contacts.email_opt_out IS 'The contact asked not to receive email.';
COMMENT ON COLUMN crm.contacts.email_opt_out_at IS 'When email_opt_out was last set to true (kept by a trigger).';
COMMENT ON COLUMN crm.contacts.sms_opt_out IS 'The contact asked not to receive text messages.';
COMMENT ON COLUMN crm.contacts.sms_opt_out_at IS 'When sms_opt_out was last set to true (kept by a trigger).';
COMMENT ON COLUMN crm.contacts.last_contacted_at IS 'When the contact was last reached (the latest logged activity).';
COMMENT ON COLUMN crm.contacts.owner_id IS 'The user who owns the contact; defaults to the caller.';
COMMENT ON COLUMN crm.contacts.custom IS 'Tenant-defined fields, a JSON object.';
COMMENT ON COLUMN crm.contacts.created_at IS 'When the contact was created.';
COMMENT ON COLUMN crm.contacts.search IS 'Full-text search document (simple configuration: names A, email B, title C), GIN-indexed: WHERE search @@ websearch_to_tsquery(''simple'', ''peter''), or PostgREST''s ?search=wfts(simple).peter.';
COMMENT ON COLUMN crm.contacts.updated_at IS 'When the contact was last changed.';
COMMENT ON INDEX crm.contacts_tenant_email IS 'One contact per primary email per tenant (case-insensitive: crm.email).';

-- Stamps the opt-out times.
CREATE FUNCTION crm.contacts_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.email_opt_out AND (TG_OP = 'INSERT' OR NOT OLD.email_opt_out) THEN
        NEW.email_opt_out_at := coalesce(NEW.email_opt_out_at, pg_catalog.now());
    ELSIF NOT NEW.email_opt_out THEN
        NEW.email_opt_out_at := NULL;
    END IF;
    IF NEW.sms_opt_out AND (TG_OP = 'INSERT' OR NOT OLD.sms_opt_out) THEN
        NEW.sms_opt_out_at := coalesce(NEW.sms_opt_out_at, pg_catalog.now());
    ELSIF NOT NEW.sms_opt_out THEN
        NEW.sms_opt_out_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.contacts_before_write() IS 'Trigger: records when a contact opted out of email or text messages.';
CREATE TRIGGER b20_contacts_before_write BEFORE INSERT OR UPDATE OF email_opt_out, sms_opt_out ON crm.contacts
    FOR EACH ROW EXECUTE FUNCTION crm.contacts_before_write();
COMMENT ON TRIGGER b20_contacts_before_write ON crm.contacts IS 'src/contacts.sql: stamps email_opt_out_at and sms_opt_out_at.';
CREATE TRIGGER b30_contacts_hierarchy BEFORE INSERT OR UPDATE OF reports_to_id ON crm.contacts
    FOR EACH ROW EXECUTE FUNCTION crm.check_hierarchy('contacts');
COMMENT ON TRIGGER b30_contacts_hierarchy ON crm.contacts IS 'src/contacts.sql: refuses a reports_to_id that would make a cycle (23514).';

-- Deleting a contact clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
-- BEFORE DELETE for the rows of other tables; AFTER DELETE, before the key's own check, for the contacts
-- reporting to it (as for accounts: a statement may delete a manager and its reports).
CREATE FUNCTION crm.contacts_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.contacts'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.contacts_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_WHEN = 'AFTER' THEN
        UPDATE crm.contacts SET reports_to_id = NULL WHERE tenant_id = OLD.tenant_id AND reports_to_id = OLD.id;
        RETURN NULL;
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.leads SET converted_contact_id = NULL WHERE tenant_id = OLD.tenant_id AND converted_contact_id = OLD.id;
    UPDATE crm.opportunities SET contact_id = NULL WHERE tenant_id = OLD.tenant_id AND contact_id = OLD.id;
    UPDATE crm.cases SET contact_id = NULL WHERE tenant_id = OLD.tenant_id AND contact_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.contacts_null_references() IS 'Trigger: clears what refers to a deleted contact: BEFORE DELETE leads.converted_contact_id, opportunities.contact_id, cases.contact_id; AFTER DELETE reports_to_id of the contacts reporting to it (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.contacts
    FOR EACH ROW EXECUTE FUNCTION crm.contacts_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.contacts IS 'src/contacts.sql: clears leads.converted_contact_id, opportunities.contact_id and cases.contact_id of the deleted contact.';
CREATE TRIGGER "0_null_self_references" AFTER DELETE ON crm.contacts
    FOR EACH ROW EXECUTE FUNCTION crm.contacts_null_references();
COMMENT ON TRIGGER "0_null_self_references" ON crm.contacts IS 'src/contacts.sql: clears reports_to_id of the contacts that reported to the deleted one, before the foreign key checks that none is left.';

ALTER TABLE crm.contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contacts FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.contacts', '');
SELECT crm.secure_table('crm.contacts', 'owned');

CREATE TABLE crm.contact_emails (
    tenant_id  uuid           NOT NULL DEFAULT crm.current_tenant()
                              REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid           NOT NULL DEFAULT crm.uuid_v7(),
    contact_id uuid           NOT NULL,
    email      crm.email      NOT NULL,
    type       crm.email_type NOT NULL DEFAULT 'work',
    verified   boolean        NOT NULL DEFAULT false,
    is_primary boolean        NOT NULL DEFAULT false,
    created_at timestamptz    NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, contact_id, email)
);
CREATE UNIQUE INDEX contact_emails_one_primary ON crm.contact_emails (tenant_id, contact_id) WHERE is_primary;
CREATE INDEX contact_emails_tenant_email ON crm.contact_emails (tenant_id, email);
COMMENT ON TABLE crm.contact_emails IS 'Every email address of a contact; exactly one is primary (shown as contacts.email).';
COMMENT ON COLUMN crm.contact_emails.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.contact_emails.id IS 'The address''s id (uuid_v7).';
COMMENT ON COLUMN crm.contact_emails.contact_id IS 'The contact (same tenant); the caller must be allowed to change it.';
COMMENT ON COLUMN crm.contact_emails.email IS 'The address (crm.email).';
COMMENT ON COLUMN crm.contact_emails.type IS 'work, personal or other.';
COMMENT ON COLUMN crm.contact_emails.verified IS 'Whether the address is known to work.';
COMMENT ON COLUMN crm.contact_emails.is_primary IS 'The contact''s primary address. The first address is primary; promoting another demotes the old one.';
COMMENT ON COLUMN crm.contact_emails.created_at IS 'When the address was added.';
COMMENT ON INDEX crm.contact_emails_one_primary IS 'At most one primary address per contact (the triggers keep it exactly one).';

CREATE TABLE crm.contact_phones (
    tenant_id  uuid           NOT NULL DEFAULT crm.current_tenant()
                              REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid           NOT NULL DEFAULT crm.uuid_v7(),
    contact_id uuid           NOT NULL,
    phone      crm.phone      NOT NULL,
    type       crm.phone_type NOT NULL DEFAULT 'work',
    verified   boolean        NOT NULL DEFAULT false,
    is_primary boolean        NOT NULL DEFAULT false,
    created_at timestamptz    NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, contact_id, phone)
);
CREATE UNIQUE INDEX contact_phones_one_primary ON crm.contact_phones (tenant_id, contact_id) WHERE is_primary;
CREATE INDEX contact_phones_tenant_phone ON crm.contact_phones (tenant_id, phone);
COMMENT ON TABLE crm.contact_phones IS 'Every phone number of a contact; exactly one is primary (shown as contacts.phone).';
COMMENT ON COLUMN crm.contact_phones.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.contact_phones.id IS 'The number''s id (uuid_v7).';
COMMENT ON COLUMN crm.contact_phones.contact_id IS 'The contact (same tenant); the caller must be allowed to change it.';
COMMENT ON COLUMN crm.contact_phones.phone IS 'The number (crm.phone, E.164).';
COMMENT ON COLUMN crm.contact_phones.type IS 'work, mobile, home or other.';
COMMENT ON COLUMN crm.contact_phones.verified IS 'Whether the number is known to work.';
COMMENT ON COLUMN crm.contact_phones.is_primary IS 'The contact''s primary number. The first number is primary; promoting another demotes the old one.';
COMMENT ON COLUMN crm.contact_phones.created_at IS 'When the number was added.';
COMMENT ON INDEX crm.contact_phones_one_primary IS 'At most one primary number per contact (the triggers keep it exactly one).';

-- The two child tables share their triggers; TG_ARGV[0] names the table (contact_emails or
-- contact_phones: on a Citus shard TG_TABLE_NAME is the shard's), which names its value column (email
-- or phone): that whitelist is all the dynamic SQL below is built from.
-- Before a write (the policies have checked the caller may change the contact): the first address is
-- primary; a new primary demotes the old one; a primary is not demoted by itself.
CREATE FUNCTION crm.contact_channel_before() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    tbl text := TG_ARGV[0];
    col text := CASE TG_ARGV[0] WHEN 'contact_emails' THEN 'email' WHEN 'contact_phones' THEN 'phone' END;
    has_primary boolean;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.contact_channel_before()', tbl USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.contact_id <> OLD.contact_id) THEN
        RAISE EXCEPTION '% cannot move to another contact', tbl USING ERRCODE = '23514';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.is_primary AND NOT NEW.is_primary AND pg_trigger_depth() = 1 THEN
        RAISE EXCEPTION 'the primary % of a contact cannot be demoted by itself', col
            USING ERRCODE = '23514', HINT = 'Make another one primary, or delete this one.';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM crm.%I WHERE tenant_id = $1 AND contact_id = $2 AND is_primary AND id <> $3)', tbl)
        INTO has_primary USING NEW.tenant_id, NEW.contact_id, NEW.id;
    IF NOT has_primary AND TG_OP = 'INSERT' THEN
        NEW.is_primary := true;
    ELSIF NEW.is_primary THEN
        EXECUTE format('UPDATE crm.%I SET is_primary = false WHERE tenant_id = $1 AND contact_id = $2 AND is_primary AND id <> $3', tbl)
            USING NEW.tenant_id, NEW.contact_id, NEW.id;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.contact_channel_before() IS 'Trigger of contact_emails and contact_phones (the trigger argument names the table): makes the first entry primary, demotes the old primary when another is promoted, refuses to demote a primary by itself or to move an entry to another contact.';

-- After a write: the oldest remaining entry takes over from a deleted primary, and the contact shows
-- its primary entry.
CREATE FUNCTION crm.contact_channel_after() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    tbl text := TG_ARGV[0];
    col text := CASE TG_ARGV[0] WHEN 'contact_emails' THEN 'email' WHEN 'contact_phones' THEN 'phone' END;
    row_ record := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.contact_channel_after()', tbl USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'DELETE' AND OLD.is_primary THEN
        EXECUTE format('UPDATE crm.%1$I SET is_primary = true WHERE tenant_id = $1 AND id = '
                       '(SELECT id FROM crm.%1$I WHERE tenant_id = $1 AND contact_id = $2 ORDER BY created_at, id LIMIT 1)', tbl)
            USING OLD.tenant_id, OLD.contact_id;
    END IF;
    -- a demotion always comes with a promotion, whose own trigger brings the contact up to date
    IF TG_OP = 'UPDATE' AND OLD.is_primary AND NOT NEW.is_primary THEN
        RETURN NULL;
    END IF;
    EXECUTE format('UPDATE crm.contacts c SET %1$I = (SELECT x.%1$I FROM crm.%2$I x WHERE x.tenant_id = $1 AND x.contact_id = $2 AND x.is_primary)'
                   ' WHERE c.tenant_id = $1 AND c.id = $2'
                   ' AND c.%1$I IS DISTINCT FROM (SELECT x.%1$I FROM crm.%2$I x WHERE x.tenant_id = $1 AND x.contact_id = $2 AND x.is_primary)',
                   col, tbl)
        USING row_.tenant_id, row_.contact_id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.contact_channel_after() IS 'Trigger of contact_emails and contact_phones (the trigger argument names the table): promotes the oldest entry when the primary is deleted and copies the primary onto the contact.';

CREATE TRIGGER b20_contact_emails_before BEFORE INSERT OR UPDATE OR DELETE ON crm.contact_emails
    FOR EACH ROW EXECUTE FUNCTION crm.contact_channel_before('contact_emails');
COMMENT ON TRIGGER b20_contact_emails_before ON crm.contact_emails IS 'src/contacts.sql: makes the first address primary and demotes the old primary when another is promoted; refuses demoting a primary by itself or moving an address to another contact (23514).';
CREATE TRIGGER contact_emails_after AFTER INSERT OR UPDATE OR DELETE ON crm.contact_emails
    FOR EACH ROW EXECUTE FUNCTION crm.contact_channel_after('contact_emails');
COMMENT ON TRIGGER contact_emails_after ON crm.contact_emails IS 'src/contacts.sql: promotes the oldest address when the primary is deleted, and copies the primary onto contacts.email.';
CREATE TRIGGER b20_contact_phones_before BEFORE INSERT OR UPDATE OR DELETE ON crm.contact_phones
    FOR EACH ROW EXECUTE FUNCTION crm.contact_channel_before('contact_phones');
COMMENT ON TRIGGER b20_contact_phones_before ON crm.contact_phones IS 'src/contacts.sql: makes the first number primary and demotes the old primary when another is promoted; refuses demoting a primary by itself or moving a number to another contact (23514).';
CREATE TRIGGER contact_phones_after AFTER INSERT OR UPDATE OR DELETE ON crm.contact_phones
    FOR EACH ROW EXECUTE FUNCTION crm.contact_channel_after('contact_phones');
COMMENT ON TRIGGER contact_phones_after ON crm.contact_phones IS 'src/contacts.sql: promotes the oldest number when the primary is deleted, and copies the primary onto contacts.phone.';

-- Writing contacts.email or contacts.phone: the value becomes the primary entry (added, or promoted);
-- NULL deletes the primary entry (the oldest remaining one takes over).
CREATE FUNCTION crm.contacts_after_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.email IS DISTINCT FROM OLD.email THEN
        IF NEW.email IS NULL THEN
            DELETE FROM crm.contact_emails WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND is_primary;
        ELSIF NOT EXISTS (SELECT 1 FROM crm.contact_emails
                          WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND email = NEW.email AND is_primary) THEN
            UPDATE crm.contact_emails SET is_primary = true
             WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND email = NEW.email;
            IF NOT FOUND THEN
                INSERT INTO crm.contact_emails (tenant_id, contact_id, email, is_primary)
                VALUES (NEW.tenant_id, NEW.id, NEW.email, true);
            END IF;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.phone IS DISTINCT FROM OLD.phone THEN
        IF NEW.phone IS NULL THEN
            DELETE FROM crm.contact_phones WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND is_primary;
        ELSIF NOT EXISTS (SELECT 1 FROM crm.contact_phones
                          WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND phone = NEW.phone AND is_primary) THEN
            UPDATE crm.contact_phones SET is_primary = true
             WHERE tenant_id = NEW.tenant_id AND contact_id = NEW.id AND phone = NEW.phone;
            IF NOT FOUND THEN
                INSERT INTO crm.contact_phones (tenant_id, contact_id, phone, is_primary)
                VALUES (NEW.tenant_id, NEW.id, NEW.phone, true);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.contacts_after_write() IS 'Trigger: keeps contact_emails and contact_phones in step when contacts.email or contacts.phone is written.';
CREATE TRIGGER contacts_after_write AFTER INSERT OR UPDATE OF email, phone ON crm.contacts
    FOR EACH ROW EXECUTE FUNCTION crm.contacts_after_write();
COMMENT ON TRIGGER contacts_after_write ON crm.contacts IS 'src/contacts.sql: adds or promotes contacts.email and contacts.phone in contact_emails and contact_phones (NULL deletes the primary).';

ALTER TABLE crm.contact_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_emails FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.contact_emails', '');
SELECT crm.secure_table('crm.contact_emails', 'child', 'crm.contacts', 'contact_id');
ALTER TABLE crm.contact_phones ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.contact_phones FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.contact_phones', '');
SELECT crm.secure_table('crm.contact_phones', 'child', 'crm.contacts', 'contact_id');

CREATE VIEW crm_api.contacts WITH (security_invoker = true) AS
    SELECT tenant_id, id, account_id, first_name, last_name, title, email, phone, reports_to_id, preferred_channel,
           email_opt_out, email_opt_out_at, sms_opt_out, sms_opt_out_at, last_contacted_at, owner_id, custom,
           created_at, updated_at, search
    FROM crm.contacts;
COMMENT ON VIEW crm_api.contacts IS 'Contacts of the caller''s tenant (those it owns only, for a rep of a private tenant). Reps change their own; managers and admins any.';
CREATE VIEW crm_api.contact_emails WITH (security_invoker = true) AS
    SELECT tenant_id, id, contact_id, email, type, verified, is_primary, created_at FROM crm.contact_emails;
COMMENT ON VIEW crm_api.contact_emails IS 'Email addresses of the contacts the caller reads; exactly one primary per contact.';
CREATE VIEW crm_api.contact_phones WITH (security_invoker = true) AS
    SELECT tenant_id, id, contact_id, phone, type, verified, is_primary, created_at FROM crm.contact_phones;
COMMENT ON VIEW crm_api.contact_phones IS 'Phone numbers of the contacts the caller reads; exactly one primary per contact.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.contacts, crm_api.contact_emails, crm_api.contact_phones TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.contacts_before_write(), crm.contact_channel_before(),
    crm.contact_channel_after(), crm.contacts_after_write(), crm.contacts_null_references() FROM PUBLIC;
