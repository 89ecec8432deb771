-- 25_bound_login.sql (pgTAP, make test-citus): a login bound to a crm user (crm.users.db_role) on Citus,
-- as itself and after SET ROLE. The workers recognise the login itself; after SET ROLE they see only the
-- role, so crm signs the bound user's context for them at the top of a transaction block, and refuses
-- (0A000) where Citus would not carry it (a statement outside BEGIN, a subtransaction) rather than let
-- rows silently go missing. Each case is run as the login (SET SESSION AUTHORIZATION) and read back into
-- a psql variable; pgTAP, whose state belongs to the superuser, checks it afterwards.
\ir ../lib/preamble.psql
\ir lib.psql
\set ON_ERROR_STOP 1
\o /dev/null
SET client_min_messages = warning;
DELETE FROM crm.tenants WHERE id = 'e0000000-0000-7000-8000-00000000000e';
DROP ROLE IF EXISTS crm_test_bound;
RESET client_min_messages;
SELECT crm.create_tenant('Bound E', '{}', 'e0000000-0000-7000-8000-00000000000e');
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    ('e0000000-0000-7000-8000-00000000000e', 'e0000000-0000-7000-8000-0000000000e3', 'erin@bound.test', 'Erin Rep', 'rep');
INSERT INTO crm.leads (tenant_id, first_name, last_name, company, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', 'Lead', g::text, 'Bound Co', 'e0000000-0000-7000-8000-0000000000e3'
FROM generate_series(1, 3) g;
CREATE ROLE crm_test_bound LOGIN;
GRANT crm_rep TO crm_test_bound;
UPDATE crm.users SET db_role = 'crm_test_bound' WHERE id = 'e0000000-0000-7000-8000-0000000000e3';
\o
SELECT plan(7);

-- the login itself, no transaction block: the workers find its binding themselves
SET SESSION AUTHORIZATION crm_test_bound;
SELECT count(*) AS as_login FROM crm.leads \gset
RESET SESSION AUTHORIZATION;
SELECT is(:as_login::bigint, 3::bigint, 'a bound login reads its tenant''s leads on the workers');

-- after SET ROLE crm_rep, in a transaction block: its user is signed for the workers
SET SESSION AUTHORIZATION crm_test_bound;
SET ROLE crm_rep;
BEGIN;
SELECT count(*) AS as_role FROM crm.leads \gset
SELECT count(*) AS as_role_api FROM crm_api.leads \gset
UPDATE crm.leads SET company = 'Bound Co renamed' WHERE last_name = '1';
COMMIT;
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT is(:as_role::bigint, 3::bigint, 'after SET ROLE crm_rep, in BEGIN ... COMMIT, it reads the same leads');
SELECT is(:as_role_api::bigint, 3::bigint, '    and through crm_api');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.leads WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND company = 'Bound Co renamed'$$),
    1::bigint, '    and changes the lead it owns');

-- where Citus would not carry the signed context: refused, not 0 rows
\set ON_ERROR_STOP 0
SET SESSION AUTHORIZATION crm_test_bound;
SET ROLE crm_rep;
SELECT count(*) FROM crm.leads;
\set outside :LAST_ERROR_SQLSTATE
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM crm.leads;
\set in_savepoint :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT crm.set_context(NULL, NULL);
SAVEPOINT s;
SELECT count(*) AS signed_first FROM crm.leads \gset
ROLLBACK;
RESET ROLE;
RESET SESSION AUTHORIZATION;
\set ON_ERROR_STOP 1
SELECT is(:'outside'::text, '0A000', 'after SET ROLE, a statement outside a transaction block is refused (0A000)');
SELECT is(:'in_savepoint'::text, '0A000', '    and so is a first read inside a subtransaction');
SELECT is(:signed_first::bigint, 3::bigint, '    which crm.set_context(NULL, NULL) at the top of the transaction makes possible');

SELECT * FROM finish();
\o /dev/null
DELETE FROM crm.tenants WHERE id = 'e0000000-0000-7000-8000-00000000000e';
DROP ROLE crm_test_bound;
\o
