-- 10_tenants.sql (pgTAP, make test-citus): the operator provisions two tenants and their users on the
-- distributed crm; committed, for the files after it.
\ir ../lib/preamble.psql
\ir lib.psql

BEGIN;
SELECT plan(7);
SELECT isnt(crm.create_tenant('Acme', '{}', 'a0000000-0000-7000-8000-00000000000a'), NULL, 'crm.create_tenant works on Citus (Acme)');
SELECT isnt(crm.create_tenant('Borealis', '{"sharing": "private"}', 'b0000000-0000-7000-8000-00000000000b'), NULL, '    and again (Borealis, private sharing)');
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'admin@acme.test', 'Ada Admin', 'admin'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'manager@acme.test', 'Max Manager', 'manager'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'rep@acme.test', 'Rita Rep', 'rep'),
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b1', 'admin@borealis.test', 'Bo Admin', 'admin'),
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'rep@borealis.test', 'Bea Rep', 'rep'),
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b4', 'rep2@borealis.test', 'Ben Rep', 'rep');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.users$q$), 6::bigint, 'six users in the reference table');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.pipelines WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_default$q$), 1::bigint,
    'the new tenant has its default pipeline (on its own shard)');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.pipeline_stages WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b'$q$), 6::bigint,
    '    with its six stages');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.scoring_models WHERE is_active$q$), 2::bigint, 'each tenant has its active scoring model');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.segments$q$), 8::bigint, 'each tenant has its four example segments');
SELECT * FROM finish();
COMMIT;
