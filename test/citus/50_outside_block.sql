-- 50_outside_block.sql (pgTAP, make test-citus): outside a transaction block (a statement of its own, a
-- DO block, a CALL), Citus reads the shards without a remote transaction, so without the SET LOCAL that
-- carries the request context: crm.set_context and crm.pre_request refuse to set one there (0A000)
-- rather than let the workers show no rows. In BEGIN ... COMMIT the same calls read the tenant's rows.
-- Tenant A and its admin are 10_tenants.sql's. Runs in autocommit: the refusals are caught by psql
-- (LAST_ERROR_SQLSTATE), since a pgTAP call would run them inside its own subtransaction; the three
-- refusals' messages are printed on stderr. The block at the end commits (it writes nothing): pgTAP's
-- count of the tests in it would go with a rollback.
\ir ../lib/preamble.psql
\ir lib.psql
\set ON_ERROR_STOP 0
\set VERBOSITY terse

SELECT plan(6);

CREATE PROCEDURE pg_temp.pipelines_seen(INOUT n bigint DEFAULT NULL) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'crm_admin', true);
    PERFORM crm.set_context('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1');
    SELECT count(*) INTO n FROM crm.pipelines;
END
$$;

-- a DO block of its own
\set LAST_ERROR_SQLSTATE ''
DO $$ BEGIN PERFORM crm.set_context('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1'); END $$;
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '0A000', 'crm.set_context in a DO block outside a transaction block: 0A000, not a context the workers lack');
-- a CALL of its own
\set LAST_ERROR_SQLSTATE ''
CALL pg_temp.pipelines_seen();
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '0A000', '    nor in a CALL outside a transaction block (whose read would find no pipeline)');
-- PostgREST's claims, a statement of its own
\set LAST_ERROR_SQLSTATE ''
SELECT set_config('request.jwt.claims', '{"role": "crm_admin", "tenant_id": "a0000000-0000-7000-8000-00000000000a", "sub": "a0000000-0000-7000-8000-0000000000a1"}', false),
       crm.pre_request() \g /dev/null
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '0A000', '    nor crm.pre_request outside a transaction block');
SELECT set_config('request.jwt.claims', '', false) \g /dev/null
-- clearing the context stays allowed
\set LAST_ERROR_SQLSTATE ''
SELECT crm.set_context(NULL, NULL) \g /dev/null
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '', 'clearing the context outside a transaction block is not refused');

-- in a transaction block, the same calls read the tenant's pipeline on its shard
BEGIN;
\set LAST_ERROR_SQLSTATE ''
CALL pg_temp.pipelines_seen(NULL) \gset seen_
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '', 'in BEGIN ... COMMIT the same CALL sets the context');
SELECT is(:'seen_n'::bigint, 1::bigint, '    and reads the tenant''s pipeline on its shard');
COMMIT;

SELECT * FROM finish();
