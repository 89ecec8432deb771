-- jobs.sql: what crm's batch jobs share, in one place: the job driver crm.run_job (who may run a job, the
-- loop over tenants, one run at a time per job and tenant, progress, the log in crm.job_runs, one
-- tenant's failure kept from the others, and commits as the work goes). Each job is only its own work
-- for one tenant, a body function crm.<job>_tenant (docs/design.md §8).

CREATE FUNCTION crm.report_progress(message text) RETURNS void
    AS 'MODULE_PATHNAME', 'crm_report_progress'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.report_progress(text) IS 'Shows a running job''s progress in pg_stat_activity.query of its backend (visible to other sessions at once, also while a run works in one transaction, whose crm.job_runs row is not yet visible); the job driver restores its statement''s text with crm.report_progress(current_query()) when a run ends.';

-- One run of a job per tenant at a time: the second caller gets 55P03 at once instead of waiting. A run
-- in one transaction takes the transaction's lock (it goes with the transaction, whatever ends it); a
-- run that commits as it goes takes the session's, held across its commits until crm.unlock_job.
CREATE FUNCTION crm.lock_job(job text, tenant uuid, for_session boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    taken boolean;
BEGIN
    IF for_session THEN
        taken := pg_try_advisory_lock(hashtext('crm job ' || job), hashtext(tenant::text));
    ELSE
        taken := pg_try_advisory_xact_lock(hashtext('crm job ' || job), hashtext(tenant::text));
    END IF;
    IF NOT taken THEN
        RAISE EXCEPTION '% is already running for tenant %', job, tenant USING ERRCODE = '55P03',
            HINT = 'One run at a time: wait for the other run to finish (see pg_stat_activity, or crm.job_runs with status running).';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.lock_job(text, uuid, boolean) IS 'Takes the advisory lock of a job for a tenant (the transaction''s, or with for_session the session''s, until crm.unlock_job); raises 55P03 when another run holds it, so two runs never overlap.';

CREATE FUNCTION crm.unlock_job(job text, tenant uuid) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT pg_advisory_unlock(hashtext('crm job ' || job), hashtext(tenant::text))
$$;
COMMENT ON FUNCTION crm.unlock_job(text, uuid) IS 'Releases the session''s advisory lock of a job for a tenant, taken by crm.lock_job(job, tenant, true).';

-- Whether this session holds the job's lock for the tenant (either kind).
CREATE FUNCTION crm.job_lock_held(job text, tenant uuid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT EXISTS (SELECT 1 FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted AND l.objsubid = 2
                      AND l.classid = hashtext('crm job ' || job)::oid AND l.objid = hashtext(tenant::text)::oid)
$$;
COMMENT ON FUNCTION crm.job_lock_held(text, uuid) IS 'Whether this session holds the advisory lock of a job for a tenant (crm.lock_job).';

-- Who may run a job for a tenant: its managers and admins (for their own tenant), or the operator (a
-- role that bypasses row-level security; without a tenant context, tenant NULL means every tenant).
-- Works in SECURITY DEFINER jobs too: the caller is the role the session acts as, not the function's owner.
CREATE FUNCTION crm.check_job_caller(tenant uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM crm.check_tenant_caller(tenant);
    IF crm.current_tenant() IS NOT NULL AND tenant IS NOT DISTINCT FROM crm.current_tenant() THEN
        -- the request's role (the weaker of its database role and its user's role), also inside a definer job
        IF crm.current_app_role() IS DISTINCT FROM 'manager' AND crm.current_app_role() IS DISTINCT FROM 'admin' THEN
            RAISE EXCEPTION 'permission denied: this job is for the tenant''s managers and admins' USING ERRCODE = '42501';
        END IF;
    ELSIF tenant IS NOT NULL AND NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = tenant) THEN
        PERFORM crm.not_found('tenant', tenant);
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_job_caller(uuid) IS 'Raises 42501 unless the caller may run a batch job for the tenant: a manager or admin of that tenant (by the request context), or the operator (a role that bypasses row-level security, without a tenant context); an unknown tenant is PT404.';


CREATE TABLE crm.job_runs (
    tenant_id   uuid        NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT crm.uuid_v7(),
    job         text        NOT NULL CHECK (job ~ '^[a-z_]+$'),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz DEFAULT pg_catalog.clock_timestamp(),
    duration    interval    GENERATED ALWAYS AS (finished_at - started_at) STORED,
    processed   bigint      NOT NULL CHECK (processed >= 0),
    changed     bigint      NOT NULL CHECK (changed >= 0),
    details     jsonb       NOT NULL DEFAULT '{}',
    run_by      uuid,
    db_role     text        NOT NULL,
    status      text        NOT NULL DEFAULT 'succeeded' CHECK (status IN ('running', 'succeeded', 'failed')),
    commits     integer     NOT NULL DEFAULT 0 CHECK (commits >= 0),
    error_sqlstate text     CHECK (error_sqlstate ~ '^[0-9A-Z]{5}$'),
    error_message  text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT job_runs_error CHECK ((status = 'failed') = (error_sqlstate IS NOT NULL) AND (error_sqlstate IS NULL) = (error_message IS NULL)),
    CONSTRAINT job_runs_finished CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX job_runs_tenant_job ON crm.job_runs (tenant_id, job, started_at DESC);
COMMENT ON TABLE crm.job_runs IS 'The log of batch job runs (rescore_leads, refresh_health_scores, ...): one row per run and tenant with its counts and duration, written by crm.run_job as the run goes (status running, with its progress, while it works). Managers and admins read it.';
COMMENT ON COLUMN crm.job_runs.tenant_id IS 'The tenant the run processed.';
COMMENT ON COLUMN crm.job_runs.id IS 'The run''s id (uuid_v7).';
COMMENT ON COLUMN crm.job_runs.job IS 'Which job: rescore_leads, refresh_health_scores, refresh_segments, snapshot_forecast, rebuild_account_activity or rebuild_win_model (crm.job_names()).';
COMMENT ON COLUMN crm.job_runs.started_at IS 'When the run started (wall clock).';
COMMENT ON COLUMN crm.job_runs.finished_at IS 'When it finished (wall clock); NULL while it runs.';
COMMENT ON COLUMN crm.job_runs.duration IS 'How long it took (NULL while it runs).';
COMMENT ON COLUMN crm.job_runs.processed IS 'Rows it looked at (while it runs: so far).';
COMMENT ON COLUMN crm.job_runs.changed IS 'Rows it changed (while it runs: so far).';
COMMENT ON COLUMN crm.job_runs.details IS 'Further counts of the job (e.g. leads qualified, batches); for a failed run also the error''s detail, hint and context.';
COMMENT ON COLUMN crm.job_runs.run_by IS 'The CRM user who ran it (crm.current_user_id()); NULL for a scheduled run.';
COMMENT ON COLUMN crm.job_runs.db_role IS 'The database role that ran it.';
COMMENT ON COLUMN crm.job_runs.status IS 'running (a run that is working, or whose session ended before it finished: the next run of the job for the tenant marks that one failed), succeeded, or failed: the tenant''s part raised an error, which undid what the tenant''s run had not committed yet (all of it for a run in one transaction: processed and changed are then 0; for a run that commits as it goes, the batches before the failing one stay, and processed and changed count them), while a run for every tenant went on with the others.';
COMMENT ON COLUMN crm.job_runs.commits IS 'How many times the run committed its work before it finished, batch by batch (0: it ran in one transaction, as a job called as a function or CALLed inside a transaction block does).';
COMMENT ON COLUMN crm.job_runs.error_sqlstate IS 'A failed run''s SQLSTATE (e.g. 22023); NULL when it succeeded.';
COMMENT ON COLUMN crm.job_runs.error_message IS 'A failed run''s error message (its detail, hint and context in details); NULL when it succeeded.';
ALTER TABLE crm.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.job_runs FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.job_runs', '');
SELECT crm.secure_table('crm.job_runs', 'log');

-- Writes a run's row: inserts it (running, or already succeeded or failed), then updates it as the run
-- goes, until it is finished. SECURITY DEFINER (nobody writes the log directly), so it checks its caller
-- itself: a manager or admin for its own tenant, or the operator (a role that bypasses row-level security).
CREATE FUNCTION crm.job_log(run_id uuid, tenant uuid, job text, started_at timestamptz, status text, processed bigint, changed bigint,
                            details jsonb DEFAULT '{}', commits integer DEFAULT 0, sqlstate text DEFAULT NULL, message text DEFAULT NULL)
    RETURNS uuid
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    caller text := CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END;
    written uuid;
    stopped_at timestamptz;
BEGIN
    PERFORM crm.check_job_caller(tenant);
    INSERT INTO crm.job_runs AS r (tenant_id, id, job, started_at, finished_at, processed, changed, details, run_by, db_role, status,
                                   commits, error_sqlstate, error_message)
    VALUES (tenant, coalesce(run_id, crm.uuid_v7()), job, coalesce(started_at, clock_timestamp()),
            CASE WHEN status IS DISTINCT FROM 'running' THEN clock_timestamp() END, processed, changed, coalesce(details, '{}'),
            crm.current_user_id(), caller, status, coalesce(commits, 0), sqlstate, message)
    ON CONFLICT (tenant_id, id) DO UPDATE
       SET finished_at = excluded.finished_at, processed = excluded.processed, changed = excluded.changed, details = excluded.details,
           status = excluded.status, commits = excluded.commits, error_sqlstate = excluded.error_sqlstate,
           error_message = excluded.error_message
     -- a finished run stays as it was logged
     WHERE r.status = 'running' AND r.job = excluded.job
    RETURNING r.id INTO written;
    IF written IS NULL THEN
        RAISE EXCEPTION 'run % of % for tenant % is finished: its log is not rewritten', run_id, job, tenant USING ERRCODE = '55000';
    END IF;
    -- Holding the job's lock for the tenant, this is the only run there is: a row of another one still
    -- running is a run whose session ended (terminated, or crashed) before it could say so.
    IF status = 'running' AND crm.job_lock_held(job, tenant) THEN
        -- (the time as a value: Citus takes no VOLATILE function in an UPDATE of a distributed table)
        stopped_at := clock_timestamp();
        UPDATE crm.job_runs x
           SET status = 'failed', finished_at = stopped_at, error_sqlstate = '57000',
               error_message = 'the run stopped before it could log its end (its session ended, or it was stopped)'
         WHERE x.tenant_id = tenant AND x.job = job_log.job AND x.status = 'running' AND x.id <> written;
    END IF;
    RETURN written;
END
$$;
COMMENT ON FUNCTION crm.job_log(uuid, uuid, text, timestamptz, text, bigint, bigint, jsonb, integer, text, text) IS 'Internal to crm.run_job: writes a run of a job for a tenant to crm.job_runs (inserts it, or updates it while it is running: its counts so far, then succeeded or failed with its SQLSTATE and message) and returns its id; a run that holds the job''s lock and starts marks the tenant''s older running rows of the job failed (their sessions ended). For the tenant''s managers and admins or the operator, 42501 for anyone else; 55000 for a finished run.';

------------------------------------------------------------------------------------------------------
-- The job driver
------------------------------------------------------------------------------------------------------

-- The jobs, and the one place their names meet code: crm.job_args and crm.job_tenant dispatch on these
-- names with a CASE each (a whitelist: no job name ever reaches dynamic SQL).
CREATE FUNCTION crm.job_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT ARRAY['rebuild_account_activity', 'rebuild_win_model', 'refresh_health_scores', 'refresh_segments', 'rescore_leads',
                 'snapshot_forecast']
$$;
COMMENT ON FUNCTION crm.job_names() IS 'The batch jobs crm.run_job runs: rebuild_account_activity, rebuild_win_model, refresh_health_scores, refresh_segments, rescore_leads, snapshot_forecast.';

CREATE FUNCTION crm.job_check_args(job text, args jsonb, kinds jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    bad text;
    wrong record;
BEGIN
    IF args IS NULL OR jsonb_typeof(args) <> 'object' THEN
        RAISE EXCEPTION 'the arguments of job % must be a JSON object, not %', job, coalesce(args::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    bad := (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(args) k WHERE NOT kinds ? k);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'job % has no argument %', job, bad USING ERRCODE = '22023',
            HINT = CASE WHEN kinds = '{}' THEN 'It takes no arguments.'
                        ELSE format('Its arguments: %s.', (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(kinds) k)) END;
    END IF;
    SELECT a.key, a.value, kinds->>a.key AS kind INTO wrong FROM jsonb_each(args) a
     WHERE jsonb_typeof(a.value) NOT IN ('null', kinds->>a.key) ORDER BY a.key LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'argument % of job % must be a %, not %', wrong.key, job, wrong.kind, wrong.value USING ERRCODE = '22023';
    END IF;
    RETURN args;
END
$$;
COMMENT ON FUNCTION crm.job_check_args(text, jsonb, jsonb) IS 'Internal: returns a job''s arguments when they are a JSON object whose keys are those of kinds, each value of the JSON type kinds names (boolean, string, number) or null; 22023 otherwise.';

CREATE FUNCTION crm.unknown_job(job text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RAISE EXCEPTION 'unknown job %', coalesce(quote_literal(job), 'NULL') USING ERRCODE = '22023',
        HINT = format('The jobs: %s.', array_to_string(crm.job_names(), ', '));
END
$$;
COMMENT ON FUNCTION crm.unknown_job(text) IS 'Internal: raises 22023 for a job name that is none of crm.job_names() (the hint lists them).';

-- A job's arguments, checked and completed with their defaults once, before any tenant is run: a bad
-- argument fails the run as a whole (22023), and defaults such as today's date hold for all of it.
CREATE FUNCTION crm.job_args(job text, args jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    CASE job
        WHEN 'rescore_leads' THEN RETURN crm.rescore_leads_args(args);
        WHEN 'refresh_health_scores' THEN RETURN crm.refresh_health_scores_args(args);
        WHEN 'refresh_segments' THEN RETURN crm.refresh_segments_args(args);
        WHEN 'snapshot_forecast' THEN RETURN crm.snapshot_forecast_args(args);
        WHEN 'rebuild_account_activity', 'rebuild_win_model' THEN RETURN crm.job_check_args(job, args, '{}');
        ELSE RETURN crm.unknown_job(job);
    END CASE;
END
$$;
COMMENT ON FUNCTION crm.job_args(text, jsonb) IS 'Internal to crm.run_job: a job''s arguments checked by the job (crm.<job>_args) and completed with their defaults; 22023 for an unknown job (crm.job_names()) or a bad argument.';

-- The whitelist dispatch from a job's name to its body. A body, crm.<job>_tenant(tenant, args, cursor),
-- is the job's own work for one tenant and nothing else (no caller loop, lock, log, progress or failure
-- handling: the driver's): all of it, or, when it works in batches, the next batch after the cursor it
-- returned last (NULL: the first). It returns {"processed": n, "changed": n} for this call, "details":
-- the tenant's run so far (crm.job_runs.details), "next": the cursor of the next batch or null when the
-- tenant is done, and optionally "progress" (text for pg_stat_activity) and "items" (an array returned
-- in the run's result). Bodies check their caller (crm.check_job_caller), as they can be called alone.
-- On Citus crm.distribute() distributes the bodies by their tenant argument (docs/design.md §9), and
-- each call here is sent to the node that holds the tenant's shards as one command, where the body
-- runs: Citus delegates a call in a procedure's transaction only when it is the one function of a
-- query's FROM (not a PL/pgSQL simple expression such as RETURN f(...)), with the tenant a constant
-- (a variable is, in the plan Citus makes for each call). On a single node the call is the same call.
-- The settings a body reads (crm.batch_size) and lock_timeout go with it to the worker as SET LOCAL,
-- the only form Citus carries over (citus.propagate_set_commands = local): a session's own setting
-- would not reach the worker's session.
CREATE FUNCTION crm.job_tenant(job text, tenant uuid, args jsonb, cursor jsonb) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'citus') THEN
        -- (reverted here when this function returns, as it has a SET clause; the worker keeps them to the
        -- end of the transaction, with the values they have here)
        EXECUTE format('SET LOCAL crm.batch_size = %s', current_setting('crm.batch_size'));
        EXECUTE format('SET LOCAL lock_timeout = %L', current_setting('lock_timeout'));
    END IF;
    CASE job
        WHEN 'rescore_leads', 'refresh_segments', 'rebuild_account_activity', 'rebuild_win_model', 'refresh_health_scores',
             'snapshot_forecast' THEN r := crm.job_tenant_as_owner(job, tenant, args, cursor);
        ELSE RETURN crm.unknown_job(job);
    END CASE;
    RETURN r;
END
$$;
-- The SECURITY DEFINER bodies, called as their owner: on Citus the delegated call then goes over the
-- owner's connection, the one crm.job_log (SECURITY DEFINER too) wrote the run's log with in the same
-- transaction; a call over the caller's own connection (a manager's run for its tenant) would be refused
-- ("cannot perform query on placements that were modified in this transaction by a different user").
-- The caller is checked here, before the call: on the worker the body's own check sees the owner's
-- session (the operator), so it is this one that keeps a manager to its own tenant.
CREATE FUNCTION crm.job_tenant_as_owner(job text, tenant uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    r jsonb;
BEGIN
    -- SECURITY DEFINER: for the tenant's managers and admins, or the operator (the request's role, not the owner)
    PERFORM crm.check_job_caller(tenant);
    CASE job
        WHEN 'rescore_leads' THEN SELECT b INTO r FROM crm.rescore_leads_tenant(tenant, args, cursor) b;
        WHEN 'refresh_segments' THEN SELECT b INTO r FROM crm.refresh_segments_tenant(tenant, args, cursor) b;
        WHEN 'rebuild_account_activity' THEN SELECT b INTO r FROM crm.rebuild_account_activity_tenant(tenant, args, cursor) b;
        WHEN 'rebuild_win_model' THEN SELECT b INTO r FROM crm.rebuild_win_model_tenant(tenant, args, cursor) b;
        WHEN 'refresh_health_scores' THEN SELECT b INTO r FROM crm.refresh_health_scores_tenant(tenant, args, cursor) b;
        WHEN 'snapshot_forecast' THEN SELECT b INTO r FROM crm.snapshot_forecast_tenant(tenant, args, cursor) b;
        ELSE RETURN crm.unknown_job(job);
    END CASE;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm.job_tenant_as_owner(text, uuid, jsonb, jsonb) IS 'Internal to crm.job_tenant: calls the job bodies (all SECURITY DEFINER) as their owner, so that on Citus their delegated call shares the connection of the run''s log; checks the caller first (crm.check_job_caller: 42501, PT404); 22023 for another job.';
COMMENT ON FUNCTION crm.job_tenant(text, uuid, jsonb, jsonb) IS 'Internal to crm.run_job: runs a job''s body crm.<job>_tenant(tenant, args, cursor) for one tenant (or its next batch) and returns {processed, changed, details, next, progress, items}; 22023 for an unknown job. On Citus the call is delegated to the node of the tenant''s shards (the bodies crm.distribute() distributed), with crm.batch_size and lock_timeout set there as here.';

-- The state of a run, passed from step to step (small: the tenants are walked in id order, one at a
-- time): job, args, tenant (NULL: every tenant), atomic (no commits), role and context (the caller's at
-- the start, which every step checks), last (the latest tenant started), tenants (how many), cur (the
-- tenant in progress: tenant, run_id, started, cursor, processed, changed, details, commits, locked),
-- processed, changed, failures, error (a failure that ends the run) and done.
CREATE FUNCTION crm.job_start(job text, tenant uuid, args jsonb, can_commit boolean) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    checked jsonb := crm.job_args(job, args);
BEGIN
    PERFORM crm.check_job_caller(tenant);
    RETURN jsonb_build_object('job', job, 'args', checked, 'tenant', tenant, 'atomic', NOT coalesce(can_commit, false),
                              'role', current_user::text, 'context', crm.current_tenant(), 'last', NULL, 'tenants', 0, 'cur', NULL,
                              'processed', 0, 'changed', 0, 'failures', '[]'::jsonb, 'error', NULL, 'done', false);
END
$$;
COMMENT ON FUNCTION crm.job_start(text, uuid, jsonb, boolean) IS 'Internal to crm.run_job: checks the job and its arguments (22023) and the caller (crm.check_job_caller: 42501, PT404), and returns the state of a new run.';

-- One step of a run: the next tenant's whole work when the run cannot commit (atomic), else one batch of
-- it (the driver commits after each step). The step is a subtransaction: when it fails, what it did is
-- undone and logged as failed; a run for one tenant, or a cancelled one, then ends with the error (raised
-- here when atomic, as it always was; by crm.job_result after the driver committed the log otherwise),
-- while a run for every tenant goes on with the next.
CREATE FUNCTION crm.job_step(INOUT run jsonb, OUT items jsonb, OUT done boolean)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    job text := run->>'job';
    atomic boolean := (run->>'atomic')::boolean;
    cur jsonb := run->'cur';
    before jsonb;
    t uuid;
    r jsonb;
    fatal boolean;
    failed_id uuid;
    e_state text;
    e_message text;
    e_detail text;
    e_hint text;
    e_context text;
BEGIN
    items := '[]';
    done := false;
    IF (run->>'done')::boolean THEN
        done := true;
        RETURN;
    END IF;
    -- The caller checked at the start must still be the one acting: a SET LOCAL ROLE, or a context set
    -- for the transaction only, does not outlast the run's first commit.
    IF current_user::text IS DISTINCT FROM run->>'role' OR crm.current_tenant()::text IS DISTINCT FROM run->>'context' THEN
        IF NOT atomic AND coalesce((cur->>'locked')::boolean, false) THEN
            PERFORM crm.unlock_job(job, (cur->>'tenant')::uuid);
        END IF;
        RAISE EXCEPTION 'permission denied: the role or tenant context that started job % changed while it ran', job
            USING ERRCODE = '42501',
                  HINT = 'A run that commits as it goes needs a role and context set for the session (crm.set_context(..., is_local => false)), or CALL it inside a transaction block.';
    END IF;
    IF jsonb_typeof(cur) IS DISTINCT FROM 'object' THEN
        -- the next tenant in id order (one created meanwhile is run too; one deleted meanwhile is not)
        t := (SELECT x.id FROM crm.tenants x
               WHERE (run->>'tenant' IS NULL OR x.id = (run->>'tenant')::uuid) AND (run->>'last' IS NULL OR x.id > (run->>'last')::uuid)
               ORDER BY x.id LIMIT 1);
        IF t IS NULL THEN
            run := run || jsonb_build_object('done', true, 'cur', NULL);
            done := true;
            RETURN;
        END IF;
        cur := jsonb_build_object('tenant', t, 'run_id', crm.uuid_v7(), 'started', clock_timestamp(), 'cursor', NULL, 'processed', 0,
                                  'changed', 0, 'details', '{}'::jsonb, 'commits', 0, 'locked', false, 'first', true);
        run := run || jsonb_build_object('last', t, 'tenants', (run->>'tenants')::integer + 1);
    ELSE
        t := (cur->>'tenant')::uuid;
    END IF;
    before := cur;
    BEGIN
        IF (cur->>'first')::boolean THEN
            PERFORM crm.lock_job(job, t, NOT atomic);
            cur := cur || jsonb_build_object('first', false, 'locked', NOT atomic);
            PERFORM crm.job_log((cur->>'run_id')::uuid, t, job, (cur->>'started')::timestamptz, 'running', 0, 0);
        END IF;
        LOOP
            r := crm.job_tenant(job, t, run->'args', CASE WHEN jsonb_typeof(cur->'cursor') = 'null' THEN NULL ELSE cur->'cursor' END);
            cur := cur || jsonb_build_object('processed', (cur->>'processed')::bigint + coalesce((r->>'processed')::bigint, 0),
                                             'changed', (cur->>'changed')::bigint + coalesce((r->>'changed')::bigint, 0),
                                             'details', coalesce(r->'details', cur->'details'), 'cursor', r->'next');
            IF jsonb_typeof(r->'items') = 'array' THEN
                items := items || (r->'items');
            END IF;
            IF r->>'progress' IS NOT NULL THEN
                PERFORM crm.report_progress(r->>'progress');
            END IF;
            -- atomic: the tenant's batches one after the other; else one batch, committed by the driver
            EXIT WHEN jsonb_typeof(cur->'cursor') IS DISTINCT FROM 'object' OR NOT atomic;
        END LOOP;
        IF jsonb_typeof(cur->'cursor') IS DISTINCT FROM 'object' THEN
            PERFORM crm.job_log((cur->>'run_id')::uuid, t, job, (cur->>'started')::timestamptz, 'succeeded', (cur->>'processed')::bigint,
                                (cur->>'changed')::bigint, cur->'details', (cur->>'commits')::integer);
            IF NOT atomic THEN
                PERFORM crm.unlock_job(job, t);
            END IF;
            run := run || jsonb_build_object('processed', (run->>'processed')::bigint + (cur->>'processed')::bigint,
                                             'changed', (run->>'changed')::bigint + (cur->>'changed')::bigint, 'cur', NULL);
        ELSE
            -- its progress, committed with the batch
            cur := cur || jsonb_build_object('commits', (cur->>'commits')::integer + 1);
            PERFORM crm.job_log((cur->>'run_id')::uuid, t, job, (cur->>'started')::timestamptz, 'running', (cur->>'processed')::bigint,
                                (cur->>'changed')::bigint, cur->'details', (cur->>'commits')::integer);
            run := run || jsonb_build_object('cur', cur);
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT, e_detail = PG_EXCEPTION_DETAIL,
                                e_hint = PG_EXCEPTION_HINT, e_context = PG_EXCEPTION_CONTEXT;
        -- a run for one tenant fails as a whole, and a cancelled run stops
        fatal := run->>'tenant' IS NOT NULL OR e_state = '57014';
        IF atomic AND fatal THEN
            RAISE;
        END IF;
        -- (variables keep what the failed step assigned: cur says whether it took the session's lock)
        IF coalesce((cur->>'locked')::boolean, false) THEN
            PERFORM crm.unlock_job(job, t);
        END IF;
        items := '[]';
        -- logged with what the tenant's run committed before this step (nothing, for a run in one transaction)
        failed_id := crm.job_log((before->>'run_id')::uuid, t, job, (before->>'started')::timestamptz, 'failed',
                                 (before->>'processed')::bigint, (before->>'changed')::bigint,
                                 (before->'details') || jsonb_strip_nulls(jsonb_build_object('detail', nullif(e_detail, ''),
                                     'hint', nullif(e_hint, ''), 'context', nullif(e_context, ''))),
                                 (before->>'commits')::integer, e_state, e_message);
        run := run || jsonb_build_object(
            'processed', (run->>'processed')::bigint + (before->>'processed')::bigint,
            'changed', (run->>'changed')::bigint + (before->>'changed')::bigint,
            'failures', (run->'failures') || jsonb_build_array(jsonb_build_object('tenant', t, 'sqlstate', e_state, 'message', e_message,
                                                                                'run_id', failed_id)),
            'cur', NULL);
        IF fatal THEN
            run := run || jsonb_build_object('done', true, 'error', jsonb_build_object('sqlstate', e_state, 'message', e_message,
                                                                                       'detail', e_detail, 'hint', e_hint));
        END IF;
    END;
    done := (run->>'done')::boolean;
END
$$;
COMMENT ON FUNCTION crm.job_step(jsonb) IS 'Internal to crm.run_job: runs the next step of a run (a tenant''s whole work in one transaction, else its next batch): takes the job''s lock for the tenant (55P03 while another run holds it) and logs the run as running at the tenant''s start, logs it succeeded at its end; a failing step is undone and logged as failed, and ends a run for one tenant. Returns the new state, the items the step''s tenant reported and whether the run is done.';

-- What every batch job returns: how many tenants it ran for, how many of them failed (only a run for every
-- tenant goes on past a failure), its totals, the failures, and the items its bodies reported (only when
-- there are any). A run with failures also warns, so that a scheduler's log shows them; a run that ended
-- with an error (it was for one tenant, or cancelled) raises it here, after the driver committed its log.
CREATE FUNCTION crm.job_result(run jsonb, items jsonb DEFAULT '[]') RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    failures jsonb := coalesce(run->'failures', '[]');
    e jsonb := run->'error';
BEGIN
    PERFORM crm.report_progress(current_query());
    IF jsonb_typeof(e) = 'object' THEN
        -- (an option given is printed even when empty: each combination of detail and hint is its own RAISE)
        IF nullif(e->>'detail', '') IS NOT NULL AND nullif(e->>'hint', '') IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = e->>'sqlstate', MESSAGE = e->>'message', DETAIL = e->>'detail', HINT = e->>'hint';
        ELSIF nullif(e->>'detail', '') IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = e->>'sqlstate', MESSAGE = e->>'message', DETAIL = e->>'detail';
        ELSIF nullif(e->>'hint', '') IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = e->>'sqlstate', MESSAGE = e->>'message', HINT = e->>'hint';
        ELSE
            RAISE EXCEPTION USING ERRCODE = e->>'sqlstate', MESSAGE = e->>'message';
        END IF;
    END IF;
    IF jsonb_array_length(failures) > 0 THEN
        RAISE WARNING 'crm.%: % of % tenants failed', run->>'job', jsonb_array_length(failures), run->>'tenants'
            USING DETAIL = (SELECT string_agg(format('tenant %s: %s %s', f->>'tenant', f->>'sqlstate', f->>'message'), '; ')
                              FROM jsonb_array_elements(failures) f),
                  HINT = 'Their errors are in crm.job_runs (status failed); the other tenants were processed.';
    END IF;
    RETURN jsonb_build_object('tenants', (run->>'tenants')::integer, 'failed', jsonb_array_length(failures),
                              'processed', (run->>'processed')::bigint, 'changed', (run->>'changed')::bigint, 'failures', failures)
        || CASE WHEN jsonb_array_length(coalesce(items, '[]')) > 0 THEN jsonb_build_object('items', items) ELSE '{}' END;
END
$$;
COMMENT ON FUNCTION crm.job_result(jsonb, jsonb) IS 'Internal to crm.run_job: the result of a run, {"tenants": n, "failed": n, "processed": n, "changed": n, "failures": [{"tenant", "sqlstate", "message", "run_id"}]} and "items": [...] when its bodies reported any; warns when some tenant failed, raises the error that ended a run for one tenant.';

-- The job driver. A procedure, so that it can COMMIT: CALLed on its own (not inside a transaction block;
-- pg_cron calls it so), it commits after each batch and each tenant, so no row a batch wrote stays locked
-- past the batch and one tenant's work never waits for the others'. CALLed inside a transaction block,
-- or from a function (as the jobs' functions crm.rescore_leads, ... call it), it cannot commit and runs
-- as the jobs always ran: in the caller's transaction, each tenant in a subtransaction, its lock held
-- to the end. Without SET clauses (a procedure with one cannot commit): every name is schema-qualified,
-- and all it does besides committing is call the functions above.
CREATE PROCEDURE crm.run_job(job text, tenant uuid DEFAULT crm.current_tenant(), args jsonb DEFAULT '{}', INOUT result jsonb DEFAULT NULL)
    LANGUAGE plpgsql AS
$$
DECLARE
    run jsonb;
    items jsonb := '[]';
    step record;
BEGIN
    run := crm.job_start(job, tenant, args, crm.job_can_commit());
    LOOP
        SELECT s.run, s.items, s.done INTO step FROM crm.job_step(run) s;
        run := step.run;
        items := pg_catalog.jsonb_concat(items, step.items);
        IF crm.job_can_commit() THEN
            COMMIT;
        END IF;
        EXIT WHEN step.done;
    END LOOP;
    result := crm.job_result(run, items);
END
$$;
-- The driver as a function, for the jobs' own functions (crm.rescore_leads, ...): in the caller's
-- transaction, so without commits.
CREATE FUNCTION crm.run_job_in_transaction(job text, tenant uuid, args jsonb DEFAULT '{}') RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb;
BEGIN
    CALL crm.run_job(job, tenant, args, result);
    RETURN result;
END
$$;
COMMENT ON FUNCTION crm.run_job_in_transaction(text, uuid, jsonb) IS 'Runs a job with crm.run_job in the caller''s transaction (a function cannot commit) and returns its result; what the jobs'' functions (crm.rescore_leads, crm.refresh_health_scores, ...) are.';

-- What the HTTP API's job functions (crm_api.rescore_leads, ...) return: the rows changed, for the
-- request's tenant; another run is a conflict over HTTP (409), not a server error (PostgREST maps 55P03
-- to 500).
CREATE FUNCTION crm.run_job_for_http(job text, args jsonb DEFAULT '{}') RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RETURN (crm.run_job_in_transaction(job, crm.current_tenant(), args)->>'changed')::bigint;
EXCEPTION WHEN lock_not_available THEN
    RAISE EXCEPTION '%', SQLERRM USING ERRCODE = 'PT409', HINT = 'One run at a time: try again when the other run has finished.';
END
$$;
COMMENT ON FUNCTION crm.run_job_for_http(text, jsonb) IS 'Runs a job for the request''s tenant in the caller''s transaction and returns how many rows it changed; PT409 (HTTP 409) while another run of the job works for the tenant.';

COMMENT ON PROCEDURE crm.run_job(text, uuid, jsonb, jsonb) IS 'Runs a batch job (crm.job_names(): rescore_leads, refresh_health_scores, refresh_segments, snapshot_forecast, rebuild_account_activity, rebuild_win_model) with its arguments (e.g. {"full_pass": true}, {"on_date": "2026-01-31"}) for a tenant (default: the request context''s; the operator without a context: NULL, every tenant in id order), and returns {"tenants", "failed", "processed", "changed", "failures": [...]} in result. Managers and admins run it for their own tenant, the operator for any (42501 otherwise; an unknown tenant PT404, an unknown job or argument 22023). One run per job and tenant at a time (55P03), logged in crm.job_runs (status running while it works). CALLed outside a transaction block it commits after every batch and every tenant: a failure undoes only the batch that failed; inside one (or from a function) it runs in the caller''s transaction. In a run for every tenant a failing tenant is logged as failed and the others go on; a run for one tenant raises its error.';

CREATE FUNCTION crm.job_can_commit() RETURNS boolean
    AS 'MODULE_PATHNAME', 'crm_job_can_commit'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.job_can_commit() IS 'Whether the PL/pgSQL procedure calling it may COMMIT now: CALLed outside a transaction block (or from a DO block or procedure that may), with no subtransaction open. crm.run_job commits between batches only then.';

CREATE VIEW crm_api.job_runs WITH (security_invoker = true) AS
    SELECT tenant_id, id, job, started_at, finished_at, duration, processed, changed, details, run_by, db_role, status,
           error_sqlstate, error_message, commits
      FROM crm.job_runs;
COMMENT ON VIEW crm_api.job_runs IS 'Runs of the tenant''s batch jobs (rescoring, ...), newest first by started_at (managers and admins): a running one with its progress so far, a failed one (status failed) with its SQLSTATE and message.';
GRANT SELECT ON crm_api.job_runs TO crm_manager;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist. A rep may start the driver (and so the
-- jobs' functions), which then refuses it with the jobs' own 42501; the bodies and the log are a
-- manager's.
REVOKE EXECUTE ON FUNCTION crm.report_progress(text), crm.lock_job(text,uuid,boolean), crm.unlock_job(text,uuid),
    crm.job_lock_held(text,uuid), crm.check_job_caller(uuid), crm.job_names(), crm.job_check_args(text,jsonb,jsonb),
    crm.unknown_job(text), crm.job_args(text,jsonb), crm.job_start(text,uuid,jsonb,boolean), crm.job_step(jsonb),
    crm.job_result(jsonb,jsonb), crm.job_can_commit(), crm.run_job_in_transaction(text,uuid,jsonb), crm.run_job_for_http(text,jsonb), crm.job_tenant(text,uuid,jsonb,jsonb),
    crm.job_tenant_as_owner(text,uuid,jsonb,jsonb), crm.job_log(uuid,uuid,text,timestamptz,text,bigint,bigint,jsonb,integer,text,text) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE crm.run_job(text,uuid,jsonb,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.report_progress(text), crm.lock_job(text,uuid,boolean), crm.unlock_job(text,uuid),
    crm.job_lock_held(text,uuid), crm.check_job_caller(uuid), crm.job_names(), crm.job_check_args(text,jsonb,jsonb),
    crm.unknown_job(text), crm.job_args(text,jsonb), crm.job_start(text,uuid,jsonb,boolean), crm.job_step(jsonb),
    crm.job_result(jsonb,jsonb), crm.job_can_commit(), crm.run_job_in_transaction(text,uuid,jsonb), crm.run_job_for_http(text,jsonb)
    TO crm_rep;
GRANT EXECUTE ON PROCEDURE crm.run_job(text,uuid,jsonb,jsonb) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.job_tenant(text,uuid,jsonb,jsonb), crm.job_tenant_as_owner(text,uuid,jsonb,jsonb),
    crm.job_log(uuid,uuid,text,timestamptz,text,bigint,bigint,jsonb,integer,text,text) TO crm_manager;
