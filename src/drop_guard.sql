-- drop_guard.sql: DROP EXTENSION crm (or DROP SCHEMA crm CASCADE, or DROP OWNED BY its owner) is
-- refused while crm.tenants has rows, unless crm.allow_drop is on; a drop that goes ahead takes crm's
-- pg_cron jobs along (pg_cron keeps a dropped extension's jobs, failing every run). The trigger reads
-- the statement's parse tree in C (src/drop_guard.c), so EXECUTE, functions and multi-statement
-- strings cannot hide a drop from it. After maintenance.sql: it calls crm.unschedule_maintenance().

CREATE FUNCTION crm.drop_guard() RETURNS event_trigger
    AS 'MODULE_PATHNAME', 'crm_drop_guard'
    LANGUAGE C;
-- Event triggers do not check EXECUTE; no one is to call it directly.
REVOKE EXECUTE ON FUNCTION crm.drop_guard() FROM PUBLIC;
COMMENT ON FUNCTION crm.drop_guard() IS 'Event trigger (ddl_command_start): refuses a statement that would drop the extension crm while crm.tenants has rows (2BP01, unless crm.allow_drop = on), and removes crm''s pg_cron jobs (crm.unschedule_maintenance()) when the drop goes ahead.';

CREATE EVENT TRIGGER crm_drop_guard ON ddl_command_start WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP OWNED')
    EXECUTE FUNCTION crm.drop_guard();
-- ALWAYS: the guard holds under session_replication_role = replica too (a restore runs that way).
ALTER EVENT TRIGGER crm_drop_guard ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER crm_drop_guard IS 'Guards DROP EXTENSION crm, DROP SCHEMA crm CASCADE and DROP OWNED BY crm''s owner: refused while tenants are there unless crm.allow_drop = on; an allowed drop removes crm''s pg_cron jobs (crm.drop_guard).';
