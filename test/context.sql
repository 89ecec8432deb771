-- context.sql (pgTAP): the request context cannot lie about the user. A login bound to a CRM user
-- (crm.users.db_role) is that user in its tenant whatever it sets; the GUCs are crm.set_context's alone;
-- the application role is the weaker of the database role and the user's role. (The parsing of the
-- context and its error texts are in the pg_regress test sql/context.sql.)
\ir lib/preamble.psql

BEGIN;
SELECT plan(31);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- alice: a direct SQL login (psql, a BI tool) with the strongest database role, bound to Rita, a rep of
-- tenant A. bob: an application's login, not bound.
CREATE ROLE crm_test_alice LOGIN;
GRANT crm_admin TO crm_test_alice;
CREATE ROLE crm_test_bob LOGIN;
GRANT crm_rep TO crm_test_bob;
UPDATE crm.users SET db_role = 'crm_test_alice' WHERE id = 'a0000000-0000-7000-8000-0000000000a3';
CREATE TEMP TABLE tenant_leads AS SELECT tenant_id, count(*) AS n FROM crm.leads GROUP BY tenant_id;
GRANT SELECT ON tenant_leads TO PUBLIC;

SET SESSION AUTHORIZATION crm_test_alice;
SELECT is(crm.current_tenant(), 'a0000000-0000-7000-8000-00000000000a'::uuid, 'a bound login is in its user''s tenant without setting anything');
SELECT is(crm.current_user_id(), 'a0000000-0000-7000-8000-0000000000a3'::uuid, 'and is its user');
SELECT is(crm.current_app_role(), 'rep', 'with the weaker of its database role (admin) and its user''s role (rep)');
SELECT is((SELECT count(*) FROM crm.leads), (SELECT n FROM tenant_leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
    'it reads its tenant''s leads');
SELECT is((SELECT count(*) FROM crm.leads WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b'), 0::bigint,
    'and nothing of tenant B');
SELECT throws_ok($$SELECT crm.set_context('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3')$$,
    '42501', NULL, 'crm.set_context to another tenant''s user: 42501');
SELECT throws_ok($$SELECT crm.set_context('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1')$$,
    '42501', NULL, 'crm.set_context to another user of its own tenant (the admin): 42501');
SELECT throws_ok($$SELECT crm.set_context('b0000000-0000-7000-8000-00000000000b', NULL)$$,
    '42501', NULL, 'crm.set_context to another tenant alone: 42501');
SELECT lives_ok($$SELECT crm.set_context('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3')$$,
    'crm.set_context to its own user is fine');
SELECT lives_ok($$SELECT crm.set_context(NULL, NULL)$$, 'and clearing it changes nothing');
SELECT is(crm.current_tenant(), 'a0000000-0000-7000-8000-00000000000a'::uuid, 'the binding stays in force');
SELECT throws_ok($$SET LOCAL crm.tenant_id = 'b0000000-0000-7000-8000-00000000000b'$$, '42501', NULL,
    'setting the GUC directly: 42501');
SELECT set_config('request.jwt.claims', '{"role": "crm_admin", "tenant_id": "b0000000-0000-7000-8000-00000000000b", "sub": "b0000000-0000-7000-8000-0000000000b1"}', true) \g /dev/null
SELECT throws_ok($$SELECT count(*) FROM crm.leads$$, '42501', NULL, 'claims of another tenant''s admin: every read is 42501');
SELECT throws_ok($$SELECT crm.pre_request()$$, '42501', NULL, 'and so is crm.pre_request()');
SELECT set_config('request.jwt.claims', '{"tenant_id": "a0000000-0000-7000-8000-00000000000a", "sub": "a0000000-0000-7000-8000-0000000000a3"}', true) \g /dev/null
SELECT is((SELECT count(*) FROM crm.leads), (SELECT n FROM tenant_leads WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'),
    'claims naming its own user are fine');
SELECT set_config('request.jwt.claims', '', true) \g /dev/null
SELECT is(pg_temp.affected($$UPDATE crm.tenants SET name = 'Taken over'$$), 0::bigint,
    'its admin database role does not make it an admin: the tenant''s name and settings are out of reach');
INSERT INTO crm.leads (first_name, email, source) VALUES ('Direct', 'direct@login.test', 'website');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT tenant_id::text || ' ' || owner_id::text FROM crm.leads WHERE email = 'direct@login.test'),
    'a0000000-0000-7000-8000-00000000000a a0000000-0000-7000-8000-0000000000a3', 'what it writes is its user''s, in its tenant');

-- a bound admin cannot unbind itself (nor anyone): the row of a bound user is the operator's
UPDATE crm.users SET db_role = 'crm_test_adam' WHERE id = 'a0000000-0000-7000-8000-0000000000a1';
CREATE ROLE crm_test_adam LOGIN;
GRANT crm_admin TO crm_test_adam;
SET SESSION AUTHORIZATION crm_test_adam;
SELECT is(crm.current_app_role(), 'admin', 'a login bound to an admin is an admin');
SELECT is(pg_temp.affected($$DELETE FROM crm.users WHERE id = crm.current_user_id()$$), 0::bigint,
    'it cannot delete its own user row (which would unbind it)');
SELECT is(pg_temp.affected($$DELETE FROM crm.users WHERE id = 'a0000000-0000-7000-8000-0000000000a3'$$), 0::bigint,
    'nor another bound user''s');
SELECT is(pg_temp.affected($$UPDATE crm.users SET active = false WHERE id = 'a0000000-0000-7000-8000-0000000000a3'$$), 0::bigint,
    'nor change one');
RESET SESSION AUTHORIZATION;
UPDATE crm.users SET db_role = NULL WHERE id = 'a0000000-0000-7000-8000-0000000000a1';

-- deactivated, the bound login can do nothing, at once
UPDATE crm.users SET active = false WHERE id = 'a0000000-0000-7000-8000-0000000000a3';
SET SESSION AUTHORIZATION crm_test_alice;
SELECT throws_ok($$SELECT count(*) FROM crm.leads$$, '42501', NULL, 'a login bound to an inactive user: 42501 on every read');
SELECT throws_ok($$SELECT crm.current_user_id()$$, '42501', NULL, 'even of its context');
RESET SESSION AUTHORIZATION;
UPDATE crm.users SET active = true WHERE id = 'a0000000-0000-7000-8000-0000000000a3';

-- an unbound login keeps the trusted-application model: it sets the context of any active user
SET SESSION AUTHORIZATION crm_test_bob;
SELECT is(crm.current_tenant(), NULL, 'an unbound login has no context until it sets one');
SELECT lives_ok($$SELECT crm.set_context('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3')$$,
    'an unbound login sets a context');
SELECT is((SELECT count(*) FROM crm.leads), (SELECT n FROM tenant_leads WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b'),
    'and reads that tenant');
SELECT throws_ok($$SELECT crm.set_context('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-0000000000a3')$$,
    '42501', NULL, 'but not with a user of another tenant');
SELECT lives_ok($$SELECT crm.set_context(NULL, NULL)$$, 'it clears its context');
RESET SESSION AUTHORIZATION;

-- only the operator binds logins: an admin manages its users but not their db_role
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT throws_ok($$UPDATE crm.users SET db_role = 'crm_test_bob' WHERE id = 'a0000000-0000-7000-8000-0000000000a2'$$,
    '42501', NULL, 'an admin cannot bind a login to a user');
SELECT lives_ok($$UPDATE crm.users SET name = 'Max M.' WHERE id = 'a0000000-0000-7000-8000-0000000000a2'$$,
    'but still edits its users');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT is(crm.current_app_role(), 'rep', 'unbound roles through crm.set_context: unchanged');
SELECT pg_temp.become('none', NULL, NULL, 'none');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
