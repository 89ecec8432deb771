-- maintenance.sql (pgTAP): scheduling crm's periodic jobs with pg_cron: registered once under stable
-- names, rescheduled in place, unscheduled, removed by DROP EXTENSION crm, refused for anyone but the
-- operator, and a clear error without pg_cron. (test/cron.sh watches one of them really run.)
\ir lib/preamble.psql

BEGIN;
SELECT plan(13);
\ir lib/become.psql

SELECT results_eq($$SELECT jobname, schedule, command FROM crm.schedule_maintenance()$$,
    $$VALUES ('crm-forecast-snapshot'::text, '0 3 * * 1'::text, 'SELECT crm.snapshot_forecast()'::text),
             ('crm-health-scores', '0 2 * * *', 'SELECT crm.refresh_health_scores()'),
             ('crm-lead-rescoring', '30 2 * * *', 'SELECT crm.rescore_leads(NULL)'),
             ('crm-segments', '*/15 * * * *', 'SELECT crm.refresh_segments(NULL)')$$,
    'the four jobs, with their default schedules (the forecast snapshot weekly)');
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

-- DROP EXTENSION crm takes its jobs along; without pg_cron, a clear error. Both are rolled back to a
-- savepoint, which would also take pgTAP's own bookkeeping: what they show is kept in psql variables.
SAVEPOINT before_drop;
SELECT crm.schedule_maintenance() \g /dev/null
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
