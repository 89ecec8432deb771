-- 20_context.sql (pgTAP, make test-citus): the request context reaches the workers. crm.set_context and
-- PostgREST's claims with crm.pre_request give the same rows as on one node; what would silently give
-- 0 rows on Citus is refused instead.
\ir ../lib/preamble.psql
\ir lib.psql
\ir ../lib/become.psql

BEGIN;
SELECT plan(14);

-- Rows on the shards of both tenants, written by the operator (committed by 10_tenants.sql's tenants).
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT is(crm.current_tenant(), 'a0000000-0000-7000-8000-00000000000a'::uuid, 'the coordinator has the context');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.pipelines$q$), 1::bigint, 'an admin reads its tenant''s pipelines on the workers (set_context)');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.pipeline_stages$q$), 6::bigint, '    and its stages');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.segments$q$), 4::bigint, '    and its segments, not the other tenant''s');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.users$q$), 3::bigint, '    and its users (a reference table)');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm_api.pipelines$q$), 1::bigint, '    and through crm_api');
SELECT is(crm.current_app_role(), 'admin', '    as an admin');

-- PostgREST: the claims, then db-pre-request
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
SELECT set_config('request.jwt.claims', '{"role": "crm_rep", "tenant_id": "b0000000-0000-7000-8000-00000000000b", "sub": "b0000000-0000-7000-8000-0000000000b3"}', true);
SELECT throws_ok('SELECT count(*) FROM crm.pipelines', '55000', NULL,
    'claims read without crm.pre_request are refused on Citus (they would reach no worker: 0 rows)');
SELECT throws_ok('SELECT crm.pre_request()', '0A000', NULL,
    'not in a subtransaction: Citus forgets a SET LOCAL made in one when it ends (a SAVEPOINT, an EXCEPTION block)');
SELECT crm.pre_request();
SELECT is(crm.current_tenant(), 'b0000000-0000-7000-8000-00000000000b'::uuid, 'crm.pre_request() takes the claims');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.segments$q$), 4::bigint, '    and the workers see the claims'' tenant');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.pipelines WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'$q$), 0::bigint,
    '    and nothing of the other tenant');

-- what cannot work on Citus is refused, not silently empty
SELECT throws_ok($$SELECT crm.set_context('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', false)$$,
    '0A000', NULL, 'a session-long context is refused (Citus carries only SET LOCAL to the workers)');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
SET LOCAL crm.context = '1.a0000000000070008000000000000000a.-.a.p.9999999999.0000000000000000000000000000000000000000000000000000000000000000';
SELECT throws_ok('SELECT count(*) FROM crm.pipelines', '42501', NULL, 'a crm.context not signed with the node key is refused');
RESET crm.context;

SELECT * FROM finish();
ROLLBACK;
