-- maintenance.sql (pgTAP): scheduling crm's periodic jobs with pg_cron: registered once under stable
-- names, rescheduled in place, unscheduled, removed by DROP EXTENSION crm, refused for anyone but the
-- operator, and a clear error without pg_cron. (test/cron.sh watches one of them really run.)
\ir lib/preamble.psql

BEGIN;
SELECT plan(43);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT results_eq($$SELECT jobname, schedule, command FROM crm.schedule_maintenance()$$,
    $$VALUES ('crm-forecast-snapshot'::text, '0 3 * * 1'::text, 'CALL crm.run_job(''snapshot_forecast'', NULL)'::text),
             ('crm-health-scores', '0 2 * * *', 'CALL crm.run_job(''refresh_health_scores'', NULL)'),
             ('crm-lead-rescoring', '30 2 * * *', 'CALL crm.run_job(''rescore_leads'', NULL)'),
             ('crm-segments', '*/15 * * * *', 'CALL crm.run_job(''refresh_segments'', NULL)')$$,
    'the four jobs, with their default schedules (the forecast snapshot weekly), each a CALL of the job driver for every tenant');
SELECT is((SELECT count(*) FROM crm.schedule_maintenance(segments_cron => '*/5 * * * *')), 4::bigint, 'scheduling again');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'crm-%'), 4::bigint, '    updates the jobs, it does not add any');
SELECT is((SELECT schedule FROM cron.job WHERE jobname = 'crm-segments'), '*/5 * * * *', '    with the new schedule');
SELECT is((SELECT schedule FROM cron.job WHERE jobname = 'crm-health-scores'), '0 2 * * *', '    and the others as they were');
SELECT throws_ok($$SELECT crm.schedule_maintenance(health_cron => 'every day')$$, '22023', NULL, 'a bad schedule: 22023');
SELECT is(crm.unschedule_maintenance(), 4, 'unscheduling removes the four');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'crm-%'), 0::bigint, '    and leaves none');

SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', NULL, 'guc');
SELECT throws_ok($$SELECT crm.schedule_maintenance()$$, '42501', NULL, 'a tenant''s admin does not schedule the jobs of every tenant');
RESET ROLE;
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;

-- Failure isolation: a job run for every tenant (the operator, no context, as pg_cron runs it) logs one
-- tenant's failure in crm.job_runs with its SQLSTATE and message, undoes that tenant's part, goes on with
-- the others and says how many failed; a run for that one tenant raises the error. Tenant A is made to
-- fail: by data written past validation (session_replication_role = replica skips the triggers that
-- validate), or by a failure injected where the job logs its run.
SET LOCAL client_min_messages = error;
CREATE FUNCTION pg_temp.last_run(job text, tenant uuid) RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' ', r.status, r.error_sqlstate, r.error_message) FROM crm.job_runs r
     WHERE r.job = last_run.job AND r.tenant_id = last_run.tenant ORDER BY r.finished_at DESC, r.id DESC LIMIT 1 $$;
CREATE FUNCTION pg_temp.failed_tenants(result jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT (result->>'failed') || ' of ' || (result->>'tenants') || ' failed: '
           || coalesce((SELECT string_agg(f->>'tenant', ', ') FROM jsonb_array_elements(result->'failures') f), 'none') $$;
CREATE FUNCTION pg_temp.tenant_count() RETURNS text LANGUAGE sql AS $$ SELECT count(*)::text FROM crm.tenants $$;

-- rescoring: a 65-rule model (one past the engine's limit) saved past validation
SET LOCAL session_replication_role = replica;
UPDATE crm.scoring_models SET rules = jsonb_build_object('fit',
        (SELECT jsonb_agg(jsonb_build_object('name', 'r' || i, 'field', 'is_decision_maker', 'equals', true, 'points', 1))
           FROM generate_series(1, 65) i))
 WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_active;
UPDATE crm.leads SET score = NULL WHERE id IN ('a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-000000000bb1');
SET LOCAL session_replication_role = origin;
SELECT crm.rescore_leads(NULL) AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'rescore_leads(NULL): one tenant of all failed, and the result says which');
SELECT is(pg_temp.last_run('rescore_leads', 'a0000000-0000-7000-8000-00000000000a'),
    'failed 54000 a scoring model has at most 64 rules', '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('rescore_leads', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT results_eq($$SELECT id::text, score IS NOT NULL FROM crm.leads
                    WHERE id IN ('a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-000000000bb1') ORDER BY id$$,
    $$VALUES ('a0000000-0000-7000-8000-000000000ab1', false), ('b0000000-0000-7000-8000-000000000bb1', true)$$,
    '    the other tenant''s lead rescored, the failed tenant''s part undone');
SELECT throws_ok($$SELECT crm.rescore_leads('a0000000-0000-7000-8000-00000000000a')$$, '54000', 'a scoring model has at most 64 rules',
    'a run for that one tenant raises its error');

-- health: a weight beyond the limit saved past validation
SET LOCAL session_replication_role = replica;
UPDATE crm.tenants SET settings = jsonb_set(settings, '{health_weights,engagement}', '2000000') WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SET LOCAL session_replication_role = origin;
SELECT crm.refresh_health_scores() AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'refresh_health_scores(): one tenant failed');
SELECT is(pg_temp.last_run('refresh_health_scores', 'a0000000-0000-7000-8000-00000000000a'),
    'failed 22023 invalid tenant setting at $.health_weights.engagement: a weight from 0 to 1000000 is expected',
    '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('refresh_health_scores', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT results_eq($$SELECT a.tenant_id::text, count(h.id) FROM crm.accounts a
                     LEFT JOIN crm.account_health h ON h.tenant_id = a.tenant_id AND h.account_id = a.id AND h.scored_on = (now() AT TIME ZONE 'UTC')::date
                    WHERE a.tenant_id IN ('a0000000-0000-7000-8000-00000000000a', 'b0000000-0000-7000-8000-00000000000b')
                    GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('a0000000-0000-7000-8000-00000000000a', 0::bigint), ('b0000000-0000-7000-8000-00000000000b', 1::bigint)$$,
    '    the other tenant''s accounts have today''s snapshot, the failed tenant''s none');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$SELECT crm.refresh_health_scores()$$, '22023',
    'invalid tenant setting at $.health_weights.engagement: a weight from 0 to 1000000 is expected', 'a run for that one tenant raises its error');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;

-- segments: criteria that do not compile saved past validation
SET LOCAL session_replication_role = replica;
INSERT INTO crm.segments (tenant_id, name, criteria) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'Broken', '{"field": "employee_count", "op": ">=", "value": "lots"}');
SET LOCAL session_replication_role = origin;
UPDATE crm.segments SET last_refreshed_at = NULL WHERE tenant_id IN ('a0000000-0000-7000-8000-00000000000a', 'b0000000-0000-7000-8000-00000000000b');
SELECT crm.refresh_segments(NULL) AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'refresh_segments(NULL): one tenant failed');
SELECT is(pg_temp.last_run('refresh_segments', 'a0000000-0000-7000-8000-00000000000a'),
    'failed 22P02 invalid input syntax for type numeric: "lots"', '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('refresh_segments', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT results_eq($$SELECT tenant_id::text, bool_and(last_refreshed_at IS NOT NULL) FROM crm.segments
                    WHERE tenant_id IN ('a0000000-0000-7000-8000-00000000000a', 'b0000000-0000-7000-8000-00000000000b')
                    GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('a0000000-0000-7000-8000-00000000000a', false), ('b0000000-0000-7000-8000-00000000000b', true)$$,
    '    the other tenant''s segments refreshed, the failed tenant''s part undone');
SELECT throws_ok($$SELECT crm.refresh_segments('a0000000-0000-7000-8000-00000000000a')$$, '22P02', 'invalid input syntax for type numeric: "lots"',
    'a run for that one tenant raises its error');

-- the forecast snapshot, the activity rollup and the win model: a failure injected where they log
-- tenant A's run (what the tenant's part wrote before it must be undone with it)
CREATE FUNCTION public.crm_test_inject_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND NEW.status = 'succeeded'
       AND NEW.job IN ('snapshot_forecast', 'rebuild_account_activity', 'rebuild_win_model') THEN
        RAISE EXCEPTION 'injected failure of %', NEW.job USING ERRCODE = 'CRM01';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER crm_test_inject_failure BEFORE INSERT ON crm.job_runs FOR EACH ROW EXECUTE FUNCTION public.crm_test_inject_failure();
SELECT count(*) FILTER (WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a') AS a_snapshots FROM crm.forecast_snapshots
 WHERE taken_on = current_date AND period = 'quarter' \gset
SELECT crm.snapshot_forecast() AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'snapshot_forecast(): one tenant failed');
SELECT is(pg_temp.last_run('snapshot_forecast', 'a0000000-0000-7000-8000-00000000000a'), 'failed CRM01 injected failure of snapshot_forecast',
    '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('snapshot_forecast', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT results_eq($$SELECT count(*) FILTER (WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
                           count(*) FILTER (WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b') > 0
                      FROM crm.forecast_snapshots WHERE taken_on = current_date AND period = 'quarter'$$,
    format('VALUES (%s::bigint, true)', :'a_snapshots'),
    '    the other tenant''s snapshot taken, the failed tenant''s as it was');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$SELECT crm.snapshot_forecast()$$, 'CRM01', 'injected failure of snapshot_forecast', 'a run for that one tenant raises its error');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;

SELECT crm.rebuild_account_activity(NULL) AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'rebuild_account_activity(NULL): one tenant failed');
SELECT is(pg_temp.last_run('rebuild_account_activity', 'a0000000-0000-7000-8000-00000000000a'),
    'failed CRM01 injected failure of rebuild_account_activity', '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('rebuild_account_activity', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT throws_ok($$SELECT crm.rebuild_account_activity('a0000000-0000-7000-8000-00000000000a')$$, 'CRM01',
    'injected failure of rebuild_account_activity', 'a run for that one tenant raises its error');

SELECT crm.rebuild_win_model(NULL) AS result \gset
SELECT is(pg_temp.failed_tenants(:'result'), '1 of ' || pg_temp.tenant_count() || ' failed: a0000000-0000-7000-8000-00000000000a',
    'rebuild_win_model(NULL): one tenant failed');
SELECT is(pg_temp.last_run('rebuild_win_model', 'a0000000-0000-7000-8000-00000000000a'),
    'failed CRM01 injected failure of rebuild_win_model', '    its failure logged with its SQLSTATE and message');
SELECT is(pg_temp.last_run('rebuild_win_model', 'b0000000-0000-7000-8000-00000000000b'), 'succeeded', '    the other tenant''s run logged');
SELECT isnt((SELECT count(*) FROM crm.lead_win_counts WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'), 0::bigint,
    '    the failed tenant''s counts, deleted before the failure, are back');
SELECT throws_ok($$SELECT crm.rebuild_win_model('a0000000-0000-7000-8000-00000000000a')$$, 'CRM01', 'injected failure of rebuild_win_model',
    'a run for that one tenant raises its error');
DROP TRIGGER crm_test_inject_failure ON crm.job_runs;

-- the log shows failures through the API too
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((SELECT count(*) FROM crm_api.job_runs WHERE status = 'failed' AND error_sqlstate IS NOT NULL AND error_message IS NOT NULL),
    6::bigint, 'a manager reads the tenant''s failed runs (one per job) in crm_api.job_runs');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;
SET LOCAL client_min_messages = warning;

-- DROP EXTENSION crm takes its jobs along; without pg_cron, a clear error. Both are rolled back to a
-- savepoint, which would also take pgTAP's own bookkeeping: what they show is kept in psql variables.
SAVEPOINT before_drop;
SELECT crm.schedule_maintenance() \g /dev/null
SET LOCAL crm.allow_drop = on;                 -- the test's tenants are there (test/drop_guard.sh: refused without)
DROP EXTENSION crm CASCADE;
SELECT count(*) AS jobs_after_drop FROM cron.job WHERE jobname LIKE 'crm-%' \gset
ROLLBACK TO SAVEPOINT before_drop;
SAVEPOINT before_no_cron;
DROP EXTENSION pg_cron;
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$f$;
SELECT pg_temp.error_of('SELECT crm.schedule_maintenance()') AS no_cron_error, crm.unschedule_maintenance() AS no_cron_unscheduled \gset
ROLLBACK TO SAVEPOINT before_no_cron;
SELECT is(:'jobs_after_drop'::bigint, 0::bigint, 'DROP EXTENSION crm removes its jobs');
SELECT is(:'no_cron_error', '55000: pg_cron is not installed in database ' || current_database(),
    'without pg_cron: 55000, pg_cron is not installed here');
SELECT is(:'no_cron_unscheduled'::int, 0, '    and there is nothing to unschedule');
SELECT ok((SELECT count(*) FROM crm.maintenance_jobs('w', 'x', 'y', 'z')) = 4 AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'crm'),
    'after the rollbacks crm is still here');

SELECT * FROM finish();
ROLLBACK;
