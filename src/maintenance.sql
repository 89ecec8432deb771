-- maintenance.sql: the periodic jobs (health snapshots, segment refreshes, lead rescoring, forecast
-- snapshots) under
-- pg_cron, with stable job names, so that scheduling again updates rather than duplicates. Each is a
-- CALL of the job driver crm.run_job on its own (pg_cron runs it outside a transaction block), so that
-- it commits batch by batch and tenant by tenant. Without pg_cron any scheduler can CALL the same. A job
-- runs as the role that scheduled it and without a tenant context, so the jobs process every tenant:
-- only the operator (a role that bypasses row-level security) schedules them.

CREATE FUNCTION crm.maintenance_jobs(health_cron text, segments_cron text, scoring_cron text, forecast_cron text)
    RETURNS TABLE (jobname text, schedule text, command text)
    LANGUAGE sql IMMUTABLE AS
$$
    VALUES ('crm-health-scores', health_cron, 'CALL crm.run_job(''refresh_health_scores'', NULL)'),
           ('crm-segments', segments_cron, 'CALL crm.run_job(''refresh_segments'', NULL)'),
           ('crm-lead-rescoring', scoring_cron, 'CALL crm.run_job(''rescore_leads'', NULL)'),
           ('crm-forecast-snapshot', forecast_cron, 'CALL crm.run_job(''snapshot_forecast'', NULL)')
$$;
COMMENT ON FUNCTION crm.maintenance_jobs(text, text, text, text) IS 'The periodic jobs of crm, their pg_cron names and commands (CALL crm.run_job(job, NULL): every tenant, committed as they go): crm-health-scores, crm-segments, crm-lead-rescoring, crm-forecast-snapshot.';

-- Raises a clear error unless pg_cron is usable here.
CREATE FUNCTION crm.require_pg_cron() RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database() USING ERRCODE = '55000',
            HINT = format('Install it (Debian: apt-get install postgresql-%s-cron), add pg_cron to shared_preload_libraries, set cron.database_name = %L, restart, then CREATE EXTENSION pg_cron here. Without pg_cron, CALL crm.run_job(job, NULL) from any scheduler for the jobs refresh_health_scores, refresh_segments, rescore_leads and snapshot_forecast.',
                          current_setting('server_version_num')::int / 10000, current_database());
    END IF;
END
$$;
COMMENT ON FUNCTION crm.require_pg_cron() IS 'Raises 55000 with a hint (how to install pg_cron, and that cron.database_name must be this database) unless pg_cron is installed in this database.';

CREATE FUNCTION crm.schedule_maintenance(health_cron text DEFAULT '0 2 * * *', segments_cron text DEFAULT '*/15 * * * *',
                                         scoring_cron text DEFAULT '30 2 * * *', forecast_cron text DEFAULT '0 3 * * 1')
    RETURNS TABLE (jobname text, schedule text, command text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    j record;
BEGIN
    PERFORM crm.require_pg_cron();
    IF crm.current_tenant() IS NOT NULL OR row_security_active('crm.accounts') THEN
        RAISE EXCEPTION 'permission denied: the maintenance jobs run without a tenant context, so only the operator schedules them'
            USING ERRCODE = '42501', HINT = 'Schedule them as a role that bypasses row-level security (the extension''s owner, a superuser).';
    END IF;
    FOR j IN SELECT * FROM crm.maintenance_jobs(health_cron, segments_cron, scoring_cron, forecast_cron) LOOP
        -- cron.schedule with an existing name of the same user updates that job (22023 for a bad schedule)
        PERFORM cron.schedule(j.jobname, j.schedule, j.command);
    END LOOP;
    RETURN QUERY SELECT c.jobname::text, c.schedule::text, c.command::text FROM cron.job c
                  WHERE c.jobname IN (SELECT m.jobname FROM crm.maintenance_jobs(NULL, NULL, NULL, NULL) m) AND c.username = current_user
                  ORDER BY c.jobname;
END
$$;
COMMENT ON FUNCTION crm.schedule_maintenance(text, text, text, text) IS 'Registers crm''s periodic jobs with pg_cron (crm-health-scores daily at 02:00, crm-segments every 15 minutes, crm-lead-rescoring daily at 02:30, crm-forecast-snapshot weekly on Monday at 03:00, UTC, unless given) and returns them; calling it again updates them. For the operator; 55000 with a hint without pg_cron in this database; 22023 for a bad schedule.';

CREATE FUNCTION crm.unschedule_maintenance() RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n integer := 0;
    id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    FOR id IN SELECT c.jobid FROM cron.job c WHERE c.jobname IN (SELECT m.jobname FROM crm.maintenance_jobs(NULL, NULL, NULL, NULL) m) LOOP
        PERFORM cron.unschedule(id);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION crm.unschedule_maintenance() IS 'Removes crm''s pg_cron jobs (whoever scheduled them, as far as the caller may) and returns how many; 0 without pg_cron. DROP EXTENSION crm does the same.';

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.maintenance_jobs(text,text,text,text), crm.require_pg_cron(),
    crm.schedule_maintenance(text,text,text,text), crm.unschedule_maintenance() FROM PUBLIC;
