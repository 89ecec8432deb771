-- campaigns.sql: marketing campaigns, the leads and contacts they reach, and what each lead source
-- brings in (crm.lead_source_analytics). Revenue attribution over these touchpoints: attribution.sql.

CREATE TYPE crm.campaign_type AS ENUM ('email', 'sms', 'social', 'webinar', 'content', 'paid_ads', 'event');
COMMENT ON TYPE crm.campaign_type IS 'The channel of a campaign.';
CREATE TYPE crm.campaign_status AS ENUM ('draft', 'scheduled', 'active', 'paused', 'completed', 'cancelled');
COMMENT ON TYPE crm.campaign_status IS 'Where a campaign stands.';
CREATE TYPE crm.campaign_member_status AS ENUM ('targeted', 'sent', 'opened', 'clicked', 'responded', 'converted', 'bounced', 'unsubscribed');
COMMENT ON TYPE crm.campaign_member_status IS 'How far a lead or contact went with a campaign.';

CREATE TABLE crm.campaigns (
    tenant_id  uuid                NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid                NOT NULL DEFAULT crm.uuid_v7(),
    name       text                NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    type       crm.campaign_type   NOT NULL,
    status     crm.campaign_status NOT NULL DEFAULT 'draft',
    budget     numeric(18,2)       CHECK (budget >= 0 AND budget <> 'NaN'),
    spent      numeric(18,2)       CHECK (spent >= 0 AND spent <> 'NaN'),
    currency   char(3)             NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    starts_on  date,
    ends_on    date,
    segment_id uuid,
    owner_id   uuid                NOT NULL DEFAULT crm.current_user_id(),
    created_at timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz         NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT campaigns_dates CHECK (ends_on >= starts_on),
    -- cleared on delete by crm.segments_null_references (src/segments.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, segment_id) REFERENCES crm.segments (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX campaigns_tenant_owner ON crm.campaigns (tenant_id, owner_id);
CREATE INDEX campaigns_tenant_segment ON crm.campaigns (tenant_id, segment_id) WHERE segment_id IS NOT NULL;
COMMENT ON INDEX crm.campaigns_tenant_segment IS 'The campaigns of a segment: what deleting the segment clears.';
COMMENT ON TABLE crm.campaigns IS 'Marketing campaigns: a channel, a status, a budget and what was spent, the days it runs and, optionally, the segment it targets.';
COMMENT ON COLUMN crm.campaigns.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.campaigns.id IS 'The campaign''s id (uuid_v7).';
COMMENT ON COLUMN crm.campaigns.name IS 'The campaign''s name.';
COMMENT ON COLUMN crm.campaigns.type IS 'email, sms, social, webinar, content, paid_ads or event.';
COMMENT ON COLUMN crm.campaigns.status IS 'draft, scheduled, active, paused, completed or cancelled.';
COMMENT ON COLUMN crm.campaigns.budget IS 'What may be spent; NULL when not set.';
COMMENT ON COLUMN crm.campaigns.spent IS 'What was spent so far; NULL when unknown (then no cost per lead is computed).';
COMMENT ON COLUMN crm.campaigns.currency IS 'ISO 4217 code of budget and spent; defaults to the tenant''s currency.';
COMMENT ON COLUMN crm.campaigns.starts_on IS 'The first day of the campaign.';
COMMENT ON COLUMN crm.campaigns.ends_on IS 'The last day of the campaign (not before starts_on).';
COMMENT ON COLUMN crm.campaigns.segment_id IS 'The segment of accounts it targets, if any (same tenant); NULL if the segment is deleted.';
COMMENT ON COLUMN crm.campaigns.owner_id IS 'The user who runs it; defaults to the caller.';
COMMENT ON COLUMN crm.campaigns.created_at IS 'When the campaign was created.';
COMMENT ON COLUMN crm.campaigns.updated_at IS 'When the campaign was last changed.';

CREATE FUNCTION crm.campaigns_default_currency() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NEW.currency IS NULL THEN
        SELECT t.settings->>'currency' INTO NEW.currency FROM crm.tenants t WHERE t.id = NEW.tenant_id;
    END IF;
    NEW.currency := upper(NEW.currency);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.campaigns_default_currency() IS 'Trigger: a campaign''s currency defaults to the tenant''s.';
CREATE TRIGGER b20_campaigns_default_currency BEFORE INSERT OR UPDATE OF currency ON crm.campaigns
    FOR EACH ROW EXECUTE FUNCTION crm.campaigns_default_currency();
COMMENT ON TRIGGER b20_campaigns_default_currency ON crm.campaigns IS 'src/campaigns.sql: defaults the currency to the tenant''s, uppercase.';

ALTER TABLE crm.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.campaigns FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.campaigns', '');
SELECT crm.secure_table('crm.campaigns', 'owned');

CREATE TABLE crm.campaign_members (
    tenant_id    uuid                       NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id           uuid                       NOT NULL DEFAULT crm.uuid_v7(),
    campaign_id  uuid                       NOT NULL,
    lead_id      uuid,
    contact_id   uuid,
    status       crm.campaign_member_status NOT NULL DEFAULT 'targeted',
    responded_at timestamptz                CHECK (pg_catalog.isfinite(responded_at)),
    created_at   timestamptz                NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz                NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT campaign_members_one_member CHECK ((lead_id IS NULL) <> (contact_id IS NULL)),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm.campaigns (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX campaign_members_lead ON crm.campaign_members (tenant_id, lead_id, campaign_id) WHERE lead_id IS NOT NULL;
CREATE UNIQUE INDEX campaign_members_contact ON crm.campaign_members (tenant_id, contact_id, campaign_id) WHERE contact_id IS NOT NULL;
CREATE INDEX campaign_members_campaign ON crm.campaign_members (tenant_id, campaign_id);
COMMENT ON TABLE crm.campaign_members IS 'The leads and contacts a campaign reached (each once per campaign), and how far each went.';
COMMENT ON COLUMN crm.campaign_members.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.campaign_members.id IS 'The membership''s id (uuid_v7).';
COMMENT ON COLUMN crm.campaign_members.campaign_id IS 'The campaign.';
COMMENT ON COLUMN crm.campaign_members.lead_id IS 'The lead reached (exactly one of lead_id and contact_id).';
COMMENT ON COLUMN crm.campaign_members.contact_id IS 'The contact reached (exactly one of lead_id and contact_id).';
COMMENT ON COLUMN crm.campaign_members.status IS 'targeted, sent, opened, clicked, responded, converted, bounced or unsubscribed.';
COMMENT ON COLUMN crm.campaign_members.responded_at IS 'When the member responded; set on reaching responded or converted unless given.';
COMMENT ON COLUMN crm.campaign_members.created_at IS 'When the member was added to the campaign.';
COMMENT ON COLUMN crm.campaign_members.updated_at IS 'When the membership was last changed.';
COMMENT ON INDEX crm.campaign_members_lead IS 'A lead is a member of a campaign once; also the campaigns of a lead.';
COMMENT ON INDEX crm.campaign_members_contact IS 'A contact is a member of a campaign once; also the campaigns of a contact.';

CREATE FUNCTION crm.campaign_members_responded() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NEW.status IN ('responded', 'converted') AND NEW.responded_at IS NULL THEN
        NEW.responded_at := now();
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.campaign_members_responded() IS 'Trigger: stamps responded_at when a member reaches responded or converted without one.';
CREATE TRIGGER b20_campaign_members_responded BEFORE INSERT OR UPDATE OF status ON crm.campaign_members
    FOR EACH ROW EXECUTE FUNCTION crm.campaign_members_responded();
COMMENT ON TRIGGER b20_campaign_members_responded ON crm.campaign_members IS 'src/campaigns.sql: stamps responded_at when a member reaches responded or converted without one.';

ALTER TABLE crm.campaign_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.campaign_members FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.campaign_members', '');
SELECT crm.secure_table('crm.campaign_members', 'child', 'crm.campaigns', 'campaign_id');

-- cleared on delete by crm.campaigns_null_references (below, docs/design.md §12)
ALTER TABLE crm.leads ADD FOREIGN KEY (tenant_id, campaign_id) REFERENCES crm.campaigns (tenant_id, id);
CREATE INDEX leads_tenant_campaign ON crm.leads (tenant_id, campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX leads_tenant_created ON crm.leads (tenant_id, created_at);
COMMENT ON INDEX crm.leads_tenant_campaign IS 'The leads of a campaign (cost per lead).';
COMMENT ON INDEX crm.leads_tenant_created IS 'Leads by creation time (analytics over a period).';

-- Deleting a campaign clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
CREATE FUNCTION crm.campaigns_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.campaigns'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.campaigns_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.leads SET campaign_id = NULL WHERE tenant_id = OLD.tenant_id AND campaign_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.campaigns_null_references() IS 'Trigger: clears leads.campaign_id of a deleted campaign (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.campaigns
    FOR EACH ROW EXECUTE FUNCTION crm.campaigns_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.campaigns IS 'src/campaigns.sql: clears leads.campaign_id of the deleted campaign.';

-- How many leads came from a campaign of the caller's tenant, whoever owns them: a campaign's cost per
-- lead is shared among all its leads, also when the caller reads only some of them (a rep of a
-- private tenant). SECURITY DEFINER for that count only.
-- (On Citus a query of one tenant's shard is sent there whole, this call too: it counts the same
-- tenant's leads, on the same node (colocated), so the nested query is allowed.)
CREATE FUNCTION crm.campaign_lead_count(campaign_id uuid) RETURNS bigint
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET citus.allow_nested_distributed_execution = on
    LANGUAGE sql STABLE AS
$$
    SELECT count(*) FROM crm.leads l WHERE l.tenant_id = crm.current_tenant() AND l.campaign_id = campaign_lead_count.campaign_id
$$;
REVOKE EXECUTE ON FUNCTION crm.campaign_lead_count(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.campaign_lead_count(uuid) TO crm_rep;
COMMENT ON FUNCTION crm.campaign_lead_count(uuid) IS 'The number of leads of a campaign of the caller''s tenant, whoever owns them (cost per lead); 0 without a tenant context.';

-- Per lead source, over the leads created from from_date to to_date (the session's time zone).
CREATE FUNCTION crm.lead_source_analytics(from_date date, to_date date)
    RETURNS TABLE (source text, leads bigint, converted bigint, conversion_rate numeric, won_revenue numeric,
                   average_deal_value numeric, cost_per_lead numeric)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
BEGIN
    PERFORM crm.check_period(from_date, to_date);
    RETURN QUERY
    WITH l AS (
        SELECT x.source, x.converted_at, x.campaign_id, o.amount AS won_amount
          FROM crm.leads x
          LEFT JOIN (crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id AND s.is_won)
                 ON o.tenant_id = x.tenant_id AND o.id = x.converted_opportunity_id
         WHERE x.tenant_id = t AND x.created_at >= from_date::timestamptz AND x.created_at < (to_date + 1)::timestamptz),
    -- a lead's cost: its campaign's spend shared among all the campaign's leads
    cost AS (
        SELECT c.id, c.spent / nullif(crm.campaign_lead_count(c.id), 0) AS per_lead
          FROM crm.campaigns c
         WHERE c.tenant_id = t AND c.spent IS NOT NULL AND c.id IN (SELECT DISTINCT l.campaign_id FROM l))
    SELECT l.source::text, count(*), count(l.converted_at),
           round(100.0 * count(l.converted_at) / count(*), 2),
           coalesce(sum(l.won_amount), 0),
           round(avg(l.won_amount), 2),
           round(avg(cost.per_lead), 2)
      FROM l LEFT JOIN cost ON cost.id = l.campaign_id
     GROUP BY l.source
     ORDER BY count(*) DESC, l.source::text;
END
$$;
COMMENT ON FUNCTION crm.lead_source_analytics(date, date) IS 'Per lead source, of the leads the caller reads created from from_date to to_date: leads, converted, conversion_rate (percent), won_revenue (amounts of their won deals), average_deal_value (per won deal), cost_per_lead (the mean cost of the source''s leads whose campaign''s spend is known, a campaign''s spend shared equally among all its leads; NULL when none is). 22023 for missing or reversed dates.';

CREATE VIEW crm_api.campaigns WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, type, status, budget, spent, currency, starts_on, ends_on, segment_id, owner_id, created_at, updated_at
    FROM crm.campaigns;
COMMENT ON VIEW crm_api.campaigns IS 'Marketing campaigns of the caller''s tenant (those it owns only, for a rep of a private tenant).';
CREATE VIEW crm_api.campaign_members WITH (security_invoker = true) AS
    SELECT tenant_id, id, campaign_id, lead_id, contact_id, status, responded_at, created_at, updated_at
    FROM crm.campaign_members;
COMMENT ON VIEW crm_api.campaign_members IS 'The leads and contacts of the campaigns the caller reads; changed by whoever may change the campaign.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.campaigns, crm_api.campaign_members TO crm_rep;

CREATE FUNCTION crm_api.lead_source_analytics(from_date date, to_date date)
    RETURNS TABLE (source text, leads bigint, converted bigint, conversion_rate numeric, won_revenue numeric,
                   average_deal_value numeric, cost_per_lead numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM crm.lead_source_analytics(from_date, to_date)
$$;
COMMENT ON FUNCTION crm_api.lead_source_analytics(date, date) IS 'Leads, conversions, won revenue and cost per lead by lead source (GET /rpc/lead_source_analytics?from_date=...&to_date=...). 400 for bad dates.';
REVOKE EXECUTE ON FUNCTION crm_api.lead_source_analytics(date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.lead_source_analytics(date, date) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.campaigns_default_currency(), crm.campaign_members_responded(),
    crm.lead_source_analytics(date,date), crm.campaigns_null_references() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.lead_source_analytics(date,date) TO crm_rep;
