-- schemas.sql: the HTTP schema and the roles every other piece grants to.
-- The extension's own schema, crm, is created by CREATE EXTENSION (crm.control names it).

CREATE SCHEMA crm_api;
COMMENT ON SCHEMA crm_api IS 'The HTTP API of crm, served by PostgREST (db-schemas = crm_api): security_invoker views over the crm tables and RPC functions.';

-- Roles are cluster-wide and outlive the extension: create them only where absent, and build the
-- ladder anon < rep < manager < admin by membership, so that a grant to crm_rep serves all three.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['crm_anon', 'crm_rep', 'crm_manager', 'crm_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    IF NOT pg_catalog.pg_has_role('crm_manager', 'crm_rep', 'MEMBER') THEN
        GRANT crm_rep TO crm_manager;
    END IF;
    IF NOT pg_catalog.pg_has_role('crm_admin', 'crm_manager', 'MEMBER') THEN
        GRANT crm_manager TO crm_admin;
    END IF;
END
$roles$;

-- crm_anon needs the schema only to run what crm_api functions call; it is granted no table in it.
GRANT USAGE ON SCHEMA crm TO crm_anon, crm_rep;
GRANT USAGE ON SCHEMA crm_api TO crm_anon, crm_rep;
