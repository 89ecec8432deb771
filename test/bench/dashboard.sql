-- dashboard.sql: crm.dashboard() for one tenant of the bench's (100 by default) with 1M leads (the bench
-- data), DASHBOARD_OPPORTUNITIES opportunities (default 1 000 000) and DASHBOARD_ACTIVITIES activities
-- (default 5 000 000) spread over the tenants, as a manager of that tenant (row-level security on):
-- target a median of at most 50 ms. The alternative is the same dashboard as one plain SQL statement,
-- as an application would send it; both give the same JSON (checked first). Issue 6.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?dashboard_opportunities}
\else
\set dashboard_opportunities 1000000
\endif
\if :{?dashboard_activities}
\else
\set dashboard_activities 5000000
\endif
SELECT count(*) AS tenants FROM crm.tenants WHERE name LIKE 'Bench tenant %' \gset
SELECT md5('crm bench:tenant:1')::uuid AS dt,
       (SELECT u.id FROM crm.users u WHERE u.tenant_id = md5('crm bench:tenant:1')::uuid AND u.role = 'manager' ORDER BY u.id LIMIT 1) AS dm \gset
-- the dashboard's viewer must be an active user (the generated ones of tenant 1 all happen to be inactive)
UPDATE crm.users SET active = true WHERE tenant_id = :'dt' AND id = :'dm' AND NOT active;
SELECT NOT EXISTS (SELECT 1 FROM crm.activities WHERE tenant_id = :'dt') AS need_data \gset
\if :need_data
SET session_replication_role = replica;
-- accounts (numbered from 0, account k in tenant 1 + k % tenants): 1 in 3 a customer, 1 in 10 in the red
-- health band
\set dashboard_accounts (:dashboard_opportunities / 10 / :tenants * :tenants)
INSERT INTO crm.accounts (tenant_id, id, name, lifecycle_stage, owner_id)
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid, md5('crm bench:dashboard:account:' || n)::uuid, 'Account ' || n,
       (ARRAY['lead', 'prospect', 'customer'])[1 + n % 3]::crm.lifecycle_stage, md5('crm bench:user:' || (1 + n % :tenants))::uuid
FROM generate_series(0, :dashboard_accounts - 1) n;
INSERT INTO crm.account_health_latest (tenant_id, account_id, scored_on, score, band, trend)
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid, md5('crm bench:dashboard:account:' || n)::uuid, current_date,
       CASE WHEN n % 10 = 0 THEN n % 50 ELSE 50 + n % 50 END, CASE WHEN n % 10 = 0 THEN 'red' WHEN n % 50 >= 25 THEN 'green' ELSE 'yellow' END,
       'stable'
FROM generate_series(0, :dashboard_accounts - 1) n;
-- opportunities over the six stages of each tenant's default pipeline, a third of them closed
INSERT INTO crm.opportunities (tenant_id, name, pipeline_id, stage_id, amount, currency, probability, forecast_category, closed_at,
                               stage_changed_at, lost_reason, owner_id, created_at, expected_close_date)
SELECT g.tenant_id, 'Deal ' || g.n, s.pipeline_id, s.id, 100 * (1 + (g.n * 7919) % 5000), 'USD', s.probability, s.forecast_category,
       CASE WHEN s.is_won OR s.is_lost THEN now() - ((g.n * 31) % 360) * interval '1 day' END,
       now() - ((g.n * 17) % 120) * interval '1 day', CASE WHEN s.is_lost THEN 'price' END, g.owner_id,
       now() - (400 + (g.n * 31) % 360) * interval '1 day', current_date + (g.n % 200)::int
FROM (SELECT n::bigint AS n, md5('crm bench:tenant:' || (1 + n % :tenants))::uuid AS tenant_id,
             md5('crm bench:user:' || (1 + n % :tenants))::uuid AS owner_id
        FROM generate_series(1, :dashboard_opportunities) n) g
JOIN crm.pipeline_stages s ON s.tenant_id = g.tenant_id AND s.position = (g.n * 7) % 6
JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default;
-- activities over the last two years, each with an account of its tenant (n % accounts is in the
-- same tenant as n, the accounts being a multiple of the tenants)
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, account_id, owner_id)
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid, (ARRAY['call', 'email', 'meeting', 'note']::crm.activity_type[])[1 + n % 4],
       'Activity ' || n, now() - ((n::bigint * 7919) % (730 * 24 * 60)) * interval '1 minute',
       md5('crm bench:dashboard:account:' || (n % :dashboard_accounts))::uuid, md5('crm bench:user:' || (1 + n % :tenants))::uuid
FROM generate_series(1, :dashboard_activities) n;
RESET session_replication_role;
VACUUM ANALYZE crm.accounts;
VACUUM ANALYZE crm.account_health_latest;
VACUUM ANALYZE crm.opportunities;
VACUUM ANALYZE crm.activities;
\endif

-- the same dashboard as one plain SQL statement
CREATE OR REPLACE FUNCTION bench.dashboard_sql(t uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH deals AS (
        SELECT count(*) FILTER (WHERE o.closed_at IS NULL) AS open_n, coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0) AS open_amount,
               round(coalesce(sum(o.amount * o.probability) FILTER (WHERE o.closed_at IS NULL), 0) / 100, 2) AS weighted,
               round(100.0 * count(*) FILTER (WHERE s.is_won) / nullif(count(*) FILTER (WHERE s.is_won OR s.is_lost), 0), 2) AS win_rate,
               round(avg(o.amount) FILTER (WHERE s.is_won), 2) AS deal_size,
               round((avg(extract(epoch FROM o.closed_at - o.created_at)) FILTER (WHERE s.is_won) / 86400)::numeric, 1) AS cycle
          FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
         WHERE o.tenant_id = t),
    leads AS (SELECT l.source::text AS source, count(*) AS n, count(*) FILTER (WHERE l.status = 'converted') AS converted
                FROM crm.leads l WHERE l.tenant_id = t GROUP BY l.source),
    stages AS (SELECT s.name, s.position, count(o.id) AS n, coalesce(sum(o.amount), 0.00) AS amount,
                      coalesce(sum(o.amount * o.probability / 100), 0) AS weighted
                 FROM crm.pipeline_stages s JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default
                 LEFT JOIN crm.opportunities o ON o.tenant_id = s.tenant_id AND o.stage_id = s.id
                WHERE s.tenant_id = t GROUP BY s.id, s.name, s.position)
    SELECT jsonb_build_object(
        'total_customers', (SELECT count(*) FROM crm.accounts a WHERE a.tenant_id = t AND a.lifecycle_stage = 'customer'),
        'total_leads', (SELECT coalesce(sum(n), 0) FROM leads),
        'open_opportunities', d.open_n, 'pipeline_value', d.open_amount, 'weighted_pipeline_value', d.weighted,
        'conversion_rate', (SELECT round(100.0 * sum(converted) / nullif(sum(n), 0), 2) FROM leads),
        'win_rate', d.win_rate, 'average_deal_size', d.deal_size, 'sales_cycle_days', d.cycle,
        'recent_interactions', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'type', v.type, 'subject', v.subject, 'occurred_at', v.occurred_at,
                                                                              'outcome', v.outcome, 'account_id', v.account_id, 'contact_id', v.contact_id,
                                                                              'lead_id', v.lead_id, 'opportunity_id', v.opportunity_id, 'owner_id', v.owner_id)
                                                           ORDER BY v.occurred_at DESC, v.id DESC), '[]')
                                  FROM (SELECT * FROM crm.activities a WHERE a.tenant_id = t ORDER BY a.occurred_at DESC, a.id DESC LIMIT 10) v),
        'top_opportunities', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'name', o.name, 'amount', o.amount, 'currency', o.currency,
                                                                            'stage', s.name, 'probability', o.probability,
                                                                            'expected_close_date', o.expected_close_date, 'account_id', o.account_id,
                                                                            'owner_id', o.owner_id) ORDER BY o.amount DESC, o.id), '[]')
                                FROM (SELECT * FROM crm.opportunities x WHERE x.tenant_id = t AND x.closed_at IS NULL ORDER BY x.amount DESC, x.id LIMIT 5) o
                                JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id),
        'stage_pipeline', (SELECT jsonb_agg(jsonb_build_object('stage', x.name, 'position', x.position, 'deal_count', x.n, 'amount', x.amount,
                                                               'weighted_amount', round(x.weighted, greatest(2, scale(trim_scale(x.weighted)))))
                                            ORDER BY x.position) FROM stages x),
        'leads_by_source', (SELECT coalesce(jsonb_object_agg(source, n), '{}') FROM leads),
        'at_risk_accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'name', a.name, 'health_score', a.score,
                                                                           'health_trend', a.trend, 'owner_id', a.owner_id)
                                                        ORDER BY a.score, a.id), '[]')
                               FROM (SELECT x.id, x.name, x.owner_id, l.score, l.trend
                                       FROM crm.account_health_latest l JOIN crm.accounts x ON x.tenant_id = t AND x.id = l.account_id
                                      WHERE l.tenant_id = t AND l.band = 'red' ORDER BY l.score, x.id LIMIT 10) a),
        'at_risk_count', (SELECT count(*) FROM crm.account_health_latest l WHERE l.tenant_id = t AND l.band = 'red'))
    FROM deals d
$$;

GRANT USAGE ON SCHEMA bench TO crm_rep;
SELECT format('SELECT set_config(''role'', ''crm_manager'', true), crm.set_context(%L, %L)', :'dt', :'dm') AS as_manager \gset
SELECT bench.same_answer('dashboard', 'SELECT crm.dashboard()', :'as_manager', format('SELECT bench.dashboard_sql(%L)', :'dt'), :'as_manager');
SELECT bench.compare(format('dashboard, 1 tenant of %s (%s leads, %s deals, %s activities)', :tenants, (SELECT count(*) FROM crm.leads),
                            (SELECT count(*) FROM crm.opportunities), (SELECT count(*) FROM crm.activities)),
    'crm.dashboard()', 'SELECT crm.dashboard()', :'as_manager',
    'one plain SQL statement', format('SELECT bench.dashboard_sql(%L)', :'dt'), :'as_manager',
    'median <= 50 ms', 21, 3);
