-- attribution.sql: which touchpoints won the revenue. The touchpoints of a won opportunity are the
-- activities logged against it, its contacts (its main contact, the contacts of its account and the
-- contacts its leads became) or its leads (the one it came from and any converted into it), and the campaigns those leads and
-- contacts were members of, up to the moment it was won. A model splits the won amount among them;
-- the credits are rounded to the cent and the remainder handed out by largest remainder, so that they
-- always sum exactly to the amount.

CREATE FUNCTION crm.attribution_models() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based']
$$;
COMMENT ON FUNCTION crm.attribution_models() IS 'The attribution models crm.revenue_attribution knows: first_touch, last_touch, linear, time_decay (7-day half-life) and position_based (40/20/40).';

-- The weight of the i-th of n touchpoints (oldest first), days before the latest touch, under a model
-- (time decay is counted from the latest touch rather than the win: the same shares once normalised,
-- and the largest weight is 1, so that no share underflows however old the others are).
CREATE FUNCTION crm.attribution_weight(model text, i bigint, n bigint, days double precision) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
    SELECT CASE model
               WHEN 'first_touch' THEN CASE WHEN i = 1 THEN 1 ELSE 0 END
               WHEN 'last_touch' THEN CASE WHEN i = n THEN 1 ELSE 0 END
               WHEN 'linear' THEN 1
               -- halved for every 7 days between the touch and the win
               -- (capped at 7000 days, 2^-1000, where the double underflows to nothing anyway)
               WHEN 'time_decay' THEN power(0.5::double precision, least(greatest(days, 0), 7000) / 7)::numeric
               -- 40% to the first, 40% to the last, 20% shared by those between (two touches: half each)
               WHEN 'position_based' THEN CASE WHEN n = 1 THEN 1
                                               WHEN n = 2 THEN 0.5
                                               WHEN i = 1 OR i = n THEN 0.4
                                               ELSE 0.2 / (n - 2) END
           END
$$;
COMMENT ON FUNCTION crm.attribution_weight(text, bigint, bigint, double precision) IS 'The share of the i-th of n touchpoints (oldest first, days before the latest touch) under an attribution model, before normalising.';

CREATE FUNCTION crm.revenue_attribution(from_date date, to_date date, model text)
    RETURNS TABLE (opportunity_id uuid, touchpoint_type text, touchpoint_id uuid, channel text, credit numeric)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
BEGIN
    PERFORM crm.check_period(from_date, to_date);
    IF model IS NULL OR NOT model = ANY (crm.attribution_models()) THEN
        RAISE EXCEPTION 'unknown attribution model %', coalesce(quote_literal(model), 'NULL') USING ERRCODE = '22023',
            DETAIL = format('The models are: %s.', array_to_string(crm.attribution_models(), ', '));
    END IF;
    RETURN QUERY
    WITH won AS (
        SELECT o.id, o.amount, o.closed_at, o.contact_id, o.lead_id, o.account_id
          FROM crm.opportunities o
          JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id AND s.is_won
         WHERE o.tenant_id = t AND o.closed_at >= from_date::timestamptz AND o.closed_at < (to_date + 1)::timestamptz),
    deal_leads AS (
        SELECT w.id AS opp, l.id AS lead_id, l.converted_contact_id
          FROM won w JOIN crm.leads l ON l.tenant_id = t AND l.id = w.lead_id
        UNION
        SELECT w.id, l.id, l.converted_contact_id
          FROM won w JOIN crm.leads l ON l.tenant_id = t AND l.converted_opportunity_id = w.id),
    deal_contacts AS (
        SELECT w.id AS opp, w.contact_id FROM won w WHERE w.contact_id IS NOT NULL
        UNION
        SELECT w.id, c.id FROM won w JOIN crm.contacts c ON c.tenant_id = t AND c.account_id = w.account_id
        UNION
        SELECT d.opp, d.converted_contact_id FROM deal_leads d WHERE d.converted_contact_id IS NOT NULL),
    touches AS (
        SELECT w.id AS opp, 'activity' AS kind, a.id AS touch, a.type::text AS via, a.occurred_at AS at
          FROM won w JOIN crm.activities a ON a.tenant_id = t AND a.opportunity_id = w.id AND a.occurred_at <= w.closed_at
        UNION
        SELECT w.id, 'activity', a.id, a.type::text, a.occurred_at
          FROM deal_contacts c JOIN won w ON w.id = c.opp
          JOIN crm.activities a ON a.tenant_id = t AND a.contact_id = c.contact_id AND a.occurred_at <= w.closed_at
        UNION
        SELECT w.id, 'activity', a.id, a.type::text, a.occurred_at
          FROM deal_leads d JOIN won w ON w.id = d.opp
          JOIN crm.activities a ON a.tenant_id = t AND a.lead_id = d.lead_id AND a.occurred_at <= w.closed_at
        UNION
        -- a campaign counts once per deal, when it first reached one of the deal's people; members
        -- only targeted (never sent anything) or bounced were not touched
        SELECT m.opp, 'campaign', m.campaign_id, cg.type::text, min(m.at)
          FROM (SELECT d.opp, cm.campaign_id, coalesce(cm.responded_at, cm.created_at) AS at, cm.status
                  FROM deal_leads d JOIN crm.campaign_members cm ON cm.tenant_id = t AND cm.lead_id = d.lead_id
                UNION ALL
                SELECT c.opp, cm.campaign_id, coalesce(cm.responded_at, cm.created_at), cm.status
                  FROM deal_contacts c JOIN crm.campaign_members cm ON cm.tenant_id = t AND cm.contact_id = c.contact_id) m
          JOIN won w ON w.id = m.opp
          JOIN crm.campaigns cg ON cg.tenant_id = t AND cg.id = m.campaign_id
         WHERE m.status NOT IN ('targeted', 'bounced') AND m.at <= w.closed_at
         GROUP BY m.opp, m.campaign_id, cg.type),
    ordered AS (
        SELECT x.*, row_number() OVER w AS i, count(*) OVER (PARTITION BY x.opp) AS n, max(x.at) OVER (PARTITION BY x.opp) AS latest
          FROM touches x
         WHERE pg_catalog.isfinite(x.at)
        WINDOW w AS (PARTITION BY x.opp ORDER BY x.at, x.kind, x.touch)),
    weighted AS (
        SELECT o.*, crm.attribution_weight(model, o.i, o.n, extract(epoch FROM o.latest - o.at)::double precision / 86400) AS weight,
               w.amount
          FROM ordered o JOIN won w ON w.id = o.opp),
    raw AS (
        -- at 30 decimals, so that a share of a large amount is never rounded past a cent before it is floored
        SELECT x.*, round(x.amount * x.weight, 30) / sum(x.weight) OVER (PARTITION BY x.opp) AS exact
          FROM weighted x),
    floored AS (
        SELECT x.*, floor(x.exact * 100) / 100 AS cents FROM raw x),
    ranked AS (
        SELECT x.*,
               ((x.amount - sum(x.cents) OVER (PARTITION BY x.opp)) * 100)::bigint AS remainder,
               row_number() OVER (PARTITION BY x.opp ORDER BY x.exact - x.cents DESC, x.i) AS k,
               row_number() OVER (PARTITION BY x.opp ORDER BY x.exact - x.cents, x.i DESC) AS k_back
          FROM floored x)
    SELECT r.opp, r.kind, r.touch, r.via, r.credit
      FROM (SELECT x.opp, x.kind, x.touch, x.via,
                   (x.cents + CASE WHEN x.k <= x.remainder THEN 0.01
                                   -- (never expected: the cents taken back from the smallest fractions)
                                   WHEN x.k_back <= -x.remainder THEN -0.01 ELSE 0 END)::numeric(18,2) AS credit, x.at
              FROM ranked x
            UNION ALL
            -- a deal without any touchpoint: its revenue is unattributed, not lost
            SELECT w.id, 'unattributed', NULL, NULL, w.amount, w.closed_at
              FROM won w WHERE NOT EXISTS (SELECT 1 FROM touches x WHERE x.opp = w.id)) r
     ORDER BY r.opp, r.at, r.kind, r.touch;
END
$$;
COMMENT ON FUNCTION crm.revenue_attribution(date, date, text) IS 'Revenue attribution of the deals the caller reads won from from_date to to_date: one row per touchpoint of each (an activity logged against it, its contacts (its main contact, its account''s, its leads'') or its leads, or a campaign that reached them, up to the win; touchpoint_type activity or campaign, touchpoint_id the activity''s or the campaign''s id, channel the activity''s or the campaign''s type) with its credit under model: first_touch, last_touch, linear, time_decay (a touch''s weight halves every 7 days before the win) or position_based (40% first, 40% last, 20% shared by the rest; half each for two). Credits are in cents and sum exactly to the won amount per deal (the rounding remainder goes to the largest fractions); a deal without touchpoints gets one unattributed row with its whole amount. 22023 for bad dates or an unknown model.';

CREATE FUNCTION crm_api.revenue_attribution(from_date date, to_date date, model text DEFAULT 'linear')
    RETURNS TABLE (opportunity_id uuid, touchpoint_type text, touchpoint_id uuid, channel text, credit numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM crm.revenue_attribution(from_date, to_date, model)
$$;
COMMENT ON FUNCTION crm_api.revenue_attribution(date, date, text) IS 'Won revenue split among its touchpoints (GET /rpc/revenue_attribution?from_date=...&to_date=...&model=time_decay; model first_touch, last_touch, linear (default), time_decay or position_based). 400 for bad dates or an unknown model.';
REVOKE EXECUTE ON FUNCTION crm_api.revenue_attribution(date, date, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.revenue_attribution(date, date, text) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.attribution_models(), crm.attribution_weight(text,bigint,bigint,float8),
    crm.revenue_attribution(date,date,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.attribution_models(), crm.attribution_weight(text,bigint,bigint,float8),
    crm.revenue_attribution(date,date,text) TO crm_rep;
