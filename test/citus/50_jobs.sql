-- 50_jobs.sql (pgTAP, make test-citus): the batch jobs on the tenant's node, and TRUNCATE. crm.distribute()
-- distributed the bodies of the six jobs by their tenant argument (force_delegation), so crm.job_tenant's
-- call of a body is one command sent to the tenant's node (EXPLAIN shows it; test/citus/jobs.sh watches
-- the commands of real runs); a body run so leaves the same rows as the same body driven from the
-- coordinator; a failing tenant is logged and the others are done. A TRUNCATE through the coordinator
-- empties what it empties on a single node. Two tenants of this file; rolled back.
\ir ../lib/preamble.psql
\ir lib.psql
\ir ../lib/become.psql

BEGIN;
SELECT plan(20);
\set E1 '''e1000000-0000-7000-8000-0000000000e1'''
\set E2 '''e2000000-0000-7000-8000-0000000000e2'''

-- what crm.distribute() did with the bodies, and that doing it again changes nothing
SELECT is(ARRAY(SELECT o.objid::regprocedure::text FROM pg_dist_object o
                 WHERE o.classid = 'pg_proc'::regclass AND o.distribution_argument_index = 0 AND o.force_delegation
                   AND o.colocationid = (SELECT p.colocationid FROM pg_dist_partition p WHERE p.logicalrelid = 'crm.leads'::regclass)
                 ORDER BY 1),
    ARRAY['crm.rebuild_account_activity_tenant(uuid,jsonb,jsonb)', 'crm.rebuild_win_model_tenant(uuid,jsonb,jsonb)',
          'crm.refresh_health_scores_tenant(uuid,jsonb,jsonb)', 'crm.refresh_segments_tenant(uuid,jsonb,jsonb)',
          'crm.rescore_leads_tenant(uuid,jsonb,jsonb)', 'crm.snapshot_forecast_tenant(uuid,jsonb,jsonb)'],
    'the six job bodies are distributed by their tenant argument, colocated with the tables, force-delegated');
SELECT is(crm.distribute() - 'already_distributed',
    '{"job_bodies": 0, "reference_tables": 0, "distributed_tables": 0}'::jsonb, 'crm.distribute() again distributes nothing more');

-- The call crm.job_tenant makes (a body in FROM, the tenant a constant) is one task on the tenant's node.
-- (In a transaction of its own: in the one that writes the fixture below, a read of crm.tenants after
-- these EXPLAINs was refused: "cannot switch local execution status from local execution required to
-- local execution disabled since it can cause visibility problems in the current transaction".)
SELECT n.nodeport AS e1_port FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
 WHERE s.shardid = get_shard_id_for_distribution_column('crm.leads', :E1) \gset
CREATE FUNCTION pg_temp.body_plan(job text, t uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN pg_temp.verbose_plan_of(format('SELECT b FROM crm.%I(%L::uuid, %L::jsonb, NULL::jsonb) b', job || '_tenant', t, crm.job_args(job, '{}')));
END
$$;
SELECT ok(pg_temp.body_plan(j, :E1) ~ ('Task Count: 1.*Node: host=127\.0\.0\.1 port=' || :e1_port || ' .*Function Scan on crm\.' || j || '_tenant'),
          format('the call of %s''s body is delegated: one task, on the tenant''s node', j))
  FROM unnest(crm.job_names()) j;

COMMIT;

-- A manager runs the jobs of its tenant (Acme, committed by 10_tenants.sql), undone after each: the
-- SECURITY DEFINER bodies are called as their owner, whose connection wrote the run's log. (A transaction
-- of its own too: after the EXPLAINs above, Citus read crm.tenants over a connection to the coordinator
-- itself, as the caller, who may not log in there: a warning, then another placement.)
BEGIN;
CREATE FUNCTION pg_temp.undone(job text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    r := crm.run_job_in_transaction(job, crm.current_tenant(), '{}');
    RAISE EXCEPTION 'undone' USING ERRCODE = 'CRM99';
EXCEPTION WHEN SQLSTATE 'CRM99' THEN
    RETURN r - 'processed' - 'changed' - 'items';
END
$$;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is(pg_temp.undone('refresh_segments'), '{"tenants": 1, "failed": 0, "failures": []}'::jsonb,
    'a manager refreshes its tenant''s segments on the tenant''s node');
SELECT is(pg_temp.undone('rebuild_win_model'), '{"tenants": 1, "failed": 0, "failures": []}'::jsonb, '    and rebuilds its win model');
SELECT throws_ok($$SELECT crm.job_tenant_as_owner('rebuild_win_model', 'b0000000-0000-7000-8000-00000000000b', '{}', NULL)$$, '42501',
    'permission denied: a request acts for its own tenant only',
    '    but not another tenant''s: checked on the coordinator (on the worker the body sees the owner''s session)');
SELECT pg_temp.become('none', NULL, NULL, 'none');
COMMIT;

BEGIN;
\o /dev/null
SELECT crm.create_tenant('Jobs One', '{}', :E1);
SELECT crm.create_tenant('Jobs Two', '{}', :E2);
\o
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    (:E1, 'e1000000-0000-7000-8000-0000000000f1', 'm@one.test', 'One Manager', 'manager'),
    (:E2, 'e2000000-0000-7000-8000-0000000000f1', 'm@two.test', 'Two Manager', 'manager');
-- per tenant: a large and a small account, a contact at the large one with three activities, four leads
-- (one converted into a won deal, one lost), written by the triggers as usual
CREATE FUNCTION pg_temp.fixture(t uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p text := left(t::text, 2);
    u uuid := (p || '000000-0000-7000-8000-0000000000f1')::uuid;
    big uuid := (p || '000000-0000-7000-8000-0000000000a1')::uuid;
    opp uuid := (p || '000000-0000-7000-8000-0000000000c1')::uuid;
    won uuid;
BEGIN
    INSERT INTO crm.accounts (tenant_id, id, name, employee_count, owner_id) VALUES
        (t, big, 'Big Co', 5000, u), (t, (p || '000000-0000-7000-8000-0000000000a2')::uuid, 'Small Co', 20, u);
    INSERT INTO crm.contacts (tenant_id, id, first_name, account_id, owner_id) VALUES (t, (p || '000000-0000-7000-8000-0000000000b1')::uuid, 'Pat', big, u);
    INSERT INTO crm.activities (tenant_id, type, outcome, occurred_at, contact_id, owner_id)
    SELECT t, 'call', 'connected', '2026-03-01 10:00+00'::timestamptz + i * interval '1 day', (p || '000000-0000-7000-8000-0000000000b1')::uuid, u
      FROM generate_series(1, 3) i;
    INSERT INTO crm.leads (tenant_id, id, first_name, company, source, employee_count, is_decision_maker, owner_id)
    SELECT t, (p || '000000-0000-7000-8000-0000000001' || lpad(i::text, 2, '0'))::uuid, 'Lead ' || i, 'Co ' || i,
           (ARRAY['website', 'referral', 'event', 'website']::crm.lead_source[])[i], 100 * i * i, i % 2 = 0, u
      FROM generate_series(1, 4) i;
    INSERT INTO crm.opportunities (tenant_id, id, name, account_id, owner_id) VALUES (t, opp, 'Deal', big, u);
    UPDATE crm.leads SET status = 'converted', converted_at = now(), converted_opportunity_id = opp, converted_account_id = big
     WHERE tenant_id = t AND id = (p || '000000-0000-7000-8000-000000000101')::uuid;
    won := (SELECT s.id FROM crm.pipeline_stages s WHERE s.tenant_id = t AND s.name = 'closed_won');
    UPDATE crm.opportunities SET stage_id = won WHERE tenant_id = t AND id = opp;
    UPDATE crm.leads SET status = 'lost', lost_reason = 'budget' WHERE tenant_id = t AND id = (p || '000000-0000-7000-8000-000000000102')::uuid;
END
$$;
SELECT pg_temp.fixture(:E1), pg_temp.fixture(:E2) \g /dev/null
-- every job has work to do: the scores, the rollup and the counts gone (without their triggers)
SET LOCAL session_replication_role = replica;
UPDATE crm.leads SET score = NULL, grade = NULL WHERE tenant_id IN (:E1, :E2);
DELETE FROM crm.account_activity_days WHERE tenant_id IN (:E1, :E2);
DELETE FROM crm.lead_win_counts WHERE tenant_id IN (:E1, :E2);
SET LOCAL session_replication_role = origin;

-- The same body driven from the coordinator: called as a PL/pgSQL simple expression, which Citus does
-- not delegate, each of its statements sent to the tenant's shards one by one (as crm.run_job did).
CREATE FUNCTION pg_temp.driven(job text, t uuid) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    args jsonb := crm.job_args(job, '{}');
    c jsonb;
    r jsonb;
    p bigint := 0;
    ch bigint := 0;
BEGIN
    LOOP
        CASE job
            WHEN 'rescore_leads' THEN r := crm.rescore_leads_tenant(t, args, c);
            WHEN 'refresh_segments' THEN r := crm.refresh_segments_tenant(t, args, c);
            WHEN 'rebuild_account_activity' THEN r := crm.rebuild_account_activity_tenant(t, args, c);
            WHEN 'rebuild_win_model' THEN r := crm.rebuild_win_model_tenant(t, args, c);
            WHEN 'snapshot_forecast' THEN r := crm.snapshot_forecast_tenant(t, args, c);
        END CASE;
        p := p + (r->>'processed')::bigint;
        ch := ch + (r->>'changed')::bigint;
        c := r->'next';
        EXIT WHEN jsonb_typeof(c) IS DISTINCT FROM 'object';
    END LOOP;
    RETURN jsonb_build_object('processed', p, 'changed', ch);
END
$$;
-- what a job leaves of the tenant, ids of new rows and times aside
CREATE FUNCTION pg_temp.digest(job text, t uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN pg_temp.v(format(CASE job
        WHEN 'rescore_leads' THEN
            $q$SELECT string_agg(concat_ws(' ', l.id, l.score, l.grade, l.status), ', ' ORDER BY l.id) FROM crm.leads l WHERE l.tenant_id = %L$q$
        WHEN 'refresh_segments' THEN
            $q$SELECT string_agg(concat_ws(' ', s.name, s.member_count, m.account_id), ', ' ORDER BY s.name, m.account_id)
                 FROM crm.segments s LEFT JOIN crm.segment_members m ON m.tenant_id = s.tenant_id AND m.segment_id = s.id WHERE s.tenant_id = %L$q$
        WHEN 'rebuild_account_activity' THEN
            $q$SELECT string_agg(concat_ws(' ', d.account_id, d.day, d.activities, d.positive, d.negative, d.rated), ', ' ORDER BY d.account_id, d.day)
                 FROM crm.account_activity_days d WHERE d.tenant_id = %L$q$
        WHEN 'rebuild_win_model' THEN
            $q$SELECT string_agg(concat_ws(' ', c.field, c.value, c.won, c.lost), ', ' ORDER BY c.field, c.value) FROM crm.lead_win_counts c WHERE c.tenant_id = %L$q$
        WHEN 'snapshot_forecast' THEN
            $q$SELECT string_agg(concat_ws(' ', f.group_by, f.bucket, f.period_start, f.group_key, f.closed_won, f.commit, f.best_case, f.pipeline,
                                           f.omitted, f.weighted, f.quota), ', ' ORDER BY f.group_by, f.bucket, f.period_start, f.group_key)
                 FROM crm.forecast_snapshots f WHERE f.tenant_id = %L$q$
        END, t));
END
$$;
-- the coordinator-driven run, undone, then crm.run_job (delegated): the same counts and the same rows
CREATE FUNCTION pg_temp.compare(job text, t uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    a jsonb;
    da text;
    b jsonb;
    db text;
BEGIN
    BEGIN
        a := pg_temp.driven(job, t);
        da := pg_temp.digest(job, t);
        RAISE EXCEPTION 'undone' USING ERRCODE = 'CRM99';
    EXCEPTION WHEN SQLSTATE 'CRM99' THEN
        NULL;
    END;
    b := crm.run_job_in_transaction(job, t, '{}');
    db := pg_temp.digest(job, t);
    IF da IS NOT DISTINCT FROM db AND a->'processed' = b->'processed' AND a->'changed' = b->'changed' THEN
        RETURN format('same: %s processed, %s changed', b->>'processed', b->>'changed');
    END IF;
    RETURN format('driven %s: %s; delegated %s: %s', a, da, b, db);
END
$$;
SELECT is(pg_temp.compare('rescore_leads', :E1), 'same: 4 processed, 4 changed',
    'rescore_leads delegated scores the leads as the coordinator-driven body does');
SELECT is(pg_temp.compare('refresh_segments', :E1), 'same: 2 processed, 2 changed',
    'refresh_segments delegated puts the same accounts in the same segments');
SELECT is(pg_temp.compare('rebuild_account_activity', :E1), 'same: 3 processed, 3 changed',
    'rebuild_account_activity delegated writes the same day rows');
SELECT is(pg_temp.compare('rebuild_win_model', :E1), 'same: 2 processed, 2 changed',
    'rebuild_win_model delegated counts the same won and lost leads');
-- (refresh_health_scores runs only delegated: its batch query calls crm.health_inputs, which Citus would
-- send to the shard with the query when driven from here; the demo's comparison with a single node
-- covers its snapshots, and test/citus/jobs.sh its commands and batches)
SELECT matches(pg_temp.compare('snapshot_forecast', :E1), '^same: [1-9][0-9]* processed',
    'snapshot_forecast delegated stores the same forecast');

-- One tenant failing on its node: a segment whose criteria the refresh cannot use (written past the
-- check); a run for both tenants logs it failed and refreshes the other one.
SET LOCAL session_replication_role = replica;
UPDATE crm.segments SET criteria = '{"field": "no_such_field", "op": "=", "value": 1}' WHERE tenant_id = :E1 AND name = 'SMB';
SET LOCAL session_replication_role = origin;
SET LOCAL client_min_messages = error;   -- (the run's warning names the failure)
SELECT is(crm.run_job_in_transaction('refresh_segments', NULL, '{}')->'failures'->0->>'tenant', 'e1000000-0000-7000-8000-0000000000e1',
    'a run for every tenant names the tenant whose refresh failed on its node');
RESET client_min_messages;
SELECT is(pg_temp.v($q$SELECT string_agg(concat_ws(' ', left(r.tenant_id::text, 2), r.status, r.error_sqlstate), ', ' ORDER BY r.tenant_id)
                       FROM (SELECT DISTINCT ON (x.tenant_id) x.* FROM crm.job_runs x
                              WHERE x.job = 'refresh_segments' AND x.tenant_id IN ('e1000000-0000-7000-8000-0000000000e1', 'e2000000-0000-7000-8000-0000000000e2')
                              ORDER BY x.tenant_id, x.id DESC) r$q$),
    'e1 failed 22023, e2 succeeded', '    logged failed (22023) for it and succeeded for the other');

-- TRUNCATE through the coordinator: the activities' truncate trigger empties the rollup, from the
-- coordinator's table (on the shards it does nothing: a DELETE over every shard cannot run there).
SELECT ok(pg_temp.n($q$SELECT count(*) FROM crm.account_activity_days$q$) > 0, 'the rollup has rows');
TRUNCATE crm.activities CASCADE;
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.activities$q$) + pg_temp.n($q$SELECT count(*) FROM crm.account_activity_days$q$), 0::bigint,
    'TRUNCATE crm.activities through the coordinator empties them and their rollup, on every shard');

SELECT * FROM finish();
ROLLBACK;
