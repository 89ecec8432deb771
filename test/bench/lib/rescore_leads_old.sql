-- rescore_leads_old.sql: crm.rescore_leads as it was before the job driver (src/jobs.sql), its own loop
-- over the tenants in one transaction, for test/bench/jobs.sh to compare the driver with. Its lock, log
-- and result helpers are inlined as they were (they are gone from crm).
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE FUNCTION bench.rescore_leads_old(tenant uuid DEFAULT crm.current_tenant(), full_pass boolean DEFAULT false) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    batch integer := coalesce(nullif(current_setting('crm.batch_size', true), '')::integer, 10000);
    t uuid;
    state jsonb;
    incremental boolean;
    started timestamptz;
    lo uuid;
    hi uuid;
    scanned bigint;
    changed bigint;
    qualified bigint;
    batches integer;
    total bigint;
    all_scanned bigint := 0;
    all_changed bigint := 0;
    tenants integer := 0;
    failures jsonb := '[]';
    e_state text;
    e_message text;
    e_detail text;
    e_hint text;
    e_context text;
BEGIN
    PERFORM crm.check_job_caller(tenant);
    -- one tenant, or (the operator, no tenant given) every tenant in turn
    FOR t IN SELECT x.id FROM crm.tenants x WHERE tenant IS NULL OR x.id = tenant ORDER BY x.id LOOP
        tenants := tenants + 1;
        started := clock_timestamp();
        BEGIN
            IF NOT pg_try_advisory_xact_lock(hashtext('crm job rescore_leads'), hashtext(t::text)) THEN
                RAISE EXCEPTION 'rescore_leads is already running for tenant %', t USING ERRCODE = '55P03';
            END IF;
            state := crm.scoring_state(t);
            -- incremental unless asked, or the model or threshold changed since the last full pass
            incremental := NOT full_pass AND state IS NOT DISTINCT FROM
                (SELECT r.details->'state' FROM crm.job_runs r
                  WHERE r.tenant_id = t AND r.job = 'rescore_leads' AND r.status = 'succeeded' AND r.details->>'pass' = 'full'
                  ORDER BY r.started_at DESC, r.id DESC LIMIT 1);
            total := CASE WHEN incremental
                          THEN (SELECT count(*) FROM crm.leads x WHERE x.tenant_id = t AND (x.engagement IS NOT NULL OR x.score IS NULL))
                          ELSE (SELECT count(*) FROM crm.leads x WHERE x.tenant_id = t) END;
            lo := '00000000-0000-0000-0000-000000000000';
            scanned := 0; changed := 0; qualified := 0; batches := 0;
            LOOP
                SELECT r.scanned, r.changed, r.qualified, r.hi INTO scanned, changed, qualified, hi
                  FROM crm.rescore_batch(t, lo, batch, incremental, (state->>'threshold')::integer, scanned, changed, qualified) r;
                EXIT WHEN hi IS NULL;
                batches := batches + 1;
                lo := hi;
                PERFORM crm.report_progress(format('crm.rescore_leads: tenant %s: %s of %s leads scored, %s changed (%s pass)',
                                                   t, scanned, total, changed, CASE WHEN incremental THEN 'incremental' ELSE 'full' END));
                EXIT WHEN lo = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
            END LOOP;
            -- (crm.log_job_run as it was: a definer's insert of the finished run, after its caller check)
            PERFORM crm.check_job_caller(t);
            INSERT INTO crm.job_runs (tenant_id, job, started_at, processed, changed, details, run_by, db_role)
            VALUES (t, 'rescore_leads', started, scanned, changed,
                    jsonb_build_object('pass', CASE WHEN incremental THEN 'incremental' ELSE 'full' END, 'state', state,
                                       'qualified', qualified, 'batches', batches, 'batch_size', batch),
                    crm.current_user_id(), current_user);
            all_scanned := all_scanned + scanned;
            all_changed := all_changed + changed;
        EXCEPTION WHEN OTHERS THEN
            -- a run for one tenant fails as a whole; in a run for every tenant, this tenant's part is
            -- undone and logged as failed, and the others go on
            IF tenant IS NOT NULL THEN
                RAISE;
            END IF;
            GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT, e_detail = PG_EXCEPTION_DETAIL,
                                    e_hint = PG_EXCEPTION_HINT, e_context = PG_EXCEPTION_CONTEXT;
            failures := failures || jsonb_build_array(jsonb_build_object('tenant', t, 'sqlstate', e_state, 'message', e_message));
        END;
    END LOOP;
    PERFORM crm.report_progress(current_query());
    RETURN jsonb_build_object('tenants', tenants, 'failed', jsonb_array_length(failures), 'processed', all_scanned,
                              'changed', all_changed, 'failures', failures);
END
$$;

