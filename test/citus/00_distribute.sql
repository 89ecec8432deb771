-- 00_distribute.sql (pgTAP, make test-citus): crm.distribute() made every crm table a Citus table,
-- colocated by tenant_id, kept every foreign key, and a second call changes nothing.
\ir ../lib/preamble.psql

BEGIN;
SELECT plan(11);

CREATE TEMP VIEW crm_tables AS
    SELECT c.oid::regclass AS tbl FROM pg_class c
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'crm'
    WHERE c.relkind IN ('r', 'p');

SELECT is((SELECT count(*) FROM crm_tables), 38::bigint, 'crm has 38 tables');
SELECT is(ARRAY(SELECT t.tbl::text FROM crm_tables t LEFT JOIN pg_dist_partition p ON p.logicalrelid = t.tbl
                 WHERE p.logicalrelid IS NULL ORDER BY 1), '{}'::text[], 'every one of them is a Citus table');
SELECT is(ARRAY(SELECT p.logicalrelid::text FROM pg_dist_partition p JOIN crm_tables t ON t.tbl = p.logicalrelid
                 WHERE p.partmethod = 'n' ORDER BY 1), '{crm.teams,crm.tenants,crm.users}'::text[],
    'crm.tenants, crm.teams and crm.users are reference tables');
SELECT is((SELECT count(*) FROM pg_dist_partition p JOIN crm_tables t ON t.tbl = p.logicalrelid
            WHERE p.partmethod = 'h' AND column_to_column_name(p.logicalrelid, p.partkey) = 'tenant_id'), 35::bigint,
    'the other 35 are distributed by tenant_id');
SELECT is((SELECT count(DISTINCT p.colocationid) FROM pg_dist_partition p JOIN crm_tables t ON t.tbl = p.logicalrelid
            WHERE p.partmethod = 'h'), 1::bigint, '    all in one colocation group (a tenant''s rows of every table on one node)');
SELECT is((SELECT count(*) FROM pg_constraint k JOIN crm_tables t ON t.tbl = k.conrelid WHERE k.contype = 'f'),
    (SELECT count(*) FROM pg_constraint k JOIN crm_tables t ON t.tbl = k.conrelid WHERE k.contype = 'f' AND k.confrelid IN (SELECT tbl FROM crm_tables)),
    'every foreign key of a crm table points at a crm table');
SELECT is(ARRAY(SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                                                              WHERE c.relnamespace = 'crm'::regnamespace AND k.contype = 'f'
                                                                AND c.relname !~ '_[0-9]+$'$$)),
    ARRAY(SELECT (SELECT count(*) FROM pg_constraint k JOIN crm_tables t ON t.tbl = k.conrelid WHERE k.contype = 'f')::text
          FROM generate_series(1, 2)),
    'after distribution the foreign keys are back, on the coordinator and on both workers alike');
SELECT is(crm.distribute()->>'already_distributed', 'true', 'a second crm.distribute() does nothing and says so');
SELECT is(ARRAY(SELECT result FROM run_command_on_workers($$SELECT string_agg(rolname || '=' || rolcanlogin, ',' ORDER BY rolname)
                                                            FROM pg_roles WHERE rolname LIKE 'crm\_%'$$)),
    ARRAY['crm_admin=true,crm_anon=true,crm_manager=true,crm_rep=true', 'crm_admin=true,crm_anon=true,crm_manager=true,crm_rep=true'],
    'the crm roles log in on both workers (Citus connects as the caller''s role)');
SELECT is((SELECT string_agg(rolname || '=' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'crm\_%'),
    'crm_admin=false,crm_anon=false,crm_manager=false,crm_rep=false', '    but not on the coordinator');
SELECT is((SELECT setting FROM pg_db_role_setting s, LATERAL unnest(s.setconfig) setting
            WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND setting LIKE 'citus.propagate_set_commands=%'),
    'citus.propagate_set_commands=local', 'the database propagates SET LOCAL (the signed context) to the workers');

SELECT * FROM finish();
ROLLBACK;
