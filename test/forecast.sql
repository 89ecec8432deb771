-- forecast.sql (pgTAP): quotas, crm.forecast by quarter and month, in total, per owner and per team,
-- on the hand-computed sales history of lib/sales.psql; snapshots; who may do what; bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(38);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
-- the open deals of lib/sales.psql are expected to close in 2025: today they are overdue
SELECT results_eq($$SELECT * FROM crm.forecast('quarter', '2025-01-15', 2)$$,
    $$VALUES ('overdue'::text, NULL::date, current_date - 1, NULL::text, 0::numeric, 333.33::numeric, 1000.00::numeric, 200.00::numeric, 0.01::numeric, 770.00::numeric, NULL::numeric, NULL::numeric),
             ('period', '2025-01-01', '2025-03-31', NULL, 5350.00, 0, 0, 0, 0, 5350.00, 10000.00, 53.50),
             ('period', '2025-04-01', '2025-06-30', NULL, 1500.00, 0, 0, 0, 0, 1500.00, 5000.00, 30.00),
             ('later', current_date, NULL, NULL, 0, 0, 0, 0, 0, 0.00, NULL, NULL),
             ('no_close_date', NULL, NULL, NULL, 0, 0, 0, 0, 0, 0.00, NULL, NULL)$$,
    'two quarters in total: won by close day; open deals whose close date has passed in the overdue row, by category (omitted apart, not weighted); weighted = won + amount x probability; the users'' quotas, else the team''s');
SELECT results_eq($$SELECT period_start, group_key, closed_won, best_case, weighted, quota, attainment FROM crm.forecast('quarter', '2025-01-15', 2, 'owner') WHERE bucket = 'period'$$,
    $$VALUES ('2025-01-01'::date, 'a0000000-0000-7000-8000-0000000000a2'::text, 0::numeric, 0::numeric, 0.00::numeric, 2000.00::numeric, 0.00::numeric),
             ('2025-01-01', 'a0000000-0000-7000-8000-0000000000a3', 5350.00, 0, 5350.00, 8000.00, 66.88),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000a2', 1500.00, 0, 1500.00, NULL, NULL),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000a3', 0, 0, 0.00, NULL, NULL)$$,
    'per owner: every owner in every period, with its own quota');
SELECT results_eq($$SELECT bucket, group_key, commit, best_case, pipeline, omitted FROM crm.forecast('quarter', '2025-01-15', 2, 'owner') WHERE bucket = 'overdue'$$,
    $$VALUES ('overdue'::text, 'a0000000-0000-7000-8000-0000000000a2'::text, 333.33::numeric, 0::numeric, 0::numeric, 0.01::numeric),
             ('overdue', 'a0000000-0000-7000-8000-0000000000a3', 0, 1000.00, 200.00, 0)$$,
    '    and its overdue deals');
SELECT results_eq($$SELECT period_start, group_key, closed_won, quota, attainment FROM crm.forecast('quarter', '2025-01-15', 2, 'team') WHERE bucket = 'period'$$,
    $$VALUES ('2025-01-01'::date, 'a0000000-0000-7000-8000-0000000000f1'::text, 5350.00::numeric, 10000.00::numeric, 53.50::numeric),
             ('2025-04-01', 'a0000000-0000-7000-8000-0000000000f1', 1500.00, 5000.00, 30.00)$$,
    'per team: its members'' quotas without a team quota, its own with one');
SELECT results_eq($$SELECT period_start, period_end, closed_won, best_case, pipeline, weighted, quota FROM crm.forecast('month', '2025-01-01', 3) WHERE bucket = 'period'$$,
    $$VALUES ('2025-01-01'::date, '2025-01-31'::date, 5000.00::numeric, 0::numeric, 0::numeric, 5000.00::numeric, NULL::numeric),
             ('2025-02-01', '2025-02-28', 0, 0, 0, 0.00, NULL),
             ('2025-03-01', '2025-03-31', 350.00, 0, 0, 350.00, NULL)$$,
    'by month: no monthly quota');
SELECT is(ARRAY(SELECT bucket FROM crm.forecast()), '{overdue,period,period,period,period,later,no_close_date}'::text[],
    'the defaults: four quarters from today''s, between the overdue row and the later and no_close_date ones');
SELECT is((SELECT min(period_start) FROM crm.forecast() WHERE bucket = 'period'), date_trunc('quarter', current_date)::date, '    starting with the current one');
SELECT is((SELECT sum(closed_won + commit + best_case + pipeline + omitted) FROM crm.forecast('quarter', '2030-01-01', 1) WHERE bucket = 'period'), 0::numeric,
    'a quarter without deals: zeros');
SELECT throws_ok($$SELECT * FROM crm.forecast('week')$$, '22023', 'period must be month or quarter, not ''week''', 'a bad period: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(periods => 0)$$, '22023', NULL, 'periods 0: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(periods => 61)$$, '22023', NULL, 'periods 61: 22023');
SELECT throws_ok($$SELECT * FROM crm.forecast(group_by => 'region')$$, '22023', NULL, 'a bad group_by: 22023');


-- deals around today: one expected today (this quarter, not overdue), one next quarter, one in three
-- years (later), two without a close date, of owners in two teams and without one
RESET ROLE;
INSERT INTO crm.teams (tenant_id, id, name) VALUES ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000f2', 'Acme West');
INSERT INTO crm.users (tenant_id, id, email, name, role, team_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a4', 'wes@acme.test', 'Wes West', 'rep', 'a0000000-0000-7000-8000-0000000000f2');
INSERT INTO crm.opportunities (tenant_id, id, name, stage_id, amount, currency, forecast_category, expected_close_date, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', v.id::uuid, v.name,
       (SELECT s.id FROM crm.pipeline_stages s WHERE s.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND s.name = v.stage),
       v.amount, 'USD', v.category::crm.forecast_category, v.close_on, v.owner::uuid
FROM (VALUES
    ('a0000000-0000-7000-8000-000000000ef1', 'Today', 'proposal', 300.00, NULL, current_date, 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-000000000ef2', 'Next quarter', 'negotiation', 400.00, NULL, (date_trunc('quarter', current_date) + interval '3 months 10 days')::date, 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-000000000ef3', 'In three years', 'prospecting', 800.00, NULL, current_date + 3 * 365, 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-000000000ef4', 'Undated', 'qualification', 50.00, NULL, NULL, 'a0000000-0000-7000-8000-0000000000a4'),
    ('a0000000-0000-7000-8000-000000000ef5', 'Undated, left out', 'proposal', 70.00, 'omitted', NULL, 'a0000000-0000-7000-8000-0000000000a1')
) v(id, name, stage, amount, category, close_on, owner);
-- (on Citus committed, as the fixture is: lib/two_tenants.psql says why)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT results_eq($$SELECT bucket, period_start, period_end, closed_won, commit, best_case, pipeline, omitted, weighted, quota FROM crm.forecast('quarter', current_date, 2)$$,
    $$VALUES ('overdue'::text, NULL::date, current_date - 1, 0::numeric, 333.33::numeric, 1000.00::numeric, 200.00::numeric, 0.01::numeric, 770.00::numeric, NULL::numeric),
             ('period', date_trunc('quarter', current_date)::date, (date_trunc('quarter', current_date) + interval '3 months - 1 day')::date, 0, 0, 300.00, 0, 0, 150.00, 50000.00),
             ('period', (date_trunc('quarter', current_date) + interval '3 months')::date, (date_trunc('quarter', current_date) + interval '6 months - 1 day')::date, 0, 400.00, 0, 0, 0, 300.00, NULL),
             ('later', (date_trunc('quarter', current_date) + interval '6 months')::date, NULL, 0, 0, 0, 800.00, 0, 80.00, NULL),
             ('no_close_date', NULL, NULL, 0, 0, 0, 50.00, 70.00, 12.50, NULL)$$,
    'every open deal once: overdue, in the period of its close date (today''s is not overdue), later, or without a close date');
SELECT results_eq($$SELECT bucket, period_start, period_end, commit, best_case FROM crm.forecast('quarter', current_date + 366, 1) WHERE bucket IN ('earlier', 'period')$$,
    $$VALUES ('earlier'::text, current_date, (date_trunc('quarter', current_date + 366) - interval '1 day')::date, 400.00::numeric, 300.00::numeric),
             ('period', date_trunc('quarter', current_date + 366)::date, (date_trunc('quarter', current_date + 366) + interval '3 months - 1 day')::date, 0, 0)$$,
    'periods that start after today: the deals expected from today to then are in an earlier row');
SELECT is(ARRAY(SELECT DISTINCT bucket FROM crm.forecast('quarter', current_date, 1) WHERE bucket = 'earlier'), '{}'::text[], '    which starts later is not listed otherwise');

-- the identity: the open columns of all rows add up to the open pipeline, in total, per owner and per
-- team, for any periods
SELECT results_eq($$SELECT x.period, x.starting, x.periods,
                           (SELECT sum(f.commit + f.best_case + f.pipeline + f.omitted) FROM crm.forecast(x.period, x.starting, x.periods) f)
                      FROM (VALUES ('quarter', current_date, 4), ('month', '2025-01-01'::date, 3), ('quarter', current_date + 366, 1),
                                   ('month', current_date - 800, 60)) x(period, starting, periods)$$,
    $$SELECT x.period, x.starting, x.periods, (crm.dashboard()->>'pipeline_value')::numeric
        FROM (VALUES ('quarter', current_date, 4), ('month', '2025-01-01'::date, 3), ('quarter', current_date + 366, 1),
                     ('month', current_date - 800, 60)) x(period, starting, periods)$$,
    'in total, for several periods: the open columns add up to the dashboard''s pipeline_value');
SELECT is((crm.dashboard()->>'pipeline_value')::numeric, 3153.34, '    (1533.34 of lib/sales.psql and 1620.00 of these five deals)');
SELECT results_eq($$SELECT u.id::text, coalesce((SELECT sum(f.commit + f.best_case + f.pipeline + f.omitted) FROM crm.forecast('quarter', current_date, 2, 'owner') f
                                                  WHERE f.group_key = u.id::text), 0)
                      FROM crm.users u ORDER BY u.id$$,
    $$SELECT u.id::text, (crm.dashboard(u.id)->>'pipeline_value')::numeric FROM crm.users u ORDER BY u.id$$,
    'per owner (four, with and without a team): the open pipeline of the owner''s dashboard');
SELECT results_eq($$SELECT g.id::text, coalesce((SELECT sum(f.commit + f.best_case + f.pipeline + f.omitted) FROM crm.forecast('month', '2025-01-01', 2, 'team') f
                                                  WHERE f.group_key = g.id::text), 0)
                      FROM crm.teams g ORDER BY g.id$$,
    $$SELECT g.id::text, (crm.sales_metrics(current_date, current_date, team_id => g.id)->>'open_amount')::numeric FROM crm.teams g ORDER BY g.id$$,
    'per team (two): the open_amount of the team''s sales_metrics');
SELECT is((SELECT sum(f.commit + f.best_case + f.pipeline + f.omitted) FROM crm.forecast('quarter', current_date, 2, 'team') f),
    (crm.sales_metrics(current_date, current_date)->>'open_amount')::numeric, '    the teams and the owners without one add up to the total');

-- a reopened deal no longer counts as won
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ef1', 'closed_won')$$, 'the deal expected today is won');
SELECT results_eq($$SELECT closed_won, best_case, weighted FROM crm.forecast('quarter', current_date, 1) WHERE bucket = 'period'$$,
    $$VALUES (300.00::numeric, 0::numeric, 300.00::numeric)$$, '    and counts as won this quarter');
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ef1', 'proposal', 'signature withdrawn')$$, 'it is reopened');
SELECT results_eq($$SELECT closed_won, best_case, weighted FROM crm.forecast('quarter', current_date, 1) WHERE bucket = 'period'$$,
    $$VALUES (0::numeric, 300.00::numeric, 150.00::numeric)$$, '    and counts as open again, not won');

-- quotas: managers set them, reps read them
SELECT lives_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-01', 3000)$$,
    'a manager sets a monthly quota');
SELECT is((SELECT quota FROM crm.forecast('month', '2025-01-01', 1) WHERE bucket = 'period'), 3000.00, '    and the forecast by month shows it');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-15', 1)$$,
    '23514', NULL, 'a quota starts on the first day of its period');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, team_id, period, period_start, amount)
                   VALUES ('a0000000-0000-7000-8000-0000000000a3', 'a0000000-0000-7000-8000-0000000000f1', 'month', '2025-02-01', 1)$$,
    '23514', NULL, 'a quota is a user''s or a team''s, not both');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-01-01', 1)$$,
    '23505', NULL, 'one quota per user and period');
-- (on Citus committed: it refuses the rep a read of the shards the manager changed in the transaction)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
-- (reads of distributed tables in results_eq: on Citus a query of the tenant's shard goes there whole,
-- a pgTAP call in it too)
SELECT results_eq($$SELECT count(*) FROM crm_api.quotas$$, ARRAY[5::bigint], 'a rep reads the tenant''s quotas');
SELECT throws_ok($$INSERT INTO crm.quotas (user_id, period, period_start, amount) VALUES ('a0000000-0000-7000-8000-0000000000a3', 'month', '2025-02-01', 1)$$,
    '42501', NULL, '    but sets none');
SELECT throws_ok($$SELECT crm.snapshot_forecast()$$, '42501', NULL, 'a rep takes no snapshot');
RESET ROLE;

-- snapshots: in total, per owner and per team; again the same day replaces them (on Citus after a commit:
-- the rep's refused writes above reached the tenant's shards there, over the rep's connections)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
-- (the forecast counted first, and on Citus a commit after each snapshot: the job writes as crm's owner
-- (SECURITY DEFINER), and Citus refuses the manager a read of the shards another user changed in the
-- transaction, as lib/two_tenants.psql says)
SELECT (SELECT count(*) FROM crm.forecast('quarter', current_date, 2))
       + (SELECT count(*) FROM crm.forecast('quarter', current_date, 2, 'owner'))
       + (SELECT count(*) FROM crm.forecast('quarter', current_date, 2, 'team')) AS forecast_rows \gset
SELECT is((crm.snapshot_forecast('quarter', 2)->>'changed')::bigint, :'forecast_rows'::bigint,
    'a snapshot stores the forecast in total, per owner and per team');
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT crm.snapshot_forecast('quarter', 2)->>'changed' AS again \gset
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT results_eq($$SELECT count(*) FROM crm.forecast_snapshots WHERE taken_on = current_date$$, ARRAY[:'again'::bigint],
    'taken again the same day: replaced, not added');
SELECT results_eq($$SELECT bucket, period_start, period_end, closed_won, commit, best_case, pipeline, omitted, weighted, quota FROM crm.forecast_snapshots
                     WHERE taken_on = current_date AND group_by = 'total' ORDER BY array_position('{overdue,earlier,period,later,no_close_date}', bucket), period_start$$,
    $$SELECT bucket, period_start, period_end, closed_won, commit, best_case, pipeline, omitted, weighted, quota FROM crm.forecast('quarter', current_date, 2)$$,
    'the stored totals are the forecast''s, with its overdue, later and no_close_date rows');
SELECT results_eq($$SELECT sum(commit + best_case + pipeline + omitted) FROM crm.forecast_snapshots WHERE taken_on = current_date AND group_by = 'owner'$$,
    $$SELECT (crm.dashboard()->>'pipeline_value')::numeric$$, '    so that the snapshot per owner holds the whole open pipeline');
SELECT results_eq($$SELECT count(*) FROM crm.job_runs WHERE job = 'snapshot_forecast'$$, ARRAY[2::bigint], 'each run is logged');
RESET ROLE;
-- (on Citus committed: the operator's run would follow the manager's writes in the transaction)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
-- the operator, without a context, snapshots every tenant
SELECT crm.set_context(NULL, NULL) \g /dev/null
SELECT crm.snapshot_forecast()->>'changed' AS everyone \gset
SELECT row_eq($$SELECT count(*), count(DISTINCT tenant_id) FROM crm.forecast_snapshots WHERE taken_on = current_date$$,
    ROW(:'everyone'::bigint, 2::bigint), 'the scheduler''s run (no context) takes every tenant''s snapshot, replacing today''s');

SELECT * FROM finish();
ROLLBACK;
