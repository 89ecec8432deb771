-- accounts_intelligence.sql (pgTAP, PostgREST replay): support cases, NPS answers, account health and
-- segments over HTTP, as two tenants' tokens use them, with the HTTP status of each refusal.
\ir ../lib/preamble.psql

BEGIN;
\ir replay.psql
SELECT plan(14);
\ir ../lib/two_tenants.psql

-- cases and NPS
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'cases',
    '{"subject": "Printer on fire", "contact_id": "a0000000-0000-7000-8000-000000000ad1", "priority": "urgent"}')), 201, 'POST /cases: 201');
SELECT is((SELECT body->0->>'account_id' FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'cases', 'subject=eq.Printer on fire')),
    'a0000000-0000-7000-8000-000000000ac1', 'GET /cases: the case belongs to the contact''s account');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'cases',
    '{"subject": "Bad", "account_id": "a0000000-0000-7000-8000-000000000ac1", "satisfaction": 9}')), 400, 'a satisfaction of 9: 400');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'nps_responses',
    '{"contact_id": "a0000000-0000-7000-8000-000000000ad1", "score": 10}')), 403, 'an NPS answer for another tenant''s contact: 403');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'case_comments', '')), 1::bigint,
    'GET /case_comments as B: B''s comment only');

-- health
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'refresh_health_scores')), 403,
    'POST /rpc/refresh_health_scores as a rep: 403');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'refresh_health_scores')), '2'::jsonb,
    'as a manager: 200, two snapshots');
SELECT is((SELECT jsonb_array_length(body) FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'account_health_history',
    '{"account_id": "a0000000-0000-7000-8000-000000000ac1"}', 'GET')), 2, 'GET /rpc/account_health_history: yesterday and today');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'account_health_history',
    '{"account_id": "a0000000-0000-7000-8000-000000000ac1"}', 'GET')), 404, 'another tenant''s account: 404');
SELECT ok((SELECT body->0->>'health_band' IS NOT NULL FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'accounts',
    'id=eq.a0000000-0000-7000-8000-000000000ac1')), 'GET /accounts carries the latest health band');

-- segments
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_admin'), pg_temp.tok('a_admin'), 'segments',
    $${"name": "Sneaky", "criteria": {"field": "industry) OR (1=1", "op": "=", "value": "x"}}$$)), 400, 'POST /segments with SQL in a field: 400');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'segments',
    '{"name": "Mine", "criteria": {"field": "country", "op": "=", "value": "US"}}')), 403, 'POST /segments as a rep: 403');
-- the segment's id first: on Citus a query that reads the tenant's shard goes there whole, pgTAP's call too
SELECT id AS at_risk FROM crm.segments WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND name = 'At risk' \gset
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'refresh_segment',
    json_build_object('segment_id', :'at_risk'::uuid))),
    '{"added": 0, "removed": 1, "members": 0}'::jsonb, 'POST /rpc/refresh_segment: Initech is no longer at risk');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'segment_members',
    json_build_object('segment_id', :'at_risk'::uuid), 'GET')),
    404, 'GET /rpc/segment_members of another tenant''s segment: 404');

SELECT * FROM finish();
ROLLBACK;
