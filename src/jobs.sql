-- jobs.sql: what crm's batch jobs share (rescoring leads now; health scores and segments later): one
-- run at a time per job and tenant, progress visible while a run works, and a log of the runs.

CREATE FUNCTION crm.report_progress(message text) RETURNS void
    AS 'MODULE_PATHNAME', 'crm_report_progress'
    LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.report_progress(text) IS 'Shows a running job''s progress in pg_stat_activity.query of its backend (visible to other sessions at once, unlike a table row); a job restores its statement''s text with crm.report_progress(current_query()) when it ends.';

-- One run of a job per tenant at a time: the second caller gets 55P03 at once instead of waiting.
CREATE FUNCTION crm.lock_job(job text, tenant uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('crm job ' || job), hashtext(tenant::text)) THEN
        RAISE EXCEPTION '% is already running for tenant %', job, tenant USING ERRCODE = '55P03',
            HINT = 'One run at a time: wait for the other run to finish (see pg_stat_activity).';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.lock_job(text, uuid) IS 'Takes the transaction-scoped advisory lock of a job for a tenant; raises 55P03 when another run holds it, so two runs never overlap.';

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
    finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    duration    interval    GENERATED ALWAYS AS (finished_at - started_at) STORED,
    processed   bigint      NOT NULL CHECK (processed >= 0),
    changed     bigint      NOT NULL CHECK (changed >= 0),
    details     jsonb       NOT NULL DEFAULT '{}',
    run_by      uuid,
    db_role     text        NOT NULL,
    status      text        NOT NULL DEFAULT 'succeeded' CHECK (status IN ('succeeded', 'failed')),
    error_sqlstate text     CHECK (error_sqlstate ~ '^[0-9A-Z]{5}$'),
    error_message  text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT job_runs_error CHECK ((status = 'failed') = (error_sqlstate IS NOT NULL) AND (error_sqlstate IS NULL) = (error_message IS NULL))
);
CREATE INDEX job_runs_tenant_job ON crm.job_runs (tenant_id, job, started_at DESC);
COMMENT ON TABLE crm.job_runs IS 'The log of batch job runs (rescore_leads, ...): one row per run and tenant with its counts and duration. Written by the jobs; managers and admins read it.';
COMMENT ON COLUMN crm.job_runs.tenant_id IS 'The tenant the run processed.';
COMMENT ON COLUMN crm.job_runs.id IS 'The run''s id (uuid_v7).';
COMMENT ON COLUMN crm.job_runs.job IS 'Which job: rescore_leads, ...';
COMMENT ON COLUMN crm.job_runs.started_at IS 'When the run started (wall clock).';
COMMENT ON COLUMN crm.job_runs.finished_at IS 'When it finished (wall clock).';
COMMENT ON COLUMN crm.job_runs.duration IS 'How long it took.';
COMMENT ON COLUMN crm.job_runs.processed IS 'Rows it looked at.';
COMMENT ON COLUMN crm.job_runs.changed IS 'Rows it changed.';
COMMENT ON COLUMN crm.job_runs.details IS 'Further counts of the job (e.g. leads qualified, batches).';
COMMENT ON COLUMN crm.job_runs.run_by IS 'The CRM user who ran it (crm.current_user_id()); NULL for a scheduled run.';
COMMENT ON COLUMN crm.job_runs.db_role IS 'The database role that ran it.';
COMMENT ON COLUMN crm.job_runs.status IS 'succeeded, or failed: the tenant''s part of an all-tenant run raised an error, which undid that part (processed and changed are then 0) while the run went on with the other tenants.';
COMMENT ON COLUMN crm.job_runs.error_sqlstate IS 'A failed run''s SQLSTATE (e.g. 22023); NULL when it succeeded.';
COMMENT ON COLUMN crm.job_runs.error_message IS 'A failed run''s error message (its detail, hint and context in details); NULL when it succeeded.';
ALTER TABLE crm.job_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.job_runs FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.job_runs', '');
SELECT crm.secure_table('crm.job_runs', 'log');

-- Logs a run. SECURITY DEFINER (nobody writes the log directly), so it checks its caller itself: a
-- manager or admin for its own tenant, or the operator (a role that bypasses row-level security).
CREATE FUNCTION crm.log_job_run(tenant uuid, job text, started_at timestamptz, processed bigint, changed bigint,
                                details jsonb DEFAULT '{}')
    RETURNS uuid
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    caller text := CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END;
    run_id uuid;
BEGIN
    PERFORM crm.check_job_caller(tenant);
    INSERT INTO crm.job_runs (tenant_id, job, started_at, processed, changed, details, run_by, db_role)
    VALUES (tenant, job, started_at, processed, changed, coalesce(details, '{}'), crm.current_user_id(), caller)
    RETURNING id INTO run_id;
    RETURN run_id;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.log_job_run(uuid, text, timestamptz, bigint, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.log_job_run(uuid, text, timestamptz, bigint, bigint, jsonb) TO crm_manager;
COMMENT ON FUNCTION crm.log_job_run(uuid, text, timestamptz, bigint, bigint, jsonb) IS 'Internal: appends a run to crm.job_runs (for the tenant''s managers and admins, or the operator); 42501 for anyone else.';

-- Logs the failure of a tenant's part of an all-tenant run (what it did was undone): the error, so that
-- the run can go on with the other tenants and the failure is still seen.
CREATE FUNCTION crm.log_job_failure(tenant uuid, job text, started_at timestamptz, sqlstate text, message text,
                                    detail text DEFAULT NULL, hint text DEFAULT NULL, context text DEFAULT NULL)
    RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    caller text := CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END;
    run_id uuid;
BEGIN
    PERFORM crm.check_job_caller(tenant);
    INSERT INTO crm.job_runs (tenant_id, job, started_at, processed, changed, details, run_by, db_role, status, error_sqlstate,
                              error_message)
    VALUES (tenant, job, coalesce(started_at, clock_timestamp()), 0, 0,
            jsonb_strip_nulls(jsonb_build_object('detail', nullif(detail, ''), 'hint', nullif(hint, ''), 'context', nullif(context, ''))),
            crm.current_user_id(), caller, 'failed', sqlstate, message)
    RETURNING id INTO run_id;
    RETURN jsonb_build_array(jsonb_build_object('tenant', tenant, 'sqlstate', sqlstate, 'message', message, 'run_id', run_id));
END
$$;
REVOKE EXECUTE ON FUNCTION crm.log_job_failure(uuid, text, timestamptz, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.log_job_failure(uuid, text, timestamptz, text, text, text, text, text) TO crm_manager;
COMMENT ON FUNCTION crm.log_job_failure(uuid, text, timestamptz, text, text, text, text, text) IS 'Internal: appends a failed run of a job for a tenant to crm.job_runs (status failed, its SQLSTATE and message; details: detail, hint, context) and returns it as a one-element array [{tenant, sqlstate, message, run_id}] for the job''s failures; for the tenant''s managers and admins or the operator, 42501 for anyone else.';

-- What every batch job returns: how many tenants it ran for, how many of them failed (only an
-- all-tenant run goes on past a failure), its totals, and the failures. A run with failures also warns,
-- so that a scheduler's log shows them.
CREATE FUNCTION crm.job_result(job text, tenants integer, processed bigint, changed bigint, failures jsonb DEFAULT '[]')
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF jsonb_array_length(failures) > 0 THEN
        RAISE WARNING 'crm.%: % of % tenants failed', job, jsonb_array_length(failures), tenants
            USING DETAIL = (SELECT string_agg(format('tenant %s: %s %s', f->>'tenant', f->>'sqlstate', f->>'message'), '; ')
                              FROM jsonb_array_elements(failures) f),
                  HINT = 'Their errors are in crm.job_runs (status failed); the other tenants were processed.';
    END IF;
    RETURN jsonb_build_object('tenants', tenants, 'failed', jsonb_array_length(failures), 'processed', processed,
                              'changed', changed, 'failures', failures);
END
$$;
REVOKE EXECUTE ON FUNCTION crm.job_result(text, integer, bigint, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.job_result(text, integer, bigint, bigint, jsonb) TO crm_manager;
COMMENT ON FUNCTION crm.job_result(text, integer, bigint, bigint, jsonb) IS 'Internal: the result of a batch job, {"tenants": n, "failed": n, "processed": n, "changed": n, "failures": [{"tenant", "sqlstate", "message", "run_id"}]}; warns when some tenant failed.';

CREATE VIEW crm_api.job_runs WITH (security_invoker = true) AS
    SELECT tenant_id, id, job, started_at, finished_at, duration, processed, changed, details, run_by, db_role, status,
           error_sqlstate, error_message
      FROM crm.job_runs;
COMMENT ON VIEW crm_api.job_runs IS 'Runs of the tenant''s batch jobs (rescoring, ...), newest first by started_at (managers and admins); a failed one (status failed) with its SQLSTATE and message.';
GRANT SELECT ON crm_api.job_runs TO crm_manager;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.report_progress(text), crm.lock_job(text,uuid), crm.check_job_caller(uuid) FROM
    PUBLIC;
GRANT EXECUTE ON FUNCTION crm.report_progress(text), crm.lock_job(text,uuid), crm.check_job_caller(uuid) TO
    crm_rep;
