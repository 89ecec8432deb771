-- analytics.sql (pgTAP, PostgREST replay): pipeline, metrics, forecast, lead sources, attribution and
-- the dashboard over HTTP (GET, so in READ ONLY transactions), campaigns and quotas as resources, and
-- the HTTP status of each refusal, on the sales history of lib/sales.psql.
\ir ../lib/preamble.psql

BEGIN;
\ir replay.psql
SELECT plan(18);
SET LOCAL timezone = 'UTC';
\ir ../lib/two_tenants.psql
\ir ../lib/sales.psql

SELECT is((SELECT body->2 FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'pipeline_summary', '{}', 'GET')),
    '{"stage": "proposal", "position": 2, "deal_count": 2, "amount": 1000.01, "weighted_amount": 500.0033, "probability": 50, "avg_days_in_stage": 5.0}'::jsonb,
    'GET /rpc/pipeline_summary: the default pipeline, stage by stage');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'pipeline_summary',
    '{"pipeline_id": "a0000000-0000-7000-8000-00000000dead"}', 'GET')), 404, '    an unknown pipeline: 404');
SELECT is((SELECT body->'win_rate' FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'sales_metrics',
    '{"from_date": "2025-01-01", "to_date": "2025-03-31"}', 'GET')), '75.00'::jsonb, 'GET /rpc/sales_metrics: the win rate of Q1 2025');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'sales_metrics',
    '{"from_date": "2025-03-31", "to_date": "2025-01-01"}', 'GET')), 400, '    reversed dates: 400');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'forecast',
    '{"period": "quarter", "starting": "2025-01-15", "periods": 1}', 'GET')),
    jsonb_build_array(
      jsonb_build_object('bucket', 'overdue', 'period_start', NULL, 'period_end', current_date - 1, 'group_key', NULL, 'closed_won', 0,
                         'commit', 333.33, 'best_case', 1000.00, 'pipeline', 200.00, 'omitted', 0.01, 'weighted', 770.00, 'quota', NULL, 'attainment', NULL),
      '{"bucket": "period", "period_start": "2025-01-01", "period_end": "2025-03-31", "group_key": null, "closed_won": 5350.00, "commit": 0,
        "best_case": 0, "pipeline": 0, "omitted": 0, "weighted": 5350.00, "quota": 10000.00, "attainment": 53.50}'::jsonb,
      jsonb_build_object('bucket', 'later', 'period_start', current_date, 'period_end', NULL, 'group_key', NULL, 'closed_won', 0,
                         'commit', 0, 'best_case', 0, 'pipeline', 0, 'omitted', 0, 'weighted', 0.00, 'quota', NULL, 'attainment', NULL),
      '{"bucket": "no_close_date", "period_start": null, "period_end": null, "group_key": null, "closed_won": 0, "commit": 0,
        "best_case": 0, "pipeline": 0, "omitted": 0, "weighted": 0.00, "quota": null, "attainment": null}'::jsonb),
    'GET /rpc/forecast: the quarter, and the overdue (all of the open deals of 2025), later and no_close_date rows');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'forecast', '{"period": "week"}', 'GET')), 400,
    '    a bad period: 400');
SELECT is((SELECT jsonb_array_length(body) FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'lead_source_analytics',
    '{"from_date": "2025-01-01", "to_date": "2025-03-31"}', 'GET')), 3, 'GET /rpc/lead_source_analytics: three sources');
SELECT is((SELECT jsonb_path_query_array(body, '$[*].credit') FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'revenue_attribution',
    '{"from_date": "2025-01-01", "to_date": "2025-01-31", "model": "position_based"}', 'GET')), '[2000.00, 500.00, 500.00, 2000.00]'::jsonb,
    'GET /rpc/revenue_attribution: position based');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'revenue_attribution',
    '{"from_date": "2025-01-01", "to_date": "2025-01-31", "model": "w_shaped"}', 'GET')), 400, '    an unknown model: 400');
SELECT is((SELECT body->'open_opportunities' FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'dashboard', '{}', 'GET')),
    '4'::jsonb, 'GET /rpc/dashboard');
SELECT is((SELECT body->'total_leads' FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'dashboard', '{}', 'GET')),
    '1'::jsonb, '    as B: B''s figures');

-- campaigns, quotas and snapshots as resources
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'campaigns', '')), 1::bigint,
    'GET /campaigns as B: B''s campaign only');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'campaigns',
    '{"name": "Spring mail", "type": "email", "budget": 1000}')), 201, 'POST /campaigns: 201');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'quotas',
    '{"user_id": "a0000000-0000-7000-8000-0000000000a3", "period": "month", "period_start": "2025-05-01", "amount": 100}')), 403,
    'POST /quotas as a rep: 403');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'quotas',
    '{"user_id": "a0000000-0000-7000-8000-0000000000a3", "period": "month", "period_start": "2025-05-01", "amount": 100}')), 201,
    '    as a manager: 201');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'snapshot_forecast')), 403,
    'POST /rpc/snapshot_forecast as a rep: 403');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'snapshot_forecast')), 200,
    '    as a manager: 200');
SELECT is((SELECT status FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'forecast_snapshots', '')), 403,
    'GET /forecast_snapshots as a rep: 403 (managers read them)');

SELECT * FROM finish();
ROLLBACK;
