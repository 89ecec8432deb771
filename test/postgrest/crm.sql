-- crm.sql (pgTAP, PostgREST replay): the CRM's HTTP API as two tenants' tokens use it: lists with
-- filters and counts, inserts with return=representation, updates, deletes, the RPCs, and the HTTP
-- status of each error (docs/design.md §7).
\ir ../lib/preamble.psql

BEGIN;
\ir replay.psql
SELECT plan(51);
\ir ../lib/two_tenants.psql

-- lists
CREATE TEMP TABLE r AS SELECT 'leads' AS req, * FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'select=id,company,status&order=company', true);
SELECT is((SELECT status FROM r WHERE req = 'leads'), 200, 'GET /leads: 200');
SELECT is((SELECT body FROM r WHERE req = 'leads'),
    '[{"id": "a0000000-0000-7000-8000-000000000ab1", "status": "new", "company": "Chotchkies"}, {"id": "a0000000-0000-7000-8000-000000000ab2", "status": "new", "company": "Construction Co"}]'::jsonb,
    'GET /leads as a rep of A: A''s two leads, only the columns asked for, in order');
SELECT is((SELECT total FROM r WHERE req = 'leads'), 2::bigint, 'Prefer: count=exact counts A''s leads only');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'leads', 'company=ilike.*chotchkies*')), 0::bigint,
    'GET /leads?company=ilike.*chotchkies* as a rep of B: nothing of A');
SELECT is((SELECT body FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'contacts', 'select=first_name,email&email=eq.PETER@INITECH.TEST')),
    '[{"email": "peter@initech.test", "first_name": "Peter"}]'::jsonb, 'a filter on crm.email ignores case');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'contacts', 'email=eq.PETER@INITECH.TEST')), 1::bigint,
    'GET /contacts?email=eq.PETER@INITECH.TEST finds peter@initech.test');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'contacts', 'phone=eq.+15125550101')), 1::bigint,
    'GET /contacts?phone=eq.+15125550101 finds Peter''s number');
SELECT is((SELECT body->0->>'name' FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'pipeline_stages', 'order=position&limit=1')), 'prospecting',
    'GET /pipeline_stages?order=position&limit=1');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'opportunity_line_items', '')), 1::bigint,
    'GET /opportunity_line_items: A''s line only');
SELECT is((SELECT status FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'audit_log', '')), 403, 'GET /audit_log as a rep: 403');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'events', 'type=eq.lead.created')), 2::bigint,
    'GET /events?type=eq.lead.created as a manager of A: A''s two');

SELECT is((SELECT body->0->>'company' FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'select=company&search=wfts(simple).chotchkies')),
    'Chotchkies', 'GET /leads?search=wfts(simple).chotchkies: full-text search through PostgREST''s filter');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'accounts', 'search=fts(simple).initech')),
    0::bigint, 'GET /accounts?search=fts(simple).initech as a rep of B: nothing of A');

-- inserts
CREATE TEMP TABLE p AS SELECT * FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads',
    '{"first_name": "Nina", "company": "Flingers", "email": "Nina@Flingers.test", "source": "event"}');
SELECT is((SELECT status FROM p), 201, 'POST /leads: 201');
SELECT is((SELECT body->0->>'tenant_id' FROM p) || ' ' || (SELECT body->0->>'owner_id' FROM p) || ' ' || (SELECT body->0->>'email' FROM p),
    'a0000000-0000-7000-8000-00000000000a a0000000-0000-7000-8000-0000000000a3 nina@flingers.test',
    'the representation: tenant and owner from the token, the email normalized');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', '{"company": "X", "email": "not an email"}')),
    400, 'POST /leads with a malformed email: 400');
SELECT is((SELECT code FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', '{"company": "X", "email": "not an email"}')),
    '22P02', '(22P02)');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', '{"company": "X", "owner_id": "a0000000-0000-7000-8000-0000000000a2"}')),
    403, 'POST /leads owned by someone else, as a rep: 403');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'opportunities', '{"name": "Flingers pilot", "amount": 900}')),
    201, 'POST /opportunities with a name and an amount: 201');
SELECT is((SELECT body->0->>'probability' FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'opportunities', 'name=eq.Flingers pilot')),
    '10', 'it starts in the first stage of the default pipeline');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'contacts', '{"first_name": "Dup", "email": "peter@initech.test"}')),
    409, 'POST /contacts with an email another contact has: 409');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'contacts', '{"first_name": "X", "account_id": "b0000000-0000-7000-8000-000000000bc1"}')),
    409, 'POST /contacts at another tenant''s account: 409 (foreign key)');

-- updates and deletes
SELECT is((SELECT page_total FROM pg_temp.pgrst_patch(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'company=eq.Flingers', '{"status": "qualified"}')),
    1::bigint, 'PATCH /leads?company=eq.Flingers: 1 row');
SELECT is((SELECT page_total FROM pg_temp.pgrst_patch(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'company=eq.Construction Co', '{"status": "qualified"}')),
    0::bigint, 'PATCH another rep''s lead: 0 rows');
SELECT is((SELECT page_total FROM pg_temp.pgrst_patch(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'leads', 'id=eq.a0000000-0000-7000-8000-000000000ab1', '{"status": "lost"}')),
    0::bigint, 'PATCH another tenant''s lead: 0 rows');
SELECT is((SELECT status FROM pg_temp.pgrst_patch(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'company=eq.Flingers', '{"status": "lost"}')),
    400, 'PATCH a lead to lost without a reason: 400 (23514)');
SELECT is((SELECT page_total FROM pg_temp.pgrst_delete(pg_temp.role('b_admin'), pg_temp.tok('b_admin'), 'accounts', 'name=eq.Initech')),
    0::bigint, 'DELETE another tenant''s account, as an admin: 0 rows');
SELECT is((SELECT page_total FROM pg_temp.pgrst_delete(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'tasks', 'title=eq.Send the quote')),
    1::bigint, 'DELETE /tasks?title=eq.Send the quote: its assignee deletes it');

-- RPCs
CREATE TEMP TABLE c AS SELECT * FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'convert_lead', '{"lead_id": "a0000000-0000-7000-8000-000000000ab1", "amount": 5000}');
SELECT is((SELECT status FROM c), 200, 'POST /rpc/convert_lead: 200');
SELECT ok((SELECT (body->>'account_id') IS NOT NULL AND (body->>'opportunity_id') IS NOT NULL FROM c), 'with the ids');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'convert_lead', '{"lead_id": "a0000000-0000-7000-8000-000000000ab1"}')),
    409, 'again: 409');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'convert_lead', '{"lead_id": "a0000000-0000-7000-8000-000000000ab2"}')),
    404, 'another tenant''s lead: 404 (PT404)');
CREATE TEMP TABLE m AS SELECT * FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'move_opportunity',
    '{"opportunity_id": "a0000000-0000-7000-8000-000000000ae1", "stage": "proposal", "reason": "pricing sent"}');
SELECT is((SELECT status FROM m), 200, 'POST /rpc/move_opportunity: 200');
SELECT is((SELECT body->>'probability' FROM m), '50', 'returns the opportunity, as an object, in its new stage');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'move_opportunity',
    '{"opportunity_id": "a0000000-0000-7000-8000-000000000ae1", "stage": "signed"}')), 400, 'an unknown stage: 400 (22023)');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'move_opportunity',
    '{"opportunity_id": "a0000000-0000-7000-8000-000000000ae1", "stage": "closed_lost"}')), 400, 'lost without a reason: 400 (23514)');
SELECT is((SELECT body->>'status' FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'complete_task',
    '{"task_id": "b0000000-0000-7000-8000-000000000b51", "outcome": "demo booked"}')), 'completed', 'POST /rpc/complete_task');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'complete_task',
    '{"task_id": "b0000000-0000-7000-8000-000000000b51"}')), 404, 'another tenant''s task: 404');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'reassign_owner',
    '{"entity": "lead", "id": "a0000000-0000-7000-8000-000000000ab2", "owner_id": "a0000000-0000-7000-8000-0000000000a3"}')), 403,
    'POST /rpc/reassign_owner as a rep: 403');
CREATE TEMP TABLE t AS SELECT * FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "opportunity", "id": "a0000000-0000-7000-8000-000000000ae1"}', 'GET');
SELECT is((SELECT status FROM t), 200, 'GET /rpc/timeline: 200 (a STABLE function, read-only transaction)');
SELECT is((SELECT array_agg(e->>'title' ORDER BY ord) FROM t, jsonb_array_elements(body) WITH ORDINALITY x(e, ord)),
    ARRAY['prospecting -> proposal', 'prospecting'], 'newest first: the move and the stage it was created in (its task was deleted above)');
CREATE TEMP TABLE t1 AS SELECT * FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "opportunity", "id": "a0000000-0000-7000-8000-000000000ae1", "page_size": 1}', 'GET');
SELECT is((SELECT jsonb_array_length(body) || ' ' || (body->0->>'title') FROM t1), '1 prospecting -> proposal',
    'GET /rpc/timeline?page_size=1: the first row, with its cursor');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
            json_build_object('entity', 'opportunity', 'id', 'a0000000-0000-7000-8000-000000000ae1', 'page_size', 1, 'after', (SELECT body->0->>'cursor' FROM t1)), 'GET')
          )->0->>'title', 'prospecting', '    and &after=<that cursor>: the next one');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "opportunity", "id": "a0000000-0000-7000-8000-000000000ae1", "page_size": 0}', 'GET')), 400, 'GET /rpc/timeline?page_size=0: 400 (22023)');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "opportunity", "id": "a0000000-0000-7000-8000-000000000ae1", "after": "yesterday"}', 'GET')), 400, 'GET /rpc/timeline?after=yesterday: 400 (22023)');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "account", "id": "b0000000-0000-7000-8000-000000000bc1"}', 'GET')), 404, 'GET /rpc/timeline of another tenant''s account: 404');
SELECT is((SELECT status || ' ' || (body->>'type') FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'log_activity',
    '{"type": "call", "contact_id": "a0000000-0000-7000-8000-000000000ad1", "outcome": "connected"}')), '200 call', 'POST /rpc/log_activity: 200, the activity');
SELECT is((SELECT status || ' ' || code FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'log_activity',
    '{"type": "call", "lead_id": "b0000000-0000-7000-8000-000000000bb1"}')), '404 PT404', 'POST /rpc/log_activity about another tenant''s lead: 404 (was 409)');
SELECT is((SELECT status || ' ' || message FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'log_activity', '{"type": "call"}')),
    '400 an activity must be about a lead, a contact, an account or an opportunity', 'POST /rpc/log_activity about nothing: 400 saying what it must be about');
SELECT is((SELECT status || ' ' || (body->>'changed') FROM pg_temp.pgrst_rpc(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'reassign_owner',
    '{"entity": "lead", "id": "a0000000-0000-7000-8000-000000000ab2", "owner_id": "a0000000-0000-7000-8000-0000000000a3"}')), '200 true',
    'POST /rpc/reassign_owner as a manager: 200, what changed');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'timeline',
    '{"entity": "invoice", "id": "a0000000-0000-7000-8000-000000000ae1"}', 'GET')), 400, 'GET /rpc/timeline?entity=invoice: 400');

SELECT * FROM finish();
ROLLBACK;
