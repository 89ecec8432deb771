-- forecast.sql (pgTAP): quotas, crm.forecast by quarter and month, in total, per owner and per team,
-- on the hand-computed sales history of lib/sales.psql; snapshots; who may do what; bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(24);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT results_eq($$SELECT * FROM crm.forecast('quarter', '2025-01-15', 2)$$,
    $$VALUES ('2025-01-01'::date, '2025-03-31'::date, NULL::text, 5350.00::numeric, 0::numeric, 1000.00::numeric, 200.00::numeric, 5870.00::numeric, 10000.00::numeric, 53.50::numeric),
             ('2025-04-01', '2025-06-30', NULL, 1500.00, 333.33, 0, 0, 1750.00, 5000.00, 30.00)$$,
    'two quarters in total: won by close day, open deals by category, omitted ones left out, weighted = won + amount x probability; the users'' quotas, else the team''s');
SELECT results_eq($$SELECT period_start, group_key, closed_won, best_case, weighted, quota, attainment FROM crm.forecast('quarter', '2025-01-15', 2, 'owner')$$,
    $$VALUES ('2025-01-01'::date, 'a0000000-0000-7000-8000-0000000000a2'::text, 0::numeric, 0::numeric, 0.00::numeric, 2000.00::numeric, 0.00::numeric),
             ('2025-01-01', 'a0000000-0000-7000-8000-0000000000a3', 5350.00, 1000.00, 5870.00, 8000.00, 66.88),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000a2', 1500.00, 0, 1750.00, NULL, NULL),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000a3', 0, 0, 0.00, NULL, NULL)$$,
    'per owner: every owner in every period, with its own quota');
SELECT results_eq($$SELECT period_start, group_key, closed_won, quota, attainment FROM crm.forecast('quarter', '2025-01-15', 2, 'team')$$,
    $$VALUES ('2025-01-01'::date, 'a0000000-0000-7000-8000-0000000000f1'::text, 5350.00::numeric, 10000.00::numeric, 53.50::numeric),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000f1', 1500.00, 5000.00, 30.00)$$,
    'per team: its members'' quotas without a team quota, its own with one');
SELECT results_eq($$SELECT period_start, period_end, closed_won, best_case, pipeline, weighted, quota FROM crm.forecast('month', '2025-01-01', 3)$$,
    $$VALUES ('2025-01-01'::date, '2025-01-31'::date, 5000.00::numeric, 0::numeric, 0::numeric, 5000.00::numeric, NULL::numeric),
             ('2025-02-01', '2025-02-28', 0, 1000.00, 0, 500.00, NULL),
             ('2025-03-01', '2025-03-31', 350.00, 0, 200.00, 370.00, NULL)$$,
    'by month: no monthly quota');
SELECT is((SELECT count(*) FROM crm.forecast()), 4::bigint, 'the defaults: four quarters from today''s');
SELECT is((SELECT min(period_start) FROM crm.forecast()), date_trunc('quarter', current_date)::date, '    starting with the current one');
SELECT is((SELECT sum(closed_won + commit + best_case + pipeline) FROM crm.forecast('quarter', '2030-01-01', 1)), 0::numeric,
    'a quarter without deals: zeros');
SELECT throws_ok($$SELECT * FROM crm.forecast('week')$$, '22023', 'period must be month or quarter, not ''week''', 'a bad period: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(periods => 0)$$, '22023', NULL, 'periods 0: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(periods => 61)$$, '22023', NULL, 'periods 61: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(group_by => 'region')$$, '22023', NULL, 'a bad group_by: 22023');

-- quotas: managers set them, reps read them
SELECT lives_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-01', 3000)$$,
    'a manager sets a monthly quota');
SELECT is((SELECT quota FROM crm.forecast('month', '2025-01-01', 1)), 3000.00, '    and the forecast by month shows it');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-15', 1)$$,
    '23514', NULL, 'a quota starts on the first day of its period');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, team_id, period, period_start, amount)
                   VALUES ('a0000000-0000-7000-8000-0000000000a3', 'a0000000-0000-7000-8000-0000000000f1', 'month', '2025-02-01', 1)$$,
    '23514', NULL, 'a quota is a user''s or a team''s, not both');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-01', 1)$$,
    '23505', NULL, 'one quota per user and period');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((SELECT count(*) FROM crm_api.quotas), 5::bigint, 'a rep reads the tenant''s quotas');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-02-01', 1)$$,
    '42501', NULL, '    but sets none');
SELECT throws_ok($$SELECT crm.snapshot_forecast()$$, '42501', NULL, 'a rep takes no snapshot');
RESET ROLE;

-- snapshots: in total, per owner and per team; again the same day replaces them
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((crm.snapshot_forecast('quarter', 2)->>'changed')::bigint, (SELECT count(*) FROM crm.forecast('quarter', current_date, 2))
                                             + (SELECT count(*) FROM crm.forecast('quarter', current_date, 2, 'owner'))
                                             + (SELECT count(*) FROM crm.forecast('quarter', current_date, 2, 'team')),
    'a snapshot stores the forecast in total, per owner and per team');
SELECT is((crm.snapshot_forecast('quarter', 2)->>'changed')::bigint, (SELECT count(*) FROM crm.forecast_snapshots WHERE taken_on = current_date),
    'taken again the same day: replaced, not added');
SELECT results_eq($$SELECT closed_won, commit, best_case, pipeline, weighted, quota FROM crm.forecast_snapshots
                     WHERE taken_on = current_date AND group_by = 'total' ORDER BY period_start$$,
    $$SELECT closed_won, commit, best_case, pipeline, weighted, quota FROM crm.forecast('quarter', current_date, 2)$$,
    'the stored totals are the forecast''s');
SELECT is((SELECT count(*) FROM crm.job_runs WHERE job = 'snapshot_forecast'), 2::bigint, 'each run is logged');
RESET ROLE;
-- the operator, without a context, snapshots every tenant
SELECT crm.set_context(NULL, NULL) \g /dev/null
SELECT crm.snapshot_forecast()->>'changed' AS everyone \gset
SELECT is((SELECT count(*) FROM crm.forecast_snapshots WHERE taken_on = current_date GROUP BY tenant_id HAVING tenant_id = 'b0000000-0000-7000-8000-00000000000b'),
    :'everyone'::bigint / 2, 'the scheduler''s run (no context) takes every tenant''s snapshot (here, two tenants with the same groups)');

SELECT * FROM finish();
ROLLBACK;
