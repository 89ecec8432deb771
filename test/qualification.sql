-- qualification.sql (pgTAP): scores stored on leads by the database, the daily history, qualification
-- once (one task, one event) however often a lead is rescored, the drop flag, rescoring by activity,
-- crm.score_lead, crm.rescore_leads (only changed rows, second run 0, logged) and who may do what.
\ir lib/preamble.psql

BEGIN;
SELECT plan(44);
\ir lib/two_tenants.psql
\ir lib/become.psql

\ir lib/leads.psql
CREATE FUNCTION pg_temp.tasks_of(first text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM crm.tasks t WHERE t.lead_id = (SELECT l.id FROM crm.leads l WHERE l.first_name = tasks_of.first);
    RETURN n;
END
$$;
CREATE FUNCTION pg_temp.events_of(first text, kind text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM crm.events e
     WHERE e.type = events_of.kind AND e.entity_id = (SELECT l.id FROM crm.leads l WHERE l.first_name = events_of.first);
    RETURN n;
END
$$;
CREATE FUNCTION pg_temp.event_payload(first text, kind text) RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    p jsonb;
BEGIN
    SELECT e.payload INTO p FROM crm.events e
     WHERE e.type = event_payload.kind AND e.entity_id = (SELECT l.id FROM crm.leads l WHERE l.first_name = event_payload.first);
    RETURN p;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.tasks_of(text), pg_temp.events_of(text, text), pg_temp.event_payload(text, text) TO crm_rep;
\ir citus/lib.psql
-- On Citus a transaction's accesses to a tenant's shards after a write there must be of the user who
-- wrote (Citus keeps one connection per user to each worker): the rep's writes are committed before
-- the helpers above (SECURITY DEFINER: they read as the owner) or another role read them, and a job's
-- (SECURITY DEFINER: it writes as the owner) before the caller reads again. Queries of one tenant's
-- shard are evaluated apart from the pgTAP call (pg_temp.n, pg_temp.v), with the lead's id as a
-- constant (Citus sends them to the shard whole, where pg_temp is not).

-- a rep of A adds a lead that scores 100 at once: qualified on insert, with one task and one event
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
INSERT INTO crm.leads (first_name, company, employee_count, industry, budget, purchase_timeline, is_decision_maker)
VALUES ('Samir', 'Initech Labs', 1200, 'software', 150000, 'immediate', true);
SELECT row_eq($$SELECT score, grade::text, status::text, qualified_at IS NOT NULL, scored_at IS NOT NULL FROM crm.leads WHERE first_name = 'Samir'$$,
    ROW(100, 'A'::text, 'qualified'::text, true, true), 'a lead is scored as it is written: 100, A, qualified at once');
SELECT row_eq(format('SELECT type::text, status::text, priority::text, assignee_id FROM crm.tasks WHERE lead_id = %L', (pg_temp.lead('Samir')).id),
    ROW('follow_up'::text, 'open'::text, 'high'::text, 'a0000000-0000-7000-8000-0000000000a3'::uuid),
    'one open follow-up task, assigned to the lead''s owner');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.events_of('Samir', 'lead.qualified'), 1::bigint, 'one lead.qualified event');

-- a lead crossing the threshold by an update: Joanna (new, 0 points) gets a size, an industry, a budget...
UPDATE crm.leads SET employee_count = 300, industry = 'healthcare', budget = 30000 WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, grade::text, status::text FROM crm.leads WHERE first_name = 'Joanna'$$, ROW(50, 'C'::text, 'new'::text),
    'below the threshold (70): scored 50, still new');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.tasks_of('Joanna'), 0::bigint, '    no task yet');
UPDATE crm.leads SET is_decision_maker = true WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, grade::text, status::text FROM crm.leads WHERE first_name = 'Joanna'$$, ROW(75, 'B'::text, 'qualified'::text),
    '... and a decision maker: 75 crosses the threshold, qualified');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.tasks_of('Joanna'), 1::bigint, 'crossing the threshold creates exactly one task');
SELECT is(pg_temp.events_of('Joanna', 'lead.qualified'), 1::bigint, '    and exactly one lead.qualified');
SELECT is(pg_temp.event_payload('Joanna', 'lead.qualified') - 'task_id',
    '{"by": "score", "grade": "B", "score": 75, "owner_id": "a0000000-0000-7000-8000-0000000000a3", "threshold": 70}'::jsonb,
    '    its payload: by score, the score, grade, threshold and owner');
-- rescoring, again and again: nothing more
SELECT is(crm.score_lead((pg_temp.lead('Joanna')).id)->>'changed', 'false', 'score_lead on a current lead changes nothing');
UPDATE crm.leads SET purchase_timeline = 'this_year' WHERE first_name = 'Joanna';
UPDATE crm.leads SET purchase_timeline = 'unknown' WHERE first_name = 'Joanna';
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.tasks_of('Joanna') + pg_temp.events_of('Joanna', 'lead.qualified'), 2::bigint,
    'rescored up and down above the threshold: still one task and one event');
SELECT is(pg_temp.n(format('SELECT count(*) FROM crm.lead_score_history WHERE lead_id = %L', (pg_temp.lead('Joanna')).id)), 1::bigint,
    'the history keeps one row per lead per day');
SELECT is(pg_temp.v(format('SELECT score FROM crm.lead_score_history WHERE lead_id = %L', (pg_temp.lead('Joanna')).id))::integer, 75, '    with the day''s last score');
SELECT throws_ok($$INSERT INTO crm.lead_score_history (lead_id, day, score, grade) SELECT id, current_date, 1, 'D' FROM crm.leads WHERE first_name = 'Joanna'$$,
    '42501', NULL, 'nobody writes the history by hand');

-- the score falls below the threshold: flagged, not demoted; up again: the flag goes
UPDATE crm.leads SET is_decision_maker = false WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, status::text, score_dropped_at IS NOT NULL FROM crm.leads WHERE first_name = 'Joanna'$$,
    ROW(50, 'qualified'::text, true), 'a qualified lead falling to 50 stays qualified and is flagged');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.events_of('Joanna', 'lead.score_dropped'), 1::bigint, '    lead.score_dropped is emitted');
UPDATE crm.leads SET budget = 20000 WHERE first_name = 'Joanna';
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.events_of('Joanna', 'lead.score_dropped'), 1::bigint, '    once, while it stays below');
UPDATE crm.leads SET is_decision_maker = true WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, status::text, score_dropped_at IS NOT NULL FROM crm.leads WHERE first_name = 'Joanna'$$,
    ROW(68, 'qualified'::text, true), 'up again, but 68 is still below: still flagged');
UPDATE crm.leads SET budget = 30000 WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, score_dropped_at IS NULL FROM crm.leads WHERE first_name = 'Joanna'$$, ROW(75, true),
    '75: the flag is cleared');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
\endif
SELECT is(pg_temp.tasks_of('Joanna'), 1::bigint, '    and no second task');
UPDATE crm.leads SET score = 3, grade = 'D', qualified_at = NULL, scored_at = NULL WHERE first_name = 'Joanna';
SELECT row_eq($$SELECT score, grade::text, qualified_at IS NOT NULL, scored_at IS NOT NULL FROM crm.leads WHERE first_name = 'Joanna'$$,
    ROW(75, 'B'::text, true, true), 'what a writer puts in the scoring columns is replaced');

\if :on_citus
COMMIT;
BEGIN;
\endif
-- activities feed engagement rules: an admin adds a model that counts meetings
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
INSERT INTO crm.scoring_models (name, rules, is_active) VALUES ('Fit and meetings', crm.default_scoring_rules()
    || '{"engagement": [{"name": "meetings", "type": "meeting", "points": 20, "half_life_days": 30, "reason": "recent meetings"}]}', true);
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
INSERT INTO crm.leads (first_name, company, budget) VALUES ('Tom', 'Smykowski Inc', 30000);
SELECT is((pg_temp.lead('Tom')).score, 15, 'Tom: 15 points of budget');
SELECT lives_ok($$SELECT crm.log_activity('meeting', 'Demo', lead_id => (pg_temp.lead('Tom')).id, outcome => 'held')$$, 'a rep logs a meeting with Tom');
SELECT is((pg_temp.lead('Tom')).score, 35, 'logging the meeting rescored Tom: 15 + 20');
SELECT is((SELECT jsonb_array_length((pg_temp.lead('Tom')).engagement->'meeting'->'held')), 1, '    from the summary on the lead');
SELECT (pg_temp.lead('Tom')).id AS tom \gset
UPDATE crm.activities SET occurred_at = now() - interval '30 days' WHERE lead_id = :'tom';
SELECT is((pg_temp.lead('Tom')).score, 25, 'moving the meeting 30 days back halves its points: 15 + 10');

-- rescoring a tenant: managers and admins, changed rows only, a second run changes nothing
SELECT throws_ok($$SELECT crm.rescore_leads()$$, '42501', NULL, 'a rep does not rescore the tenant');
SELECT throws_ok($$SELECT crm.rescore_leads('b0000000-0000-7000-8000-00000000000b')$$, '42501', NULL, 'nor another tenant');
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((crm.rescore_leads()->>'changed')::bigint, 0::bigint, 'every score is current: a manager''s rescoring changes nothing');
-- scores go stale when the model changes (here, a lower total cap)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
UPDATE crm.scoring_models SET rules = rules || '{"total_cap": 60}' WHERE is_active;
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT is((crm.rescore_leads()->>'changed')::bigint, 2::bigint, 'after the cap drops to 60, rescoring changes the two leads above it (Samir, Joanna)');
SELECT is((crm.rescore_leads()->>'changed')::bigint, 0::bigint, 'a second run changes nothing');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT results_eq($$SELECT first_name, score, status::text, score_dropped_at IS NOT NULL FROM crm.leads WHERE score IS NOT NULL AND tenant_id = crm.current_tenant() ORDER BY first_name$$,
    $$VALUES ('Joanna'::text, 60, 'qualified'::text, true), ('Lawrence', 0, 'new', false), ('Samir', 60, 'qualified', true), ('Tom', 25, 'contacted', false)$$,
    'both qualified leads now fall below 70: flagged, still qualified');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.tasks WHERE type = 'follow_up'$$), 2::bigint, 'still one follow-up task per qualified lead');
SELECT results_eq($$SELECT details->>'pass', processed, changed FROM crm_api.job_runs WHERE job = 'rescore_leads' AND tenant_id = crm.current_tenant() ORDER BY started_at, id$$,
    $$VALUES (NULL::text, 2::bigint, 0::bigint), ('full', 4, 0), ('full', 4, 2), ('incremental', 1, 0)$$,
    'each run is logged with what it read and changed: full passes on a new model, then only the engaged lead (Tom)');
-- a lead loaded without triggers (a bulk import) has no score: the incremental pass finds it alone
-- (on Citus in a transaction of its own: Citus sends a SET LOCAL to the worker sessions the
-- transaction has open, the admin's too, who may not set session_replication_role)
\if :on_citus
COMMIT;
BEGIN;
\endif
RESET ROLE;
SET LOCAL session_replication_role = replica;
INSERT INTO crm.leads (tenant_id, first_name, company, employee_count, owner_id)
VALUES ('a0000000-0000-7000-8000-00000000000a', 'Imported', 'Bulk Co', 5000, 'a0000000-0000-7000-8000-0000000000a2');
SET LOCAL session_replication_role = origin;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT is((crm.rescore_leads()->>'changed')::bigint, 1::bigint, 'an incremental pass scores the imported lead');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT row_eq($$SELECT details->>'pass', processed FROM crm.job_runs WHERE job = 'rescore_leads' ORDER BY started_at DESC, id DESC LIMIT 1$$,
    ROW('incremental'::text, 2::bigint), '    reading only it and the engaged lead');
SELECT is((crm.rescore_leads(full_pass => true)->>'changed')::bigint, 0::bigint, 'full_pass => true changes nothing');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT row_eq($$SELECT details->>'pass', processed FROM crm.job_runs WHERE job = 'rescore_leads' ORDER BY started_at DESC, id DESC LIMIT 1$$,
    ROW('full'::text, 5::bigint), '    after reading every lead');
SELECT is(pg_temp.v(format('SELECT score FROM crm.lead_score_history WHERE lead_id = %L', (pg_temp.lead('Samir')).id))::integer, 60, 'the history has the new score');

\if :on_citus
COMMIT;
BEGIN;
\endif
-- scoring one lead
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(crm.score_lead((pg_temp.lead('Samir')).id) - 'top_reasons',
    jsonb_build_object('lead_id', (pg_temp.lead('Samir')).id, 'score', 60, 'grade', 'B', 'previous_score', 60, 'changed', false,
                       'status', 'qualified', 'qualified_now', false, 'score_dropped', true),
    'crm.score_lead reports the lead''s score, grade, status and flags');
SELECT throws_ok($$SELECT crm.score_lead('b0000000-0000-7000-8000-000000000bb1')$$, 'PT404', NULL, 'another tenant''s lead: 404');
SELECT throws_ok($$SELECT crm.score_lead('a0000000-0000-7000-8000-0000000000a1')$$, 'PT404', NULL, 'an unknown lead: 404');
-- without a tenant context, only the operator rescores (every tenant)
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
SELECT throws_ok($$SELECT crm.rescore_leads(NULL)$$, '42501', NULL, 'a role without context does not rescore every tenant');
RESET ROLE;
SELECT is((crm.rescore_leads(NULL)->>'changed')::bigint, 0::bigint, 'the operator rescores every tenant');

SELECT * FROM finish();
ROLLBACK;
