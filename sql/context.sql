-- The request context: crm.current_tenant(), crm.current_user_id(), crm.current_app_role(),
-- crm.set_context(); the GUCs crm.tenant_id and crm.user_id win over request.jwt.claims.

-- nothing set: NULL
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;

-- The tenants and users the examples name (a context's user must be an active user of its tenant).
SET client_min_messages = warning;
SELECT crm.create_tenant('Regress One', '{}', '11111111-1111-1111-1111-111111111111') IS NOT NULL AS one,
       crm.create_tenant('Regress Three', '{}', '33333333-3333-3333-3333-333333333333') IS NOT NULL AS three,
       crm.create_tenant('Regress Six', '{}', '66666666-6666-6666-6666-666666666666') IS NOT NULL AS six;
RESET client_min_messages;
INSERT INTO crm.users (tenant_id, id, email, name, role, active) VALUES
    ('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', 'two@one.test', 'Two', 'rep', true),
    ('33333333-3333-3333-3333-333333333333', '22222222-2222-2222-2222-222222222222', 'two@three.test', 'Two', 'admin', true),
    ('33333333-3333-3333-3333-333333333333', '44444444-4444-4444-4444-444444444444', 'four@three.test', 'Four', 'manager', true),
    ('66666666-6666-6666-6666-666666666666', '77777777-7777-7777-7777-777777777777', 'seven@six.test', 'Seven', 'rep', true),
    ('66666666-6666-6666-6666-666666666666', '88888888-8888-8888-8888-888888888888', 'eight@six.test', 'Eight', 'admin', false);

-- claims alone (PostgREST)
BEGIN;
SELECT set_config('request.jwt.claims',
    '{"role": "crm_rep", "tenant_id": "11111111-1111-1111-1111-111111111111", "sub": "22222222-2222-2222-2222-222222222222"}', true);
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
-- the GUC wins over the claims, value by value
SET LOCAL crm.tenant_id = '33333333-3333-3333-3333-333333333333';
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
SET LOCAL crm.user_id = '44444444-4444-4444-4444-444444444444';
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
-- an empty GUC means unset: the claims are read again (user 44444444 of the GUC is not a user of the
-- claims' tenant 11111111: refused)
SET LOCAL crm.tenant_id = '';
SELECT crm.current_tenant() AS tenant;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
-- new claims are read (the cache is keyed by the claims string); a tenant alone needs no user
SELECT set_config('request.jwt.claims', '{"tenant_id": "55555555-5555-5555-5555-555555555555"}', true);
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
-- claims without the keys, or with JSON nulls: NULL
SELECT set_config('request.jwt.claims', '{"role": "crm_anon", "tenant_id": null}', true);
SELECT crm.current_tenant() AS tenant;
ROLLBACK;

-- accepted spellings of a uuid (those uuid_in accepts)
BEGIN;
SET LOCAL crm.tenant_id = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
SELECT crm.current_tenant();
SET LOCAL crm.tenant_id = '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}';
SELECT crm.current_tenant();
SET LOCAL crm.tenant_id = 'a0eebc999c0b4ef8bb6d6bb9bd380a11';
SELECT crm.current_tenant();
ROLLBACK;

-- crm.set_context: transaction-local by default (tenant 66666666's active user 77777777)
BEGIN;
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '77777777-7777-7777-7777-777777777777');
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id,
       current_setting('crm.tenant_id') AS guc;
COMMIT;
SELECT crm.current_tenant() AS after_commit;
-- session-wide when asked
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', NULL, is_local => false);
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
-- NULL clears
SELECT crm.set_context(NULL, NULL, false);
SELECT crm.current_tenant() AS tenant, crm.current_user_id() AS user_id;
-- is_local must be given
SELECT crm.set_context(NULL, NULL, NULL);
\echo :LAST_ERROR_SQLSTATE

-- malformed uuid in the GUC: 22P02, naming the GUC, at every read, never NULL
BEGIN;
SET LOCAL crm.tenant_id = 'not-a-uuid';
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL crm.user_id = '11111111-1111-1111-1111-11111111111';
SELECT crm.current_user_id();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL crm.tenant_id = '11111111-1111-1111-1111-1111111111111';
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL crm.tenant_id = '{11111111-1111-1111-1111-111111111111';
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- malformed uuid in the claims: 22P02, naming the claim
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "tenant-a", "sub": "22222222-2222-2222-2222-222222222222"}', true);
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "11111111-1111-1111-1111-111111111111", "sub": 42}', true);
-- the user is part of every read of the context: a bad one fails them all
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- a long malformed claim is quoted cut at a character boundary (the copy never reads past the value)
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "' || repeat('ü', 40) || '", "sub": "tail-of-the-document"}', true) IS NOT NULL AS set;
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- claims that are not JSON, or not an object
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": ', true);
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '["tenant_id"]', true);
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- a malformed GUC is an error even when good claims are there: it is never skipped
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "11111111-1111-1111-1111-111111111111"}', true);
SET LOCAL crm.tenant_id = 'garbage';
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- the prefix is reserved: a misspelt crm GUC is refused
SET crm.tenant = '11111111-1111-1111-1111-111111111111';
\echo :LAST_ERROR_SQLSTATE

-- The context cannot lie about the user: crm.set_context refuses, at once, a user who is not a user of
-- the tenant, one of another tenant, an inactive one, and a user without a tenant (42501).
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '99999999-9999-9999-9999-999999999999');
\echo :LAST_ERROR_SQLSTATE
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '44444444-4444-4444-4444-444444444444');
\echo :LAST_ERROR_SQLSTATE
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '88888888-8888-8888-8888-888888888888');
\echo :LAST_ERROR_SQLSTATE
SELECT crm.set_context(NULL, '77777777-7777-7777-7777-777777777777');
\echo :LAST_ERROR_SQLSTATE
SELECT crm.current_tenant() AS nothing_was_set;
-- the claims path too: every read of the context refuses such a user, and so does crm.pre_request()
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "66666666-6666-6666-6666-666666666666", "sub": "88888888-8888-8888-8888-888888888888"}', true);
SELECT crm.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "66666666-6666-6666-6666-666666666666", "sub": "88888888-8888-8888-8888-888888888888"}', true);
SELECT crm.pre_request();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- crm.pre_request() makes good claims the transaction's context (the GUCs), as crm.set_context would
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "crm_rep", "tenant_id": "66666666-6666-6666-6666-666666666666", "sub": "77777777-7777-7777-7777-777777777777"}', true);
SELECT crm.pre_request();
SELECT current_setting('crm.tenant_id') AS tenant_guc, current_setting('crm.user_id') AS user_guc;
ROLLBACK;
-- a user deactivated after the context was set can do nothing from then on (every backend forgets what
-- it read of crm.users when it changes)
BEGIN;
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '77777777-7777-7777-7777-777777777777');
SELECT crm.current_user_id() AS active_user;
UPDATE crm.users SET active = false WHERE id = '77777777-7777-7777-7777-777777777777';
SELECT crm.current_user_id();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- only a superuser sets the crm GUCs directly: everyone else goes through crm.set_context
BEGIN;
SET LOCAL ROLE crm_rep;
SET LOCAL crm.tenant_id = '66666666-6666-6666-6666-666666666666';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL ROLE crm_rep;
SELECT set_config('crm.user_id', '77777777-7777-7777-7777-777777777777', true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL ROLE crm_rep;
SELECT crm.set_context('66666666-6666-6666-6666-666666666666', '77777777-7777-7777-7777-777777777777');
SELECT crm.current_tenant() AS rep_through_set_context, crm.current_app_role() AS app_role;
ROLLBACK;

-- The application role is the weaker of the database role and the user's role: user 22222222 is an
-- admin in tenant 33333333 and a rep in tenant 11111111.
BEGIN;
SET LOCAL ROLE crm_admin;
SELECT crm.set_context('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222');
SELECT crm.current_app_role() AS rep_user_through_admin_role;
SELECT crm.set_context('33333333-3333-3333-3333-333333333333', '22222222-2222-2222-2222-222222222222');
SELECT crm.current_app_role() AS admin_user_through_admin_role;
SELECT crm.set_context('33333333-3333-3333-3333-333333333333', '44444444-4444-4444-4444-444444444444');
SELECT crm.current_app_role() AS manager_user_through_admin_role;
RESET ROLE;
SET LOCAL ROLE crm_rep;
SELECT crm.set_context('33333333-3333-3333-3333-333333333333', '22222222-2222-2222-2222-222222222222');
SELECT crm.current_app_role() AS admin_user_through_rep_role;
-- a tenant without a user: the database role alone
SELECT crm.set_context('33333333-3333-3333-3333-333333333333', NULL);
SELECT crm.current_app_role() AS no_user_rep_role;
ROLLBACK;

-- the application role follows the database role in effect, whatever the claims say
SELECT crm.current_app_role() AS superuser_role;
BEGIN;
SET LOCAL ROLE crm_rep;
SELECT crm.current_app_role() AS rep;
SELECT set_config('request.jwt.claims', '{"role": "crm_admin"}', true);
SELECT crm.current_app_role() AS rep_with_forged_claim;
RESET ROLE;
SET LOCAL ROLE crm_manager;
SELECT crm.current_app_role() AS manager;
RESET ROLE;
SET LOCAL ROLE crm_admin;
SELECT crm.current_app_role() AS admin;
RESET ROLE;
SET LOCAL ROLE crm_anon;
SELECT crm.current_app_role() AS anon;
SELECT crm_api.current_context() AS anon_through_the_api;
RESET ROLE;
CREATE ROLE crm_regress_outsider;
GRANT USAGE ON SCHEMA crm TO crm_regress_outsider;  -- holds no crm role: may not even call them (42501)
SAVEPOINT outsider;
SET LOCAL ROLE crm_regress_outsider;
SELECT crm.current_app_role() AS outsider;
ROLLBACK TO SAVEPOINT outsider;
-- a grant changes the answer at once (the cache is invalidated)
GRANT crm_manager TO crm_regress_outsider;
SET LOCAL ROLE crm_regress_outsider;
SELECT crm.current_app_role() AS outsider_granted_manager;
RESET ROLE;
ROLLBACK;

-- the context functions are STABLE and PARALLEL SAFE (policies use them as index conditions)
SELECT proname, provolatile, proparallel FROM pg_proc
WHERE pronamespace = 'crm'::regnamespace
  AND proname IN ('current_tenant', 'current_user_id', 'current_app_role', 'set_context', 'uuid_v7')
ORDER BY proname;

-- the examples' tenants go, with their users
SET client_min_messages = warning;
DELETE FROM crm.tenants WHERE id IN ('11111111-1111-1111-1111-111111111111', '33333333-3333-3333-3333-333333333333',
                                     '66666666-6666-6666-6666-666666666666');
RESET client_min_messages;
