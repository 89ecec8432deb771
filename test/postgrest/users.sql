-- users.sql (pgTAP, PostgREST replay): GET/POST/PATCH/DELETE /users and /teams and GET /rpc/current_context,
-- as PostgREST runs them for tokens of two tenants. crm_api.users returns only the caller's tenant.
\ir ../lib/preamble.psql

BEGIN;
\ir replay.psql
SELECT plan(41);

\ir ../lib/two_tenants.psql

-- Tokens
CREATE TEMP TABLE tok AS SELECT * FROM (VALUES
    ('a_rep',   'crm_rep',   pg_temp.pgrst_claims('crm_rep',   'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3')),
    ('a_admin', 'crm_admin', pg_temp.pgrst_claims('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1')),
    ('b_rep',   'crm_rep',   pg_temp.pgrst_claims('crm_rep',   'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3')),
    ('b_admin', 'crm_admin', pg_temp.pgrst_claims('crm_admin', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b1')),
    ('anon',    'crm_anon',  NULL::jsonb)) v(name, db_role, claims);
CREATE FUNCTION pg_temp.r(t text) RETURNS text LANGUAGE sql AS $$ SELECT db_role FROM tok WHERE name = t $$;
CREATE FUNCTION pg_temp.c(t text) RETURNS jsonb LANGUAGE sql AS $$ SELECT claims FROM tok WHERE name = t $$;

-- GET /users with Prefer: count=exact
CREATE TEMP TABLE res AS SELECT 'a_rep get'::text AS req, * FROM pg_temp.pgrst_get(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', 'order=email', true);
INSERT INTO res SELECT 'b_rep get', * FROM pg_temp.pgrst_get(pg_temp.r('b_rep'), pg_temp.c('b_rep'), 'users', 'select=id,email&order=email.desc', true);
SELECT is((SELECT status FROM res WHERE req = 'a_rep get'), 200, 'GET /users as a rep of A: 200');
SELECT is((SELECT page_total FROM res WHERE req = 'a_rep get'), 3::bigint, 'GET /users as a rep of A: three rows');
SELECT is((SELECT total FROM res WHERE req = 'a_rep get'), 3::bigint, 'GET /users as a rep of A: Content-Range total is 3 (count=exact counts through RLS)');
SELECT is((SELECT array_agg(e->>'email' ORDER BY ord) FROM res, jsonb_array_elements(body) WITH ORDINALITY x(e, ord) WHERE req = 'a_rep get'),
    '{ada@acme.test,max@acme.test,rae@acme.test}'::text[], 'GET /users as a rep of A: A''s users, in order');
SELECT is((SELECT count(*) FROM res, jsonb_array_elements(body) e WHERE req = 'a_rep get'
             AND e->>'tenant_id' <> 'a0000000-0000-7000-8000-00000000000a'), 0::bigint,
    'GET /users as a rep of A: not one row of another tenant');
SELECT is((SELECT array_agg(e->>'email' ORDER BY ord) FROM res, jsonb_array_elements(body) WITH ORDINALITY x(e, ord) WHERE req = 'b_rep get'),
    '{rob@borealis.test,mia@borealis.test,bo@borealis.test}'::text[], 'GET /users?select=id,email&order=email.desc as a rep of B: B''s three users');
SELECT is((SELECT array_agg(DISTINCT k) FROM res, jsonb_array_elements(body) e, jsonb_object_keys(e) k WHERE req = 'b_rep get'),
    '{email,id}'::text[], 'select= picks the columns');
SELECT is((SELECT total FROM res WHERE req = 'b_rep get'), 3::bigint, 'GET /users as a rep of B: total is 3');
SELECT ok((SELECT statement FROM res WHERE req = 'a_rep get') ~ '^WITH pgrst_source AS \(SELECT "?crm_api"?\."?users"?\.\* FROM "?crm_api"?\."?users"? ORDER BY .* SELECT \(SELECT pg_catalog.count\(\*\) FROM pgrst_source_count\) AS total_result_set, pg_catalog.count\(_postgrest_t\) AS page_total, coalesce\(json_agg\(_postgrest_t\)',
    'the read is in PostgREST''s shape');

-- Filters that name the other tenant find nothing
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', 'tenant_id=eq.b0000000-0000-7000-8000-00000000000b')),
    0::bigint, 'GET /users?tenant_id=eq.<B> as a rep of A: empty');
SELECT is((SELECT body FROM pg_temp.pgrst_get(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', 'id=eq.b0000000-0000-7000-8000-0000000000b3')),
    '[]'::jsonb, 'GET /users?id=eq.<a user of B> as a rep of A: []');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'teams', 'name=like.*North*')),
    0::bigint, 'GET /teams?name=like.*North* as a rep of A: B''s team is not there');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get(pg_temp.r('b_rep'), pg_temp.c('b_rep'), 'teams', 'name=like.*North*')),
    1::bigint, 'and a rep of B finds it');

SELECT is((SELECT body->0->>'email' FROM pg_temp.pgrst_get(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', 'email=eq.Ada@ACME.test')),
    'ada@acme.test', 'GET /users?email=eq.Ada@ACME.test: an email filter ignores case (crm.email)');

-- A read runs READ ONLY
SELECT is((SELECT code FROM pg_temp.pgrst_run('GET', '/users', 'crm_admin', pg_temp.c('a_admin'),
              'WITH pgrst_source AS (DELETE FROM crm_api.users RETURNING 1) SELECT 1 AS page_total, null::bigint AS total_result_set, null::json AS body, null AS response_status',
              NULL, true, 200)), '25006', 'a write smuggled into a GET fails: the transaction is read-only');

-- POST /users (Prefer: return=representation)
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', '{"email": "x@acme.test", "name": "X"}')),
    403, 'POST /users as a rep: 403 (42501)');
CREATE TEMP TABLE post AS SELECT * FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users',
    '[{"email": "new1@acme.test", "name": "New One", "role": "rep"}, {"email": "new2@acme.test", "name": "New Two", "role": "manager"}]');
SELECT is((SELECT status FROM post), 201, 'POST /users as an admin of A: 201');
SELECT is((SELECT page_total FROM post), 2::bigint, 'two rows created');
SELECT is((SELECT array_agg(DISTINCT e->>'tenant_id') FROM post, jsonb_array_elements(body) e),
    '{a0000000-0000-7000-8000-00000000000a}'::text[], 'tenant_id came from the token''s claims');
SELECT is((SELECT array_agg(e->>'role' ORDER BY e->>'email') FROM post, jsonb_array_elements(body) e),
    '{rep,manager}'::text[], 'the representation shows the rows as stored');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users',
              '[{"email": "k1@acme.test", "name": "K1"}, {"email": "k2@acme.test", "name": "K2", "role": "manager"}]')),
    400, 'a bulk POST whose objects differ in keys: 400, as PostgREST answers');
SELECT is((SELECT count(*) FROM crm.users WHERE email::text LIKE 'new_@acme.test' AND tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
    2::bigint, 'the rows are in crm.users, in tenant A');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users',
              '{"email": "smuggled@acme.test", "name": "S", "tenant_id": "b0000000-0000-7000-8000-00000000000b"}')),
    403, 'POST /users with B''s tenant_id as an admin of A: 403');
SELECT is((SELECT count(*) FROM crm.users WHERE email = 'smuggled@acme.test'), 0::bigint, 'and nothing was written');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', '{"email": "NEW1@acme.test", "name": "Dup"}')),
    409, 'POST /users with an email already used in the tenant: 409');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('b_admin'), pg_temp.c('b_admin'), 'users', '{"email": "new1@acme.test", "name": "Same Email Other Tenant"}')),
    201, 'the same email in another tenant is fine: 201');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', '{"email": "bad", "name": "Bad"}')),
    400, 'POST /users with a malformed email: 400');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users',
              '{"email": "t@acme.test", "name": "T", "team_id": "b0000000-0000-7000-8000-0000000000f1"}')),
    409, 'POST /users with a team of another tenant: 409 (foreign key)');

-- PATCH and DELETE across tenants touch nothing
SELECT is((SELECT page_total FROM pg_temp.pgrst_patch(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', 'email=eq.rob@borealis.test', '{"name": "Hacked"}')),
    0::bigint, 'PATCH /users?email=eq.<B''s rep> as an admin of A: 0 rows');
SELECT is((SELECT page_total FROM pg_temp.pgrst_patch(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', 'email=eq.rae@acme.test', '{"name": "Rae R."}')),
    1::bigint, 'PATCH /users?email=eq.<A''s rep> as an admin of A: 1 row');
SELECT is((SELECT status FROM pg_temp.pgrst_patch(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', 'email=eq.rae@acme.test',
              '{"tenant_id": "b0000000-0000-7000-8000-00000000000b"}')),
    403, 'PATCH moving a user to tenant B: 403');
SELECT is((SELECT status FROM pg_temp.pgrst_patch(pg_temp.r('a_rep'), pg_temp.c('a_rep'), 'users', 'email=eq.rae@acme.test', '{"name": "Me"}')),
    403, 'PATCH /users as a rep: 403');
SELECT is((SELECT page_total FROM pg_temp.pgrst_delete(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', 'tenant_id=eq.b0000000-0000-7000-8000-00000000000b')),
    0::bigint, 'DELETE /users?tenant_id=eq.<B> as an admin of A: 0 rows');
SELECT is((SELECT page_total FROM pg_temp.pgrst_delete(pg_temp.r('a_admin'), pg_temp.c('a_admin'), 'users', 'email=in.(new1@acme.test,new2@acme.test)')),
    2::bigint, 'DELETE /users?email=in.(…) as an admin of A: its own two rows');
SELECT is((SELECT array_agg(name ORDER BY email) FROM crm.users WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b'),
    '{"Bo Admin","Mia Manager","Same Email Other Tenant","Rob Rep"}'::text[], 'tenant B''s users are untouched');

-- RPC and anonymous access
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.r('b_rep'), pg_temp.c('b_rep'), 'current_context', '{}', 'GET')),
    '{"tenant_id": "b0000000-0000-7000-8000-00000000000b", "user_id": "b0000000-0000-7000-8000-0000000000b3", "app_role": "rep"}'::jsonb,
    'GET /rpc/current_context as a rep of B: B, the rep, rep');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.r('anon'), pg_temp.c('anon'), 'current_context', '{}', 'GET')),
    '{"tenant_id": null, "user_id": null, "app_role": "anon"}'::jsonb, 'GET /rpc/current_context without a token: anon');
SELECT is((SELECT status FROM pg_temp.pgrst_get(pg_temp.r('anon'), pg_temp.c('anon'), 'users')),
    401, 'GET /users without a token: 401');
SELECT is((SELECT status FROM pg_temp.pgrst_get('crm_rep', '{"role": "crm_rep", "tenant_id": "not-a-uuid"}', 'users')),
    400, 'GET /users with a malformed tenant_id claim: 400 (22P02), not an empty list');
SELECT is((SELECT page_total FROM pg_temp.pgrst_get('crm_rep', '{"role": "crm_rep"}', 'users')),
    0::bigint, 'GET /users with a token that names no tenant: empty');

-- After all that, the test's own session is as it was.
SELECT is(current_setting('role'), 'none', 'the replay restores the role');

SELECT * FROM finish();
ROLLBACK;
