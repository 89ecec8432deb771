-- jobs.sql (pgTAP): the job driver crm.run_job (src/jobs.sql) as a function or a CALL inside a
-- transaction, where it cannot commit: its job names and arguments (22023), who may run it (42501,
-- PT404), that each job's function is the driver's run of the job, the log it writes (a run row that
-- goes from running to finished and is not rewritten after; rows of runs whose session ended marked
-- failed), its locks, and a job's body run alone batch by batch. What needs commits and several sessions
-- (committed batches, a rep's edit that does not wait, failures and cancels of a run that commits as it
-- goes, a killed run) is in specs/run_job.spec and test/jobs.sh.
\ir lib/preamble.psql

BEGIN;
SELECT plan(41);
\ir lib/two_tenants.psql
\ir lib/become.psql
SET LOCAL client_min_messages = warning;

-- CALLs the driver (from a function, so it cannot commit) and returns its result
CREATE FUNCTION pg_temp.run(job text, tenant uuid, args jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    CALL crm.run_job(job, tenant, args, r);
    RETURN r;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.run(text, uuid, jsonb) TO crm_rep;

SELECT is(crm.job_names(), ARRAY['rebuild_account_activity', 'rebuild_win_model', 'refresh_health_scores', 'refresh_segments', 'rescore_leads',
                                 'snapshot_forecast'], 'the six jobs');
SELECT ok(NOT crm.job_can_commit(), 'outside a procedure, or inside a transaction block, the driver cannot commit');

-- Bad input, before anything runs: 22023
SELECT count(*) AS runs_before FROM crm.job_runs \gset
SELECT throws_ok($$CALL crm.run_job('rescore_lead', NULL)$$, '22023', 'unknown job ''rescore_lead''', 'an unknown job: 22023');
SELECT throws_ok($$CALL crm.run_job(NULL, NULL)$$, '22023', 'unknown job NULL', '    a job NULL: 22023');
SELECT throws_ok($$CALL crm.run_job('rescore_leads''; DROP TABLE crm.leads; --', NULL)$$, '22023', NULL,
    '    a name that is SQL is only an unknown name');
SELECT has_table('crm', 'leads', '    (and was not run)');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', NULL, '{"full": true}')$$, '22023', 'job rescore_leads has no argument full',
    'an unknown argument: 22023');
SELECT throws_ok($$CALL crm.run_job('rebuild_win_model', NULL, '{"full_pass": true}')$$, '22023', 'job rebuild_win_model has no argument full_pass',
    '    a job without arguments takes none');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', NULL, '[true]')$$, '22023', 'the arguments of job rescore_leads must be a JSON object, not [true]',
    'arguments that are not an object: 22023');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', NULL, '{"full_pass": "yes"}')$$, '22023', 'argument full_pass of job rescore_leads must be a boolean, not "yes"',
    'full_pass not a boolean: 22023');
SELECT throws_ok($$CALL crm.run_job('refresh_health_scores', NULL, jsonb_build_object('on_date', (now() AT TIME ZONE 'UTC')::date + 1))$$, '22023',
    'on_date must be a day up to today, not ' || ((now() AT TIME ZONE 'UTC')::date + 1), 'on_date after today (UTC): 22023');
SELECT throws_ok($$CALL crm.run_job('snapshot_forecast', NULL, '{"period": "week"}')$$, '22023', NULL, 'a forecast period that is none: 22023');
SELECT throws_ok($$CALL crm.run_job('refresh_segments', NULL, '{"segment_id": 7}')$$, '22023', 'argument segment_id of job refresh_segments must be a string, not 7',
    'a segment_id that is no uuid: 22023');
SELECT is((SELECT count(*) FROM crm.job_runs), :'runs_before'::bigint, 'none of them ran a tenant or logged anything');

-- Who may run a job
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$CALL crm.run_job('rescore_leads')$$, '42501', 'permission denied: this job is for the tenant''s managers and admins',
    'a rep may not run a job: 42501');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', 'b0000000-0000-7000-8000-00000000000b')$$, '42501',
    'permission denied: a request acts for its own tenant only', 'a manager may not run one for another tenant');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', NULL)$$, '42501', 'permission denied: a request acts for its own tenant only',
    '    nor for every tenant');
SELECT is(pg_temp.run('rescore_leads', crm.current_tenant()) - 'processed' - 'changed',
    '{"tenants": 1, "failed": 0, "failures": []}'::jsonb, 'a manager runs one for its own tenant (the default)');
-- (the dispatch to the SECURITY DEFINER bodies, granted to managers, checks them before it calls one)
SELECT throws_ok($$SELECT crm.job_tenant_as_owner('refresh_segments', 'b0000000-0000-7000-8000-00000000000b', '{}', NULL)$$, '42501',
    'permission denied: a request acts for its own tenant only', 'a manager may not call a definer body for another tenant');
SELECT is(crm.job_tenant_as_owner('rebuild_win_model', crm.current_tenant(), '{}', NULL)->'next', 'null'::jsonb,
    '    but for its own');
SELECT pg_temp.become('crm_manager', NULL, NULL, 'none');
SELECT throws_ok($$CALL crm.run_job('rescore_leads', NULL)$$, '42501', 'permission denied: without a tenant context only the operator acts',
    'without a context, only the operator runs a job');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;
SELECT throws_ok($$CALL crm.run_job('rescore_leads', 'c0000000-0000-7000-8000-00000000000c')$$, 'PT404', NULL, 'the operator: an unknown tenant is PT404');
SELECT is((pg_temp.run('rebuild_win_model', NULL))->'tenants', to_jsonb((SELECT count(*) FROM crm.tenants)),
    'the operator without a context runs every tenant');

-- Each job's function is the driver's run of that job: the same result as CALL crm.run_job, the same rows
-- written (each side in a savepoint, undone before the other)
CREATE FUNCTION pg_temp.both_ways(job text, via_function text, args jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    by_function jsonb;
    by_driver jsonb;
    rows_function bigint;
    rows_driver bigint;
BEGIN
    BEGIN
        EXECUTE 'SELECT ' || via_function INTO by_function;
        rows_function := (SELECT sum(r.processed + r.changed) FROM crm.job_runs r WHERE r.job = both_ways.job AND r.started_at >= now());
        RAISE EXCEPTION 'undo' USING ERRCODE = 'P0A0K';
    EXCEPTION WHEN SQLSTATE 'P0A0K' THEN
    END;
    BEGIN
        by_driver := pg_temp.run(job, NULL, args);
        rows_driver := (SELECT sum(r.processed + r.changed) FROM crm.job_runs r WHERE r.job = both_ways.job AND r.started_at >= now());
        RAISE EXCEPTION 'undo' USING ERRCODE = 'P0A0K';
    EXCEPTION WHEN SQLSTATE 'P0A0K' THEN
    END;
    IF job = 'refresh_segments' THEN
        by_function := jsonb_build_object('items', by_function->'details', 'tenants', by_function->'tenants');
        by_driver := jsonb_build_object('items', by_driver->'items', 'tenants', by_driver->'tenants');
    END IF;
    RETURN CASE WHEN by_function = by_driver AND rows_function = rows_driver AND (by_driver->>'tenants')::int > 0 THEN 'same'
                ELSE format('%s (%s rows) against %s (%s rows)', by_function, rows_function, by_driver, rows_driver) END;
END $$;
SELECT is(pg_temp.both_ways('rescore_leads', 'crm.rescore_leads(NULL, true)', '{"full_pass": true}'), 'same',
    'crm.rescore_leads(NULL, true) is CALL crm.run_job(''rescore_leads'', NULL, ''{"full_pass": true}'')');
SELECT is(pg_temp.both_ways('refresh_health_scores', 'crm.refresh_health_scores()', '{}'), 'same',
    'crm.refresh_health_scores() is the job refresh_health_scores');
SELECT is(pg_temp.both_ways('refresh_segments', 'crm.refresh_segments(NULL)', '{}'), 'same',
    'crm.refresh_segments(NULL) is the job refresh_segments (its details the run''s items)');
SELECT is(pg_temp.both_ways('snapshot_forecast', 'crm.snapshot_forecast()', '{}'), 'same', 'crm.snapshot_forecast() is the job snapshot_forecast');
SELECT is(pg_temp.both_ways('rebuild_account_activity', 'crm.rebuild_account_activity(NULL)', '{}'), 'same',
    'crm.rebuild_account_activity(NULL) is the job rebuild_account_activity');
SELECT is(pg_temp.both_ways('rebuild_win_model', 'crm.rebuild_win_model(NULL)', '{}'), 'same', 'crm.rebuild_win_model(NULL) is the job rebuild_win_model');

-- The log: in one transaction a run's row is written running, then finished; 0 commits
SELECT pg_temp.run('rescore_leads', 'a0000000-0000-7000-8000-00000000000a') \g /dev/null
SELECT row_eq($$SELECT status, commits, finished_at IS NOT NULL, duration IS NOT NULL FROM crm.job_runs
                 WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND job = 'rescore_leads' ORDER BY id DESC LIMIT 1$$,
    ROW('succeeded'::text, 0, true, true), 'a run in one transaction is logged succeeded, finished, with 0 commits');
SELECT id AS done_run FROM crm.job_runs WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND job = 'rescore_leads' ORDER BY id DESC LIMIT 1 \gset
SELECT throws_ok(format($$SELECT crm.job_log(%L, 'a0000000-0000-7000-8000-00000000000a', 'rescore_leads', now(), 'failed', 0, 0, '{}', 0, 'XX000', 'forged')$$,
                        :'done_run'),
    '55000', NULL, 'a finished run''s row is not rewritten (55000)');
-- rows left running by runs whose sessions ended (written here without the job's lock: this transaction
-- holds no lock of snapshot_forecast, its runs above were undone)
SELECT crm.job_log(NULL, 'a0000000-0000-7000-8000-00000000000a', 'snapshot_forecast', now() - interval '1 hour', 'running', 1, 1) AS dead_run \gset
SELECT crm.job_log(NULL, 'a0000000-0000-7000-8000-00000000000a', 'snapshot_forecast', now() - interval '1 hour', 'running', 1, 1) AS other_dead_run \gset
SELECT is((SELECT count(*) FROM crm.job_runs WHERE id IN (:'dead_run', :'other_dead_run') AND status = 'running'), 2::bigint,
    'a running row written without the job''s lock leaves the others running');
SELECT pg_temp.run('snapshot_forecast', 'a0000000-0000-7000-8000-00000000000a') \g /dev/null
SELECT results_eq(format($$SELECT status, error_sqlstate, error_message, finished_at IS NOT NULL FROM crm.job_runs WHERE id IN (%L, %L)$$,
                         :'dead_run', :'other_dead_run'),
    $$VALUES ('failed'::text, '57000'::text, 'the run stopped before it could log its end (its session ended, or it was stopped)'::text, true),
             ('failed', '57000', 'the run stopped before it could log its end (its session ended, or it was stopped)', true)$$,
    'the next run of the job for the tenant, holding its lock, marks them failed (57000)');
SELECT is((SELECT count(*) FROM crm.job_runs WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b' AND status = 'running'), 0::bigint,
    '    (and touches no other tenant''s)');

-- The locks: the session's, held until released, and the transaction's
SELECT crm.lock_job('rescore_leads', 'b0000000-0000-7000-8000-00000000000b', true);
SELECT ok(crm.job_lock_held('rescore_leads', 'b0000000-0000-7000-8000-00000000000b'), 'crm.lock_job(..., true) takes the session''s lock');
SELECT crm.unlock_job('rescore_leads', 'b0000000-0000-7000-8000-00000000000b');
SELECT ok(NOT crm.job_lock_held('rescore_leads', 'b0000000-0000-7000-8000-00000000000b'), '    crm.unlock_job releases it');
SELECT ok(NOT crm.job_lock_held('refresh_segments', 'a0000000-0000-7000-8000-00000000000a')
          AND crm.job_lock_held('rescore_leads', 'a0000000-0000-7000-8000-00000000000a'),
    'a run in one transaction keeps its transaction''s lock, of its own job, to the end');

-- A job's body alone: batch by batch, each call the next batch after the cursor it returned
RESET ROLE;
SET LOCAL session_replication_role = replica;
UPDATE crm.leads SET score = NULL WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a';
SET LOCAL session_replication_role = origin;
SET LOCAL crm.batch_size = 1;
CREATE FUNCTION pg_temp.batches(t uuid) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c jsonb;
    r jsonb;
    calls integer := 0;
    processed bigint := 0;
BEGIN
    LOOP
        r := crm.rescore_leads_tenant(t, '{"full_pass": true}', c);
        calls := calls + 1;
        processed := processed + (r->>'processed')::bigint;
        c := r->'next';
        EXIT WHEN jsonb_typeof(c) IS DISTINCT FROM 'object' OR calls > 100;
    END LOOP;
    RETURN jsonb_build_object('calls', calls, 'processed', processed, 'batches', r->'details'->'batches');
END $$;
SELECT is(pg_temp.batches('a0000000-0000-7000-8000-00000000000a'),
    jsonb_build_object('calls', (SELECT count(*) + 1 FROM crm.leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
                       'processed', (SELECT count(*) FROM crm.leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
                       'batches', (SELECT count(*) FROM crm.leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a')),
    'crm.rescore_leads_tenant with crm.batch_size 1: a call per lead, and one that finds the end');
SELECT is((SELECT count(*) FROM crm.leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND score IS NULL), 0::bigint,
    '    every lead scored');
-- health in batches of one account: a call per account and one for the range after the last, each
-- gathering its own batch's inputs; every account gets its snapshot
CREATE FUNCTION pg_temp.health_batches(t uuid) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    c jsonb;
    r jsonb;
    calls integer := 0;
    processed bigint := 0;
BEGIN
    LOOP
        r := crm.refresh_health_scores_tenant(t, jsonb_build_object('on_date', (now() AT TIME ZONE 'UTC')::date), c);
        calls := calls + 1;
        processed := processed + (r->>'processed')::bigint;
        c := r->'next';
        EXIT WHEN jsonb_typeof(c) IS DISTINCT FROM 'object' OR calls > 100;
    END LOOP;
    RETURN jsonb_build_object('calls', calls, 'processed', processed);
END $$;
SELECT is(pg_temp.health_batches('a0000000-0000-7000-8000-00000000000a'),
    jsonb_build_object('calls', (SELECT count(*) + 1 FROM crm.accounts WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
                       'processed', (SELECT count(*) FROM crm.accounts WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a')),
    'crm.refresh_health_scores_tenant with crm.batch_size 1: a call per account, and one after the last');
SELECT is((SELECT count(*) FROM crm.accounts a WHERE a.tenant_id = 'a0000000-0000-7000-8000-00000000000a'
             AND NOT EXISTS (SELECT 1 FROM crm.account_health h WHERE h.tenant_id = a.tenant_id AND h.account_id = a.id
                                AND h.scored_on = (now() AT TIME ZONE 'UTC')::date)), 0::bigint,
    '    every account has its snapshot of the day');

SELECT * FROM finish();
ROLLBACK;
