-- context.sql: the request context every policy reads (src/context.c).

CREATE FUNCTION crm.current_tenant() RETURNS uuid
    AS 'MODULE_PATHNAME', 'crm_current_tenant'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_tenant() IS 'The tenant of the current request: the GUC crm.tenant_id, else the tenant_id of request.jwt.claims (PostgREST), else NULL. A value that is not a uuid raises 22P02.';

CREATE FUNCTION crm.current_user_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'crm_current_user_id'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_user_id() IS 'The CRM user of the current request: the GUC crm.user_id, else the sub of request.jwt.claims (PostgREST), else NULL. A value that is not a uuid raises 22P02.';

CREATE FUNCTION crm.current_app_role() RETURNS text
    AS 'MODULE_PATHNAME', 'crm_current_app_role'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_app_role() IS 'The application role of the database role in effect: admin, manager, rep or anon (the strongest of crm_admin, crm_manager, crm_rep, crm_anon it has the privileges of), else NULL. PostgREST switches to the role of the JWT before each request, so this is the role the token names.';

CREATE FUNCTION crm.set_context(tenant uuid, user_id uuid, is_local boolean DEFAULT true) RETURNS void
    AS 'MODULE_PATHNAME', 'crm_set_context'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION crm.set_context(uuid, uuid, boolean) IS 'Sets the request context (crm.tenant_id and crm.user_id) for the current transaction, or with is_local => false for the session; NULL clears a value. Transaction-local by default so that a pooled connection never carries one client''s tenant into another''s transaction.';

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.current_tenant(), crm.current_user_id(), crm.current_app_role(),
    crm.set_context(uuid,uuid,boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.current_tenant(), crm.current_user_id(), crm.current_app_role() TO crm_anon,
    crm_rep;
GRANT EXECUTE ON FUNCTION crm.set_context(uuid,uuid,boolean) TO crm_rep;
