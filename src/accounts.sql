-- accounts.sql: organizations a tenant sells to, with parent accounts (a hierarchy without cycles).

CREATE TYPE crm.lifecycle_stage AS ENUM ('lead', 'prospect', 'customer', 'churned');
COMMENT ON TYPE crm.lifecycle_stage IS 'Where an account stands with the tenant: lead, prospect, customer, churned.';

-- Refuses a parent link that would close a loop (a record its own ancestor). TG_ARGV[0] names the
-- table (accounts or contacts: on a Citus shard TG_TABLE_NAME is the shard's), which names its parent
-- column: that whitelist is all the dynamic SQL below is built from. SECURITY DEFINER: the walk must
-- see every ancestor, including records the caller's policies hide, and it only ever reads rows of
-- NEW's tenant.
CREATE FUNCTION crm.check_hierarchy() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    tbl text := TG_ARGV[0];
    col text;
    parent uuid;
    loops boolean;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.accounts,crm.contacts}'::regclass[]) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.check_hierarchy()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF tbl = 'accounts' THEN
        col := 'parent_account_id';
        parent := NEW.parent_account_id;
    ELSIF tbl = 'contacts' THEN
        col := 'reports_to_id';
        parent := NEW.reports_to_id;
    ELSE
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.check_hierarchy()', tbl USING ERRCODE = '42501';
    END IF;
    IF parent IS NULL THEN
        RETURN NEW;
    END IF;
    IF parent = NEW.id THEN
        RAISE EXCEPTION '% % cannot be its own parent', tbl, NEW.id
            USING ERRCODE = '23514', DETAIL = format('%s would point at the row itself.', col);
    END IF;
    EXECUTE format('WITH RECURSIVE up(id) AS ('
                   '  SELECT t.%1$I FROM crm.%2$I t WHERE t.tenant_id = $1 AND t.id = $2'
                   '  UNION'
                   '  SELECT t.%1$I FROM crm.%2$I t JOIN up ON t.tenant_id = $1 AND t.id = up.id)'
                   ' SELECT EXISTS (SELECT 1 FROM up WHERE id = $3)', col, tbl)
        INTO loops USING NEW.tenant_id, parent, NEW.id;
    IF loops THEN
        RAISE EXCEPTION '% % cannot report to %: that would make a cycle', tbl, NEW.id, parent
            USING ERRCODE = '23514', DETAIL = format('%s is already below %s in the hierarchy.', parent, NEW.id);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.check_hierarchy() IS 'Trigger of accounts and contacts (the trigger argument names the table): refuses a parent link (parent_account_id, reports_to_id) that would make a cycle; 23514.';

CREATE TABLE crm.accounts (
    tenant_id         uuid                NOT NULL DEFAULT crm.current_tenant()
                                          REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                uuid                NOT NULL DEFAULT crm.uuid_v7(),
    name              text                NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    domain            text                CHECK (domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
    industry          text,
    employee_count    integer             CHECK (employee_count >= 0),
    annual_revenue    numeric(18,2)       CHECK (annual_revenue >= 0 AND annual_revenue <> 'NaN'),
    country           char(2)             CHECK (country ~ '^[A-Z]{2}$'),
    parent_account_id uuid,
    lifecycle_stage   crm.lifecycle_stage NOT NULL DEFAULT 'lead',
    owner_id          uuid                NOT NULL DEFAULT crm.current_user_id(),
    custom            jsonb               NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(custom) = 'object'),
    created_at        timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    search            tsvector            GENERATED ALWAYS AS (pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(name, '')), 'A') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(domain, '')), 'B') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(industry, '')), 'C')) STORED,
    PRIMARY KEY (tenant_id, id),
    -- a deleted parent is cleared by crm.accounts_null_references (below), not ON DELETE SET NULL (docs/design.md §12)
    FOREIGN KEY (tenant_id, parent_account_id) REFERENCES crm.accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX accounts_tenant_owner ON crm.accounts (tenant_id, owner_id);
CREATE INDEX accounts_tenant_parent ON crm.accounts (tenant_id, parent_account_id) WHERE parent_account_id IS NOT NULL;
CREATE INDEX accounts_tenant_domain ON crm.accounts (tenant_id, domain) WHERE domain IS NOT NULL;
CREATE INDEX accounts_tenant_name ON crm.accounts (tenant_id, pg_catalog.lower(name));
CREATE INDEX accounts_tenant_updated ON crm.accounts (tenant_id, updated_at);
CREATE INDEX accounts_search ON crm.accounts USING gin (search);
COMMENT ON TABLE crm.accounts IS 'Organizations the tenant sells to (companies, customers), with an owner and an optional parent account.';
COMMENT ON COLUMN crm.accounts.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.accounts.id IS 'The account''s id (uuid_v7).';
COMMENT ON COLUMN crm.accounts.name IS 'Company name.';
COMMENT ON COLUMN crm.accounts.domain IS 'Web domain, normalized on write (lowercase, no scheme, path or www.): acme.com. Leads are matched to accounts by their email''s domain.';
COMMENT ON COLUMN crm.accounts.industry IS 'Industry, free text (e.g. software, retail).';
COMMENT ON COLUMN crm.accounts.employee_count IS 'Number of employees.';
COMMENT ON COLUMN crm.accounts.annual_revenue IS 'Annual revenue, in the tenant''s currency.';
COMMENT ON COLUMN crm.accounts.country IS 'ISO 3166-1 alpha-2 country code (uppercase), such as GB.';
COMMENT ON COLUMN crm.accounts.parent_account_id IS 'The parent account (same tenant); a cycle is refused (23514). Set to NULL if the parent is deleted.';
COMMENT ON COLUMN crm.accounts.lifecycle_stage IS 'lead, prospect, customer or churned.';
COMMENT ON COLUMN crm.accounts.owner_id IS 'The user who owns the account; defaults to the caller.';
COMMENT ON COLUMN crm.accounts.custom IS 'Tenant-defined fields, a JSON object.';
COMMENT ON COLUMN crm.accounts.created_at IS 'When the account was created.';
COMMENT ON COLUMN crm.accounts.search IS 'Full-text search document (simple configuration: name A, domain B, industry C), GIN-indexed: WHERE search @@ websearch_to_tsquery(''simple'', ''initech''), or PostgREST''s ?search=wfts(simple).initech.';
COMMENT ON COLUMN crm.accounts.updated_at IS 'When the account was last changed.';
COMMENT ON INDEX crm.accounts_tenant_name IS 'Lookup by company name, case-insensitively (lead conversion).';

-- Normalizes the domain: 'https://www.Acme.com/about' is acme.com.
CREATE FUNCTION crm.accounts_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.domain := nullif(pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.regexp_replace(
                      pg_catalog.lower(pg_catalog.btrim(NEW.domain)), '^[a-z][a-z0-9+.-]*://', ''), '[/?#:].*$', ''), '^www\.', ''), '');
    NEW.country := pg_catalog.upper(NEW.country);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.accounts_before_write() IS 'Trigger: normalizes an account''s domain and country code.';
CREATE TRIGGER b20_accounts_before_write BEFORE INSERT OR UPDATE OF domain, country ON crm.accounts
    FOR EACH ROW EXECUTE FUNCTION crm.accounts_before_write();
COMMENT ON TRIGGER b20_accounts_before_write ON crm.accounts IS 'src/accounts.sql: normalizes the domain (no scheme, path or www.) and the country code.';
CREATE TRIGGER b30_accounts_hierarchy BEFORE INSERT OR UPDATE OF parent_account_id ON crm.accounts
    FOR EACH ROW EXECUTE FUNCTION crm.check_hierarchy('accounts');
COMMENT ON TRIGGER b30_accounts_hierarchy ON crm.accounts IS 'src/accounts.sql: refuses a parent_account_id that would make a cycle (23514).';

-- Deleting an account clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
-- BEFORE DELETE (b90_, the last BEFORE trigger: the delete goes ahead) for the rows of other tables;
-- AFTER DELETE for its subaccounts, named to fire before the key's own check (RI_ConstraintTrigger_...):
-- a statement that deletes a parent and its child would otherwise update, in a BEFORE trigger, a row it
-- then deletes (tuple to be deleted was already modified by an operation triggered by the current command).
CREATE FUNCTION crm.accounts_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.accounts'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.accounts_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_WHEN = 'AFTER' THEN
        UPDATE crm.accounts SET parent_account_id = NULL WHERE tenant_id = OLD.tenant_id AND parent_account_id = OLD.id;
        RETURN NULL;
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.contacts SET account_id = NULL WHERE tenant_id = OLD.tenant_id AND account_id = OLD.id;
    UPDATE crm.leads SET converted_account_id = NULL WHERE tenant_id = OLD.tenant_id AND converted_account_id = OLD.id;
    UPDATE crm.opportunities SET account_id = NULL WHERE tenant_id = OLD.tenant_id AND account_id = OLD.id;
    UPDATE crm.nps_responses SET account_id = NULL WHERE tenant_id = OLD.tenant_id AND account_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.accounts_null_references() IS 'Trigger: clears what refers to a deleted account: BEFORE DELETE contacts.account_id, leads.converted_account_id, opportunities.account_id, nps_responses.account_id; AFTER DELETE its subaccounts'' parent_account_id (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.accounts
    FOR EACH ROW EXECUTE FUNCTION crm.accounts_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.accounts IS 'src/accounts.sql: clears contacts.account_id, leads.converted_account_id, opportunities.account_id and nps_responses.account_id of the deleted account.';
CREATE TRIGGER "0_null_self_references" AFTER DELETE ON crm.accounts
    FOR EACH ROW EXECUTE FUNCTION crm.accounts_null_references();
COMMENT ON TRIGGER "0_null_self_references" ON crm.accounts IS 'src/accounts.sql: clears parent_account_id of the deleted account''s subaccounts, before the foreign key checks that none is left.';

ALTER TABLE crm.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.accounts FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.accounts', '');
SELECT crm.secure_table('crm.accounts', 'owned');

CREATE VIEW crm_api.accounts WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, domain, industry, employee_count, annual_revenue, country, parent_account_id,
           lifecycle_stage, owner_id, custom, created_at, updated_at, search
    FROM crm.accounts;
COMMENT ON VIEW crm_api.accounts IS 'Accounts of the caller''s tenant (those it owns only, for a rep of a private tenant). Reps change their own; managers and admins any.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.accounts TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.check_hierarchy(), crm.accounts_before_write(), crm.accounts_null_references() FROM PUBLIC;
