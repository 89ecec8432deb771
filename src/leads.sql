-- leads.sql: people who might buy, before they are qualified and converted into an account, a contact
-- and an opportunity (crm.convert_lead, src/actions.sql).

CREATE TYPE crm.lead_source AS ENUM ('website', 'referral', 'campaign', 'social', 'email', 'event', 'partner', 'cold_call', 'other');
COMMENT ON TYPE crm.lead_source IS 'Where a lead came from.';
CREATE TYPE crm.lead_status AS ENUM ('new', 'contacted', 'qualified', 'unqualified', 'converted', 'lost');
COMMENT ON TYPE crm.lead_status IS 'Where a lead stands: new, contacted, qualified, unqualified, converted (by crm.convert_lead), lost (with a reason).';
CREATE TYPE crm.purchase_timeline AS ENUM ('immediate', 'this_quarter', 'next_quarter', 'this_year', 'unknown');
COMMENT ON TYPE crm.purchase_timeline IS 'When a lead means to buy.';

CREATE TABLE crm.leads (
    tenant_id                uuid                  NOT NULL DEFAULT crm.current_tenant()
                                                   REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                       uuid                  NOT NULL DEFAULT crm.uuid_v7(),
    first_name               text,
    last_name                text,
    email                    crm.email,
    phone                    crm.phone,
    company                  text,
    title                    text,
    source                   crm.lead_source       NOT NULL DEFAULT 'other',
    status                   crm.lead_status       NOT NULL DEFAULT 'new',
    employee_count           integer               CHECK (employee_count >= 0),
    industry                 text,
    annual_revenue           numeric(18,2)         CHECK (annual_revenue >= 0 AND annual_revenue <> 'NaN'),
    budget                   numeric(18,2)         CHECK (budget >= 0 AND budget <> 'NaN'),
    purchase_timeline        crm.purchase_timeline NOT NULL DEFAULT 'unknown',
    is_decision_maker        boolean               NOT NULL DEFAULT false,
    country                  char(2)               CHECK (country ~ '^[A-Z]{2}$'),
    -- (with the scored fields: a scan that scores leads reads each row up to here only)
    engagement               jsonb                 CHECK (pg_catalog.jsonb_typeof(engagement) = 'object'),
    score                    integer               CHECK (score BETWEEN 0 AND 100),
    grade                    char(1)               CHECK (grade IN ('A', 'B', 'C', 'D')),
    scored_at                timestamptz,
    qualified_at             timestamptz,
    score_dropped_at         timestamptz,
    owner_id                 uuid                  NOT NULL DEFAULT crm.current_user_id(),
    converted_at             timestamptz,
    converted_account_id     uuid,
    converted_contact_id     uuid,
    converted_opportunity_id uuid,
    lost_reason              text,
    campaign_id              uuid,
    custom                   jsonb                 NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(custom) = 'object'),
    created_at               timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    updated_at               timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    search            tsvector            GENERATED ALWAYS AS (pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(company, '')), 'A') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(email::text, '')), 'B') || pg_catalog.setweight(pg_catalog.to_tsvector('pg_catalog.simple'::regconfig, coalesce(title, '') || ' ' || coalesce(industry, '')), 'C')) STORED,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id),
    -- cleared on delete by crm.accounts_null_references and crm.contacts_null_references (docs/design.md §12)
    FOREIGN KEY (tenant_id, converted_account_id) REFERENCES crm.accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, converted_contact_id) REFERENCES crm.contacts (tenant_id, id),
    CONSTRAINT leads_identified CHECK (pg_catalog.btrim(coalesce(last_name, '') || coalesce(first_name, '') || coalesce(company, '')) <> ''
                                        OR email IS NOT NULL),
    CONSTRAINT leads_converted CHECK ((status = 'converted') = (converted_at IS NOT NULL)),
    CONSTRAINT leads_lost_reason CHECK (status <> 'lost' OR pg_catalog.btrim(coalesce(lost_reason, '')) <> '')
);
CREATE INDEX leads_tenant_owner ON crm.leads (tenant_id, owner_id);
CREATE INDEX leads_tenant_status ON crm.leads (tenant_id, status);
CREATE INDEX leads_tenant_email ON crm.leads (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX leads_tenant_updated ON crm.leads (tenant_id, updated_at DESC);
CREATE INDEX leads_tenant_score ON crm.leads (tenant_id, score DESC NULLS LAST);
CREATE INDEX leads_search ON crm.leads USING gin (search);
CREATE INDEX leads_tenant_converted_account ON crm.leads (tenant_id, converted_account_id) WHERE converted_account_id IS NOT NULL;
CREATE INDEX leads_tenant_converted_contact ON crm.leads (tenant_id, converted_contact_id) WHERE converted_contact_id IS NOT NULL;
COMMENT ON TABLE crm.leads IS 'Prospective buyers not yet qualified: scored, worked (contacted, qualified) and then converted into an account, a contact and an opportunity, or closed as lost.';
COMMENT ON COLUMN crm.leads.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.leads.id IS 'The lead''s id (uuid_v7).';
COMMENT ON COLUMN crm.leads.first_name IS 'Given name.';
COMMENT ON COLUMN crm.leads.last_name IS 'Family name (a name, a company or an email is required).';
COMMENT ON COLUMN crm.leads.email IS 'Email address (crm.email); its domain matches an existing account on conversion.';
COMMENT ON COLUMN crm.leads.phone IS 'Phone number (crm.phone, E.164).';
COMMENT ON COLUMN crm.leads.company IS 'Company name; matches an existing account on conversion when the email''s domain does not.';
COMMENT ON COLUMN crm.leads.title IS 'Job title.';
COMMENT ON COLUMN crm.leads.source IS 'Where the lead came from: website, referral, campaign, social, email, event, partner, cold_call, other.';
COMMENT ON COLUMN crm.leads.status IS 'new, contacted, qualified, unqualified, converted (crm.convert_lead; final), lost (with lost_reason).';
COMMENT ON COLUMN crm.leads.employee_count IS 'Employees at the lead''s company.';
COMMENT ON COLUMN crm.leads.industry IS 'Industry of the lead''s company.';
COMMENT ON COLUMN crm.leads.annual_revenue IS 'Annual revenue of the lead''s company.';
COMMENT ON COLUMN crm.leads.budget IS 'Budget the lead has for the purchase.';
COMMENT ON COLUMN crm.leads.purchase_timeline IS 'When the lead means to buy: immediate, this_quarter, next_quarter, this_year, unknown.';
COMMENT ON COLUMN crm.leads.is_decision_maker IS 'Whether the lead decides the purchase.';
COMMENT ON COLUMN crm.leads.country IS 'ISO 3166-1 alpha-2 country code.';
COMMENT ON COLUMN crm.leads.score IS 'Lead score, 0 to 100, by the tenant''s active scoring model: kept by the database whenever a scored field changes or an activity is logged (crm.score_lead, crm.rescore_leads); NULL without an active model.';
COMMENT ON COLUMN crm.leads.grade IS 'Grade of the score (crm.lead_grade): A from 80, B from 60, C from 40, else D.';
COMMENT ON COLUMN crm.leads.scored_at IS 'When score last changed.';
COMMENT ON COLUMN crm.leads.qualified_at IS 'When the lead was first qualified, by reaching the tenant''s qualification_threshold (which also creates a follow-up task and emits lead.qualified) or by hand. Scoring qualifies a lead once.';
COMMENT ON COLUMN crm.leads.score_dropped_at IS 'Set when a qualified lead''s score falls below the qualification threshold (the lead stays qualified: review it), cleared when it reaches it again; emits lead.score_dropped.';
COMMENT ON COLUMN crm.leads.engagement IS 'Summary of the lead''s activities that engagement rules score, kept by the database: {"call": {"connected": [epoch seconds of the latest 50, newest first]}, ...} ("" for no outcome).';
COMMENT ON COLUMN crm.leads.owner_id IS 'The user who works the lead; defaults to the caller.';
COMMENT ON COLUMN crm.leads.converted_at IS 'When the lead was converted; set exactly when status is converted.';
COMMENT ON COLUMN crm.leads.converted_account_id IS 'The account the lead was converted into (or matched to); NULL if it is deleted.';
COMMENT ON COLUMN crm.leads.converted_contact_id IS 'The contact the lead was converted into (or matched to); NULL if it is deleted.';
COMMENT ON COLUMN crm.leads.converted_opportunity_id IS 'The opportunity created on conversion, if any; NULL if it is deleted.';
COMMENT ON COLUMN crm.leads.lost_reason IS 'Why the lead was lost; required when status is lost.';
COMMENT ON COLUMN crm.leads.campaign_id IS 'The campaign the lead came from, if any (crm.campaigns, same tenant); NULL if it is deleted.';
COMMENT ON COLUMN crm.leads.custom IS 'Tenant-defined fields, a JSON object.';
COMMENT ON COLUMN crm.leads.created_at IS 'When the lead was created.';
COMMENT ON COLUMN crm.leads.search IS 'Full-text search document (simple configuration: names and company A, email B, title and industry C), GIN-indexed: WHERE search @@ websearch_to_tsquery(''simple'', ''chotchkies''), or PostgREST''s ?search=wfts(simple).chotchkies.';
COMMENT ON COLUMN crm.leads.updated_at IS 'When the lead was last changed.';
COMMENT ON INDEX crm.leads_tenant_updated IS 'Lists of a tenant''s leads, most recently changed first.';
COMMENT ON INDEX crm.leads_tenant_converted_account IS 'The leads converted into an account: what deleting the account clears.';
COMMENT ON INDEX crm.leads_tenant_converted_contact IS 'The leads converted into a contact: what deleting the contact clears.';

-- Normalizes the country; a converted lead stays converted; reopening a lost lead clears its reason.
CREATE FUNCTION crm.leads_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.country := pg_catalog.upper(NEW.country);
    IF TG_OP = 'UPDATE' AND OLD.status = 'converted'
       AND (NEW.status <> 'converted' OR NEW.converted_at IS DISTINCT FROM OLD.converted_at) THEN
        RAISE EXCEPTION 'lead % is converted: its status and conversion time are final', OLD.id USING ERRCODE = '23514';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'lost' AND NEW.status <> 'lost' THEN
        NEW.lost_reason := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.leads_before_write() IS 'Trigger: normalizes a lead''s country; a converted lead stays converted; reopening a lost lead clears lost_reason.';
CREATE TRIGGER b20_leads_before_write BEFORE INSERT OR UPDATE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_before_write();
COMMENT ON TRIGGER b20_leads_before_write ON crm.leads IS 'src/leads.sql: uppercases the country; a converted lead stays converted (23514); reopening a lost lead clears lost_reason. Before b30_leads_score, which scores what it normalized.';

-- Deleting a lead clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
CREATE FUNCTION crm.leads_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.leads'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.leads_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.opportunities SET lead_id = NULL WHERE tenant_id = OLD.tenant_id AND lead_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.leads_null_references() IS 'Trigger: clears opportunities.lead_id of a deleted lead (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.leads IS 'src/leads.sql: clears opportunities.lead_id of the deleted lead.';

ALTER TABLE crm.leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.leads FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.leads', '');
SELECT crm.secure_table('crm.leads', 'owned');

CREATE VIEW crm_api.leads WITH (security_invoker = true) AS
    SELECT tenant_id, id, first_name, last_name, email, phone, company, title, source, status, employee_count,
           industry, annual_revenue, budget, purchase_timeline, is_decision_maker, country, score, grade, scored_at,
           qualified_at, score_dropped_at, owner_id,
           converted_at, converted_account_id, converted_contact_id, converted_opportunity_id, lost_reason, campaign_id,
           custom, created_at, updated_at, search
    FROM crm.leads;
COMMENT ON VIEW crm_api.leads IS 'Leads of the caller''s tenant (those it owns only, for a rep of a private tenant). Convert with POST /rpc/convert_lead.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.leads TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.leads_before_write(), crm.leads_null_references() FROM PUBLIC;
