-- privileges.sql (pgTAP): functions are closed by default. Every function of crm and crm_api is
-- executable by exactly the roles its entry below names (a new function without an entry fails), trigger
-- functions by no one, and no SECURITY DEFINER trigger function runs for a table that is not its own:
-- the attack of a login that attaches one to a temporary table of its own changes nothing.
\ir lib/preamble.psql

BEGIN;
SELECT plan(21);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- Who may execute what. public: everyone (the types crm.email and crm.phone, crm.uuid_v7); anon+rep:
-- crm_anon and crm_rep (and so crm_manager and crm_admin); rep, manager, admin: that role and the ones
-- above it; none: only the owner (trigger functions, aggregate support, internals of definer functions,
-- the operator's functions).
CREATE TEMP TABLE allowlist (signature text PRIMARY KEY, who text NOT NULL
    CHECK (who IN ('public', 'anon+rep', 'rep', 'manager', 'admin', 'none')));
INSERT INTO allowlist VALUES
    ('crm.email(text)', 'public'),
    ('crm.email_cmp(crm.email,crm.email)', 'public'),
    ('crm.email_domain(crm.email)', 'public'),
    ('crm.email_eq(crm.email,crm.email)', 'public'),
    ('crm.email_ge(crm.email,crm.email)', 'public'),
    ('crm.email_gt(crm.email,crm.email)', 'public'),
    ('crm.email_hash(crm.email)', 'public'),
    ('crm.email_hash_extended(crm.email,bigint)', 'public'),
    ('crm.email_in(cstring)', 'public'),
    ('crm.email_larger(crm.email,crm.email)', 'public'),
    ('crm.email_le(crm.email,crm.email)', 'public'),
    ('crm.email_lt(crm.email,crm.email)', 'public'),
    ('crm.email_ne(crm.email,crm.email)', 'public'),
    ('crm.email_out(crm.email)', 'public'),
    ('crm.email_recv(internal)', 'public'),
    ('crm.email_send(crm.email)', 'public'),
    ('crm.email_smaller(crm.email,crm.email)', 'public'),
    ('crm.phone(text)', 'public'),
    ('crm.phone_cmp(crm.phone,crm.phone)', 'public'),
    ('crm.phone_country_code(crm.phone)', 'public'),
    ('crm.phone_eq(crm.phone,crm.phone)', 'public'),
    ('crm.phone_ge(crm.phone,crm.phone)', 'public'),
    ('crm.phone_gt(crm.phone,crm.phone)', 'public'),
    ('crm.phone_hash(crm.phone)', 'public'),
    ('crm.phone_hash_extended(crm.phone,bigint)', 'public'),
    ('crm.phone_in(cstring)', 'public'),
    ('crm.phone_larger(crm.phone,crm.phone)', 'public'),
    ('crm.phone_le(crm.phone,crm.phone)', 'public'),
    ('crm.phone_lt(crm.phone,crm.phone)', 'public'),
    ('crm.phone_ne(crm.phone,crm.phone)', 'public'),
    ('crm.phone_out(crm.phone)', 'public'),
    ('crm.phone_recv(internal)', 'public'),
    ('crm.phone_send(crm.phone)', 'public'),
    ('crm.phone_smaller(crm.phone,crm.phone)', 'public'),
    ('crm.text(crm.phone)', 'public'),
    ('crm.to_phone(text,text)', 'public'),
    ('crm.uuid_v7()', 'public'),
    ('crm.current_app_role()', 'anon+rep'),
    ('crm.current_tenant()', 'anon+rep'),
    ('crm.current_user_id()', 'anon+rep'),
    ('crm.pre_request()', 'anon+rep'),
    ('crm_api.current_context()', 'anon+rep'),
    ('crm.account_health_history(uuid)', 'rep'),
    ('crm.attribution_models()', 'rep'),
    ('crm.attribution_weight(text,bigint,bigint,double precision)', 'rep'),
    ('crm.campaign_lead_count(uuid)', 'rep'),
    ('crm.changes_all_records()', 'rep'),
    ('crm.check_enum_label(text,text,text)', 'rep'),
    ('crm.check_forecast_args(text,date,integer,text)', 'rep'),
    ('crm.check_job_caller(uuid)', 'rep'),
    ('crm.check_period(date,date)', 'rep'),
    ('crm.check_points(jsonb,text)', 'rep'),
    ('crm.check_tenant_caller(uuid)', 'rep'),
    ('crm.check_user_and_team(uuid,uuid)', 'rep'),
    ('crm.close_lead(uuid,text)', 'rep'),
    ('crm.complete_task(uuid,text)', 'rep'),
    ('crm.convert_lead(uuid,boolean,text,numeric,date)', 'rep'),
    ('crm.dashboard(uuid)', 'rep'),
    ('crm.default_scoring_rules()', 'rep'),
    ('crm.entity_table(crm.entity_type)', 'rep'),
    ('crm.explain_lead_score(crm.leads)', 'rep'),
    ('crm.explain_lead_win_probability(crm.leads)', 'rep'),
    ('crm.forecast(text,date,integer,text)', 'rep'),
    ('crm.forecast_of(uuid,text,date,integer,text)', 'rep'),
    ('crm.health_band(integer)', 'rep'),
    ('crm.health_factors(double precision[],double precision[],double precision[])', 'rep'),
    ('crm.health_measures(double precision[])', 'rep'),
    ('crm.health_recommendations(double precision[],double precision[])', 'rep'),
    ('crm.health_risk_level(integer)', 'rep'),
    ('crm.health_score(double precision[],double precision[])', 'rep'),
    ('crm.health_trend(integer,integer)', 'rep'),
    ('crm.is_free_mail_domain(text)', 'rep'),
    ('crm.lead_engagement(uuid,uuid)', 'rep'),
    ('crm.lead_grade(integer)', 'rep'),
    ('crm.lead_needs_rescoring(integer,integer,crm.lead_status,timestamp with time zone,integer)', 'rep'),
    ('crm.lead_outcome(crm.leads)', 'rep'),
    ('crm.lead_outcome_fields(uuid,crm.lead_status,uuid)', 'rep'),
    ('crm.lead_score(crm.leads)', 'rep'),
    ('crm.lead_score_fields(uuid,integer,numeric,numeric,text,character,text,text,crm.lead_source,crm.purchase_timeline,boolean,jsonb)', 'rep'),
    ('crm.lead_score_parts(crm.leads)', 'rep'),
    ('crm.lead_source_analytics(date,date)', 'rep'),
    ('crm.lead_win_probability(crm.leads)', 'rep'),
    ('crm.job_args(text,jsonb)', 'rep'),
    ('crm.job_can_commit()', 'rep'),
    ('crm.job_check_args(text,jsonb,jsonb)', 'rep'),
    ('crm.job_lock_held(text,uuid)', 'rep'),
    ('crm.job_names()', 'rep'),
    ('crm.job_result(jsonb,jsonb)', 'rep'),
    ('crm.job_start(text,uuid,jsonb,boolean)', 'rep'),
    ('crm.job_step(jsonb)', 'rep'),
    ('crm.lock_job(text,uuid,boolean)', 'rep'),
    ('crm.refresh_health_scores_args(jsonb)', 'rep'),
    ('crm.refresh_segments_args(jsonb)', 'rep'),
    ('crm.rescore_leads_args(jsonb)', 'rep'),
    ('crm.snapshot_forecast_args(jsonb)', 'rep'),
    ('crm.run_job(text,uuid,jsonb,jsonb)', 'rep'),
    ('crm.run_job_for_http(text,jsonb)', 'rep'),
    ('crm.run_job_in_transaction(text,uuid,jsonb)', 'rep'),
    ('crm.unknown_job(text)', 'rep'),
    ('crm.unlock_job(text,uuid)', 'rep'),
    ('crm.log_activity(crm.activity_type,text,text,uuid,uuid,uuid,uuid,text,crm.activity_direction,timestamp with time zone,integer,crm.sentiment,text)', 'rep'),
    ('crm.move_opportunity(uuid,text,text)', 'rep'),
    ('crm.not_found(text,uuid)', 'rep'),
    ('crm.pipeline_or_default(uuid)', 'rep'),
    ('crm.pipeline_summary(uuid,uuid)', 'rep'),
    ('crm.pipeline_totals(uuid,numeric,integer,timestamp with time zone)', 'rep'),
    ('crm.qualification_threshold(uuid)', 'rep'),
    ('crm.reassign_owner(crm.entity_type,uuid,uuid)', 'rep'),
    ('crm.report_progress(text)', 'rep'),
    ('crm.rescore_batch(uuid,uuid,integer,boolean,integer,bigint,bigint,bigint)', 'rep'),
    ('crm.rescore_leads(uuid,boolean)', 'rep'),
    ('crm.revenue_attribution(date,date,text)', 'rep'),
    ('crm.sales_metrics(date,date,uuid,uuid)', 'rep'),
    ('crm.score_lead(uuid)', 'rep'),
    ('crm.scoring_field_kind(text)', 'rep'),
    ('crm.scoring_state(uuid)', 'rep'),
    ('crm.sees_all_records()', 'rep'),
    ('crm.segment_accounts(uuid,uuid,uuid,numeric[],text[])', 'rep'),
    ('crm.segment_field_kind(text)', 'rep'),
    ('crm.segment_predicate(jsonb)', 'rep'),
    ('crm.segment_value_fits(text,jsonb)', 'rep'),
    ('crm.set_context(uuid,uuid,boolean)', 'rep'),
    ('crm.stage_forecast_category(integer,boolean,boolean)', 'rep'),
    ('crm.tenant_currency()', 'rep'),
    ('crm.tenant_settings(jsonb)', 'rep'),
    ('crm.timeline(crm.entity_type,uuid,integer,text)', 'rep'),
    ('crm.validate_scoring_rules(jsonb)', 'rep'),
    ('crm.validate_segment_criteria(jsonb,text,integer)', 'rep'),
    ('crm.visible_lead(uuid)', 'rep'),
    ('crm.health_weights(jsonb)', 'rep'),
    ('crm.scoring_limits()', 'rep'),
    ('crm.validate_lead_engagement(jsonb)', 'rep'),
    ('crm.win_features(crm.leads)', 'rep'),
    ('crm.win_features_fields(crm.lead_source,text,character,crm.purchase_timeline,boolean,integer,numeric)', 'rep'),
    ('crm_api.account_health_history(uuid)', 'rep'),
    ('crm_api.close_lead(uuid,text)', 'rep'),
    ('crm_api.complete_task(uuid,text)', 'rep'),
    ('crm_api.convert_lead(uuid,boolean,text,numeric,date)', 'rep'),
    ('crm_api.dashboard(uuid)', 'rep'),
    ('crm_api.explain_lead_score(uuid)', 'rep'),
    ('crm_api.forecast(text,date,integer,text)', 'rep'),
    ('crm_api.lead_source_analytics(date,date)', 'rep'),
    ('crm_api.lead_win_probability(uuid)', 'rep'),
    ('crm_api.log_activity(crm.activity_type,text,text,uuid,uuid,uuid,uuid,text,crm.activity_direction,timestamp with time zone,integer,crm.sentiment,text)', 'rep'),
    ('crm_api.move_opportunity(uuid,text,text)', 'rep'),
    ('crm_api.pipeline_summary(uuid,uuid)', 'rep'),
    ('crm_api.reassign_owner(crm.entity_type,uuid,uuid)', 'rep'),
    ('crm_api.rebuild_account_activity()', 'rep'),
    ('crm_api.rebuild_win_model()', 'rep'),
    ('crm_api.refresh_health_scores(date)', 'rep'),
    ('crm_api.refresh_segment(uuid)', 'rep'),
    ('crm_api.rescore_leads(boolean)', 'rep'),
    ('crm_api.revenue_attribution(date,date,text)', 'rep'),
    ('crm_api.sales_metrics(date,date,uuid,uuid)', 'rep'),
    ('crm_api.score_lead(uuid)', 'rep'),
    ('crm_api.segment_members(uuid)', 'rep'),
    ('crm_api.timeline(text,uuid,integer,text)', 'rep'),
    ('crm.rebuild_account_activity(uuid)', 'manager'),
    ('crm.job_log(uuid,uuid,text,timestamp with time zone,text,bigint,bigint,jsonb,integer,text,text)', 'manager'),
    ('crm.job_tenant(text,uuid,jsonb,jsonb)', 'manager'),
    ('crm.job_tenant_as_owner(text,uuid,jsonb,jsonb)', 'manager'),
    ('crm.rebuild_account_activity_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.rebuild_win_model_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.refresh_health_scores_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.refresh_segments_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.rescore_leads_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.snapshot_forecast_tenant(uuid,jsonb,jsonb)', 'manager'),
    ('crm.rebuild_win_model(uuid)', 'manager'),
    ('crm.refresh_health_scores(date)', 'manager'),
    ('crm.refresh_segment(uuid)', 'manager'),
    ('crm.refresh_segments(uuid)', 'manager'),
    ('crm.snapshot_forecast(text,integer)', 'manager'),
    ('crm_api.snapshot_forecast(text,integer)', 'manager'),
    ('crm.accounts_before_write()', 'none'),
    ('crm.accounts_null_references()', 'none'),
    ('crm.campaigns_null_references()', 'none'),
    ('crm.contacts_null_references()', 'none'),
    ('crm.leads_null_references()', 'none'),
    ('crm.opportunities_null_references()', 'none'),
    ('crm.segments_null_references()', 'none'),
    ('crm.users_null_references()', 'none'),
    ('crm.activities_after_write()', 'none'),
    ('crm.activities_roll_up_delete()', 'none'),
    ('crm.activities_roll_up_insert()', 'none'),
    ('crm.activities_roll_up_truncate()', 'none'),
    ('crm.activities_roll_up_update()', 'none'),
    ('crm.audit()', 'none'),
    ('crm.campaign_members_responded()', 'none'),
    ('crm.campaigns_default_currency()', 'none'),
    ('crm.cases_before_write()', 'none'),
    ('crm.check_hierarchy()', 'none'),
    ('crm.contact_channel_after()', 'none'),
    ('crm.contact_channel_before()', 'none'),
    ('crm.contacts_after_write()', 'none'),
    ('crm.contacts_before_write()', 'none'),
    ('crm.create_default_pipeline(uuid)', 'none'),
    ('crm.create_default_scoring_model(uuid)', 'none'),
    ('crm.create_default_segments(uuid)', 'none'),
    ('crm.create_tenant(text,jsonb,uuid)', 'none'),
    ('crm.emit_event(uuid,text,crm.entity_type,uuid,jsonb)', 'none'),
    ('crm.drop_guard()', 'none'),
    ('crm.emit_record_events()', 'none'),
    ('crm.lead_score_support(internal)', 'none'),
    ('crm.leads_after_scoring()', 'none'),
    ('crm.leads_before_write()', 'none'),
    ('crm.leads_count_outcome()', 'none'),
    ('crm.leads_score()', 'none'),
    ('crm.line_items_before_write()', 'none'),
    ('crm.line_items_sum()', 'none'),
    ('crm.maintenance_jobs(text,text,text,text)', 'none'),
    ('crm.nps_responses_before_write()', 'none'),
    ('crm.opportunities_amount_from_lines()', 'none'),
    ('crm.opportunities_before_write()', 'none'),
    ('crm.opportunities_count_outcome()', 'none'),
    ('crm.opportunities_record_stage()', 'none'),
    ('crm.pipeline_stages_before_write()', 'none'),
    ('crm.pipeline_totals_add(bytea,uuid,numeric,integer,timestamp with time zone)', 'none'),
    ('crm.pipeline_totals_merge(bytea,bytea)', 'none'),
    ('crm.pipeline_totals_result(bytea)', 'none'),
    ('crm.pipelines_before_delete()', 'none'),
    ('crm.pipelines_before_write()', 'none'),
    ('crm.recount_account_activity(uuid,uuid[])', 'none'),
    ('crm.require_pg_cron()', 'none'),
    ('crm.roll_up_moved()', 'none'),
    ('crm.schedule_maintenance(text,text,text,text)', 'none'),
    ('crm.scoring_models_before_write()', 'none'),
    ('crm.scoring_models_changed()', 'none'),
    ('crm.secure_table(regclass,text,regclass,name,name)', 'none'),
    ('crm.segment_members_recount()', 'none'),
    ('crm.segments_before_write()', 'none'),
    ('crm.taggings_before_write()', 'none'),
    ('crm.taggings_count()', 'none'),
    ('crm.tasks_before_write()', 'none'),
    ('crm.tenant_guard()', 'none'),
    ('crm.tenants_before_write()', 'none'),
    ('crm.touch_updated_at()', 'none'),
    ('crm.unschedule_maintenance()', 'none'),
    ('crm.users_changed()', 'none'),
    ('crm.tenants_changed()', 'none'),
    ('crm.distribute(integer)', 'none'),
    ('crm.distribute_job_bodies()', 'none'),
    ('crm.child_owner()', 'none'),
    ('crm.child_owner_moved()', 'none'),
    ('crm.table_of(oid)', 'none'),
    ('crm.untag_deleted()', 'none'),
    ('crm.tenant_shards_here(oid,uuid)', 'none'),
    ('crm.win_counts_add(uuid,jsonb,text,integer)', 'none');

CREATE TEMP VIEW granted AS
    SELECT p.oid, p.oid::regprocedure::text AS signature,
           CASE WHEN has_function_privilege('public', p.oid, 'EXECUTE') THEN 'public'
                ELSE coalesce(nullif(concat_ws(',',
                        CASE WHEN has_function_privilege('crm_anon', p.oid, 'EXECUTE') THEN 'anon' END,
                        CASE WHEN has_function_privilege('crm_rep', p.oid, 'EXECUTE') THEN 'rep' END,
                        CASE WHEN has_function_privilege('crm_manager', p.oid, 'EXECUTE') THEN 'manager' END,
                        CASE WHEN has_function_privilege('crm_admin', p.oid, 'EXECUTE') THEN 'admin' END), ''), 'none')
           END AS roles
      FROM pg_proc p WHERE p.pronamespace IN ('crm'::regnamespace, 'crm_api'::regnamespace);

SELECT is(ARRAY(SELECT g.signature FROM granted g LEFT JOIN allowlist a USING (signature) WHERE a.signature IS NULL ORDER BY 1),
    '{}'::text[], 'every function of crm and crm_api has an entry in the allowlist');
SELECT is(ARRAY(SELECT a.signature FROM allowlist a LEFT JOIN granted g USING (signature) WHERE g.signature IS NULL ORDER BY 1),
    '{}'::text[], 'every entry of the allowlist is a function that exists');
SELECT is(ARRAY(SELECT format('%s: %s, allowed %s', g.signature, g.roles, a.who)
                  FROM granted g JOIN allowlist a USING (signature)
                 WHERE g.roles IS DISTINCT FROM CASE a.who WHEN 'anon+rep' THEN 'anon,rep,manager,admin'
                                                           WHEN 'rep' THEN 'rep,manager,admin'
                                                           WHEN 'manager' THEN 'manager,admin' ELSE a.who END
                 ORDER BY 1),
    '{}'::text[], 'PUBLIC, crm_anon, crm_rep, crm_manager and crm_admin may execute exactly what the allowlist says');

-- The same facts from other angles, so that a careless allowlist entry cannot hide them.
SELECT is(ARRAY(SELECT g.signature FROM granted g JOIN pg_proc p ON p.oid = g.oid
                 WHERE p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype) AND g.roles <> 'none' ORDER BY 1),
    '{}'::text[], 'no one but the owner may execute a trigger function');
SELECT is(ARRAY(SELECT g.signature FROM granted g JOIN pg_proc p ON p.oid = g.oid
                 WHERE p.prosecdef AND g.roles = 'public' ORDER BY 1),
    '{}'::text[], 'no SECURITY DEFINER function is executable by PUBLIC');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace IN ('crm'::regnamespace, 'crm_api'::regnamespace) AND p.prosecdef
                   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) ORDER BY 1),
    '{}'::text[], 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef AND p.prorettype = 'trigger'::regtype
                   AND p.prosrc !~ 'IF (crm.table_of\(TG_RELID\)|TG_RELID) <> ' ORDER BY 1),
    '{}'::text[], 'every SECURITY DEFINER trigger function checks TG_RELID');

-- The attack: a login granted only crm_anon or crm_rep, with no context, attaches a crm trigger function
-- to a temporary table of its own and writes a row that names another tenant's lead. Every table of crm
-- keeps its row count.
CREATE FUNCTION pg_temp.row_count(tbl regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', tbl) INTO n;
    RETURN n;
END
$$;
CREATE TEMP TABLE counts_before AS
    SELECT c.oid::regclass AS tbl, pg_temp.row_count(c.oid::regclass) AS n
      FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r';

-- attack(role, function, granted): as that role, creates a table and a trigger on it with the function
-- (of the kind of the function's real triggers) and fires it; returns the SQLSTATE and message it failed
-- with (P0A0K if nothing failed). With granted, the function is first granted to the role (a grant mistake), so the
-- trigger is created and the function itself must refuse. Whatever it did is rolled back.
CREATE FUNCTION pg_temp.attack(attacker text, fn regprocedure, granted boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    tg record;
    event text;
    code text;
BEGIN
    SELECT t.tgtype, t.tgoldtable, t.tgnewtable INTO tg FROM pg_trigger t WHERE t.tgfoid = fn ORDER BY t.oid LIMIT 1;
    event := CASE WHEN tg.tgtype & 32 <> 0 THEN 'TRUNCATE' WHEN tg.tgtype & 4 <> 0 THEN 'INSERT'
                  WHEN tg.tgtype & 16 <> 0 THEN 'UPDATE' ELSE 'DELETE' END;
    BEGIN
        IF granted THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, attacker);
        END IF;
        PERFORM crm.set_context(NULL, NULL);
        PERFORM set_config('role', attacker, true);
        CREATE TEMP TABLE attack (tenant_id uuid, id uuid, source text, owner_id uuid, status text, account_id uuid,
                                  contact_id uuid, opportunity_id uuid, stage_id uuid, assignee_id uuid);
        INSERT INTO attack VALUES ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b1',
                                   'forged', NULL, 'new', 'b0000000-0000-7000-8000-0000000000c1', NULL, NULL, NULL,
                                   'b0000000-0000-7000-8000-0000000000b3');
        EXECUTE format('CREATE TRIGGER t %s %s ON attack %s FOR EACH %s EXECUTE FUNCTION %s',
                       CASE WHEN tg.tgtype & 2 <> 0 THEN 'BEFORE' ELSE 'AFTER' END, event,
                       CASE WHEN tg.tgoldtable IS NULL AND tg.tgnewtable IS NULL THEN ''
                            ELSE 'REFERENCING' || coalesce(' OLD TABLE AS ' || quote_ident(tg.tgoldtable), '')
                                               || coalesce(' NEW TABLE AS ' || quote_ident(tg.tgnewtable), '') END,
                       CASE WHEN tg.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END, fn::regproc || '()');
        EXECUTE CASE event WHEN 'TRUNCATE' THEN 'TRUNCATE attack'
                           WHEN 'INSERT' THEN 'INSERT INTO attack SELECT * FROM attack'
                           WHEN 'UPDATE' THEN 'UPDATE attack SET source = ''forged again'''
                           ELSE 'DELETE FROM attack' END;
        RAISE EXCEPTION 'the attack ran' USING ERRCODE = 'P0A0K';
    EXCEPTION WHEN OTHERS THEN
        code := SQLSTATE || ' ' || SQLERRM;
    END;
    RETURN code;
END
$$;

CREATE TEMP TABLE attacks AS
    SELECT r.attacker, p.oid::regprocedure AS fn, g.granted, pg_temp.attack(r.attacker, p.oid::regprocedure, g.granted) AS failure
      FROM pg_proc p, (VALUES ('crm_anon'), ('crm_rep')) r (attacker), (VALUES (false), (true)) g (granted)
     WHERE p.pronamespace = 'crm'::regnamespace AND p.prorettype = 'trigger'::regtype
       AND EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid)
       AND (p.prosecdef OR NOT g.granted);

SELECT ok((SELECT count(DISTINCT fn) FROM attacks WHERE NOT granted) >= 40, 'every trigger function of crm is tried, by both roles');
SELECT is(ARRAY(SELECT format('%s by %s: %s', fn, attacker, failure) FROM attacks
                 WHERE NOT granted AND failure !~ '^42501 permission denied for function ' ORDER BY 1),
    '{}'::text[], 'crm_anon and crm_rep may not attach any crm trigger function to a table of theirs (42501)');
SELECT ok((SELECT count(DISTINCT fn) FROM attacks WHERE granted) >= 18, 'every SECURITY DEFINER trigger function is tried as if granted by mistake');
SELECT is(ARRAY(SELECT format('%s by %s: %s', fn, attacker, failure) FROM attacks
                 WHERE granted AND failure !~ '^42501 permission denied: attack is not a table of trigger function ' ORDER BY 1),
    '{}'::text[], 'granted by mistake, each SECURITY DEFINER trigger function refuses to run for a table not its own (42501)');
SELECT is(ARRAY(SELECT format('%s: %s -> %s', b.tbl, b.n, pg_temp.row_count(b.tbl)) FROM counts_before b
                 WHERE pg_temp.row_count(b.tbl) <> b.n ORDER BY 1),
    '{}'::text[], 'the attacks changed no row of any crm table');
SELECT is(ARRAY(SELECT f.fn::text FROM attacks f
                 WHERE has_function_privilege(f.attacker, f.fn, 'EXECUTE') GROUP BY 1 ORDER BY 1),
    '{}'::text[], 'and granted no function for good');

-- The SECURITY DEFINER functions that are not triggers act for the request's own tenant only, even if
-- granted by mistake: a rep of tenant A calls each for tenant B (and create_tenant at all).
GRANT EXECUTE ON FUNCTION crm.emit_event(uuid, text, crm.entity_type, uuid, jsonb), crm.win_counts_add(uuid, jsonb, text, integer),
    crm.recount_account_activity(uuid, uuid[]), crm.create_tenant(text, jsonb, uuid),
    crm.job_log(uuid, uuid, text, timestamptz, text, bigint, bigint, jsonb, integer, text, text) TO crm_rep;
-- and every job's body, definer or not (src/jobs.sql: each checks its caller, as it can be called alone)
CREATE TEMP TABLE job_bodies AS
    SELECT p.oid::regprocedure AS fn, replace(p.proname, '_tenant', '') AS job FROM pg_proc p
     WHERE p.pronamespace = 'crm'::regnamespace AND p.proname = ANY (SELECT j || '_tenant' FROM unnest(crm.job_names()) j);
GRANT SELECT ON job_bodies TO crm_rep;
DO $$ DECLARE f regprocedure; BEGIN
    FOR f IN SELECT fn FROM job_bodies LOOP EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO crm_rep', f); END LOOP;
END $$;
CREATE FUNCTION pg_temp.body_error(fn regprocedure, tenant uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %s($1, $2, NULL)', fn::regproc)
        USING tenant, crm.job_args((SELECT b.job FROM job_bodies b WHERE b.fn = body_error.fn), '{}');
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$SELECT crm.emit_event('b0000000-0000-7000-8000-00000000000b', 'lead.created', 'lead', 'b0000000-0000-7000-8000-0000000000b1')$$,
    '42501', 'permission denied: a request acts for its own tenant only', 'crm.emit_event for another tenant: 42501');
SELECT throws_ok($$SELECT crm.win_counts_add('b0000000-0000-7000-8000-00000000000b', '{"source": "forged"}', 'won', 1000)$$,
    '42501', 'permission denied: a request acts for its own tenant only', 'crm.win_counts_add for another tenant: 42501');
SELECT throws_ok($$SELECT crm.recount_account_activity('b0000000-0000-7000-8000-00000000000b', NULL)$$,
    '42501', 'permission denied: a request acts for its own tenant only', 'crm.recount_account_activity for another tenant: 42501');
SELECT is((SELECT count(*) FROM job_bodies), 6::bigint, 'the six jobs have a body each');
SELECT is(ARRAY(SELECT format('%s: %s', fn, pg_temp.body_error(fn, 'b0000000-0000-7000-8000-00000000000b')) FROM job_bodies
                 WHERE pg_temp.body_error(fn, 'b0000000-0000-7000-8000-00000000000b')
                       <> '42501 permission denied: a request acts for its own tenant only' ORDER BY 1),
    '{}'::text[], 'every job''s body (crm.<job>_tenant) for another tenant: 42501');
SELECT is(ARRAY(SELECT format('%s: %s', fn, pg_temp.body_error(fn, 'a0000000-0000-7000-8000-00000000000a')) FROM job_bodies
                 WHERE pg_temp.body_error(fn, 'a0000000-0000-7000-8000-00000000000a')
                       <> '42501 permission denied: this job is for the tenant''s managers and admins' ORDER BY 1),
    '{}'::text[], '    and for a rep''s own tenant: 42501, for managers and admins');
SELECT throws_ok($$SELECT crm.create_tenant('Forged')$$,
    '42501', 'permission denied: a request acts for its own tenant only', 'crm.create_tenant by anyone but the operator: 42501');
SELECT throws_ok($$SELECT crm.job_log(NULL, 'a0000000-0000-7000-8000-00000000000a', 'forged', now(), 'succeeded', 1, 1)$$,
    '42501', 'permission denied: this job is for the tenant''s managers and admins', 'crm.job_log by a rep of its own tenant: 42501');
SELECT pg_temp.become('none', NULL, NULL, 'none');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
