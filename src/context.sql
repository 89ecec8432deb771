-- context.sql: the request context every policy reads (src/context.c).

CREATE FUNCTION crm.current_tenant() RETURNS uuid
    AS 'MODULE_PATHNAME', 'crm_current_tenant'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_tenant() IS 'The tenant of the current request: the tenant of the user the session''s login is bound to (crm.users.db_role), else the GUC crm.tenant_id (set by crm.set_context), else the tenant_id of request.jwt.claims (PostgREST), else NULL. A value that is not a uuid raises 22P02; a context whose user is not an active user of its tenant raises 42501.';

CREATE FUNCTION crm.current_user_id() RETURNS uuid
    AS 'MODULE_PATHNAME', 'crm_current_user_id'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_user_id() IS 'The CRM user of the current request: the user the session''s login is bound to, else the GUC crm.user_id (set by crm.set_context), else the sub of request.jwt.claims (PostgREST), else NULL. A value that is not a uuid raises 22P02; a user who is not an active user of the context''s tenant raises 42501.';

CREATE FUNCTION crm.current_app_role() RETURNS text
    AS 'MODULE_PATHNAME', 'crm_current_app_role'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.current_app_role() IS 'The application role of the request: admin, manager, rep or anon, the weaker of the database role in effect outside SECURITY DEFINER functions (the strongest of crm_admin, crm_manager, crm_rep, crm_anon it has the privileges of; PostgREST switches to the role of the JWT) and the role of the context''s user in crm.users; NULL for a database role without a crm role.';

CREATE FUNCTION crm.set_context(tenant uuid, user_id uuid, is_local boolean DEFAULT true) RETURNS void
    AS 'MODULE_PATHNAME', 'crm_set_context'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION crm.set_context(uuid, uuid, boolean) IS 'Sets the request context (crm.tenant_id and crm.user_id) for the current transaction, or with is_local => false for the session; NULL clears a value. The user must be an active user of the tenant, and a login bound to a user (crm.users.db_role) may set only that user''s context: 42501 otherwise, at once. Transaction-local by default so that a pooled connection never carries one client''s tenant into another''s transaction.';

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
CREATE FUNCTION crm.pre_request() RETURNS void
    AS 'MODULE_PATHNAME', 'crm_pre_request'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION crm.pre_request() IS 'PostgREST''s db-pre-request (db-pre-request = "crm.pre_request"): checks the tenant_id and sub of request.jwt.claims (42501 unless sub is an active user of that tenant, 22P02 for a value that is not a uuid) and makes them the transaction''s context, as crm.set_context does.';

REVOKE EXECUTE ON FUNCTION crm.current_tenant(), crm.current_user_id(), crm.current_app_role(),
    crm.set_context(uuid,uuid,boolean), crm.pre_request() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.current_tenant(), crm.current_user_id(), crm.current_app_role(), crm.pre_request()
    TO crm_anon, crm_rep;
GRANT EXECUTE ON FUNCTION crm.set_context(uuid,uuid,boolean) TO crm_rep;
