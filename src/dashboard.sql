-- dashboard.sql: the figures a CRM's home page shows, in one STABLE call. Every part reads one
-- tenant's rows through an index led by tenant_id, so the call stays in milliseconds on large tables.

CREATE INDEX activities_tenant_occurred ON crm.activities (tenant_id, occurred_at DESC);
COMMENT ON INDEX crm.activities_tenant_occurred IS 'The latest activities of a tenant (dashboard''s recent interactions).';
CREATE INDEX opportunities_tenant_open_amount ON crm.opportunities (tenant_id, amount DESC) WHERE closed_at IS NULL;
COMMENT ON INDEX crm.opportunities_tenant_open_amount IS 'A tenant''s open deals, largest first (dashboard''s top opportunities).';

CREATE FUNCTION crm.dashboard(owner_id uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
    who uuid := owner_id;
    deals jsonb;
    leads jsonb;
    default_pipeline uuid := (SELECT p.id FROM crm.pipelines p WHERE p.tenant_id = t AND p.is_default);
    stage_totals crm.stage_totals[];
BEGIN
    PERFORM crm.check_user_and_team(who);

    -- every deal once: open ones, won and lost ones, and the default pipeline's stage totals in the
    -- same pass (crm.pipeline_totals, as crm.pipeline_summary has them)
    SELECT jsonb_build_object(
               'open_opportunities', count(*) FILTER (WHERE o.closed_at IS NULL),
               'pipeline_value', coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0),
               'weighted_pipeline_value', round(coalesce(sum(o.amount * o.probability) FILTER (WHERE o.closed_at IS NULL), 0) / 100, 2),
               'win_rate', round(100.0 * count(*) FILTER (WHERE s.is_won) / nullif(count(*) FILTER (WHERE s.is_won OR s.is_lost), 0), 2),
               'average_deal_size', round(avg(o.amount) FILTER (WHERE s.is_won), 2),
               'sales_cycle_days', round((avg(extract(epoch FROM o.closed_at - o.created_at)) FILTER (WHERE s.is_won) / 86400)::numeric, 1)),
           crm.pipeline_totals(o.stage_id, o.amount, o.probability, NULL) FILTER (WHERE o.pipeline_id = default_pipeline)
      INTO deals, stage_totals
      FROM crm.opportunities o
      JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
     WHERE o.tenant_id = t AND (who IS NULL OR o.owner_id = who);

    SELECT jsonb_build_object(
               'total_leads', coalesce(sum(x.n), 0),
               'conversion_rate', round(100.0 * sum(x.converted) / nullif(sum(x.n), 0), 2),
               'leads_by_source', coalesce(jsonb_object_agg(x.source, x.n), '{}'))
      INTO leads
      FROM (SELECT l.source::text AS source, count(*) AS n, count(*) FILTER (WHERE l.status = 'converted') AS converted
              FROM crm.leads l WHERE l.tenant_id = t AND (who IS NULL OR l.owner_id = who)
             GROUP BY l.source) x;

    RETURN jsonb_build_object(
        'total_customers', (SELECT count(*) FROM crm.accounts a
                             WHERE a.tenant_id = t AND a.lifecycle_stage = 'customer' AND (who IS NULL OR a.owner_id = who)),
        'total_leads', leads->'total_leads',
        'open_opportunities', deals->'open_opportunities',
        'pipeline_value', deals->'pipeline_value',
        'weighted_pipeline_value', deals->'weighted_pipeline_value',
        'conversion_rate', leads->'conversion_rate',
        'win_rate', deals->'win_rate',
        'average_deal_size', deals->'average_deal_size',
        'sales_cycle_days', deals->'sales_cycle_days',
        'recent_interactions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'type', v.type, 'subject', v.subject,
                                                                              'occurred_at', v.occurred_at, 'outcome', v.outcome,
                                                                              'account_id', v.account_id, 'contact_id', v.contact_id,
                                                                              'lead_id', v.lead_id, 'opportunity_id', v.opportunity_id,
                                                                              'owner_id', v.owner_id)
                                                           ORDER BY v.occurred_at DESC, v.id DESC), '[]')
                                  FROM (SELECT a.* FROM crm.activities a
                                         WHERE a.tenant_id = t AND (who IS NULL OR a.owner_id = who)
                                         ORDER BY a.occurred_at DESC, a.id DESC LIMIT 10) v),
        'top_opportunities', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'name', o.name, 'amount', o.amount,
                                                                            'currency', o.currency, 'stage', s.name,
                                                                            'probability', o.probability,
                                                                            'expected_close_date', o.expected_close_date,
                                                                            'account_id', o.account_id, 'owner_id', o.owner_id)
                                                         ORDER BY o.amount DESC, o.id), '[]')
                                FROM (SELECT x.* FROM crm.opportunities x
                                       WHERE x.tenant_id = t AND x.closed_at IS NULL AND (who IS NULL OR x.owner_id = who)
                                       ORDER BY x.amount DESC, x.id LIMIT 5) o
                                JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id),
        'stage_pipeline', (SELECT coalesce(jsonb_agg(jsonb_build_object('stage', s.name, 'position', s.position,
                                                                         'deal_count', coalesce(x.deal_count, 0),
                                                                         'amount', coalesce(x.amount, 0.00),
                                                                         'weighted_amount', coalesce(x.weighted_amount, 0.00))
                                                      ORDER BY s.position), '[]')
                             FROM crm.pipeline_stages s LEFT JOIN unnest(stage_totals) x ON x.stage_id = s.id
                            WHERE s.tenant_id = t AND s.pipeline_id = default_pipeline),
        'leads_by_source', leads->'leads_by_source',
        'at_risk_accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'name', a.name, 'health_score', a.score,
                                                                           'health_trend', a.trend, 'owner_id', a.owner_id)
                                                        ORDER BY a.score, a.id), '[]')
                               FROM (SELECT x.id, x.name, x.owner_id, l.score, l.trend
                                       FROM crm.account_health_latest l JOIN crm.accounts x ON x.tenant_id = t AND x.id = l.account_id
                                      WHERE l.tenant_id = t AND l.band = 'red' AND (who IS NULL OR x.owner_id = who)
                                      ORDER BY l.score, x.id LIMIT 10) a),
        'at_risk_count', (SELECT count(*) FROM crm.account_health_latest l JOIN crm.accounts a ON a.tenant_id = t AND a.id = l.account_id
                           WHERE l.tenant_id = t AND l.band = 'red' AND (who IS NULL OR a.owner_id = who)));
END
$$;
COMMENT ON FUNCTION crm.dashboard(uuid) IS 'The CRM''s home page in one call, over the records the caller reads (of one owner when given): total_customers (accounts at lifecycle stage customer), total_leads, open_opportunities, pipeline_value and weighted_pipeline_value (open deals'' amounts, and x probability / 100), conversion_rate (converted leads, percent), win_rate (won / closed deals, percent), average_deal_size and sales_cycle_days (won deals, created to closed), recent_interactions (the last 10 activities), top_opportunities (the 5 largest open deals with stage and probability), stage_pipeline (the default pipeline''s amount per stage), leads_by_source, at_risk_accounts (the 10 lowest-scored accounts in the red health band) and at_risk_count. Amounts are summed as they are, whatever their currency. PT404 for an unknown owner.';

CREATE FUNCTION crm_api.dashboard(owner_id uuid DEFAULT NULL) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.dashboard(owner_id)
$$;
COMMENT ON FUNCTION crm_api.dashboard(uuid) IS 'The dashboard figures (GET /rpc/dashboard, or ?owner_id=... for one rep). 404 for an unknown owner.';
REVOKE EXECUTE ON FUNCTION crm_api.dashboard(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.dashboard(uuid) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.dashboard(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.dashboard(uuid) TO crm_rep;
