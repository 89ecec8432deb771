-- finish.sql: the last piece of the install script.

-- Every column of a crm_api view that shows a crm table's column under the same name carries that
-- column's comment, so PostgREST's OpenAPI describes the HTTP fields with the same words.
DO $comments$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT v.relname AS view_name, va.attname AS column_name, d.description
        FROM pg_catalog.pg_class v
        JOIN pg_catalog.pg_attribute va ON va.attrelid = v.oid AND va.attnum > 0 AND NOT va.attisdropped
        JOIN pg_catalog.pg_class t ON t.relname = v.relname AND t.relkind = 'r'
             AND t.relnamespace = 'crm'::regnamespace
        JOIN pg_catalog.pg_attribute ta ON ta.attrelid = t.oid AND ta.attname = va.attname
        JOIN pg_catalog.pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_catalog.pg_class'::regclass
             AND d.objsubid = ta.attnum
        WHERE v.relnamespace = 'crm_api'::regnamespace AND v.relkind = 'v'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description vd
                          WHERE vd.objoid = v.oid AND vd.classoid = 'pg_catalog.pg_class'::regclass
                            AND vd.objsubid = va.attnum)
    LOOP
        EXECUTE pg_catalog.format('COMMENT ON COLUMN crm_api.%I.%I IS %L', c.view_name, c.column_name, c.description);
    END LOOP;
END
$comments$;

-- PostgREST caches the schema: tell it to read it again. On a Citus worker the script runs inside the
-- coordinator's two-phase commit, where NOTIFY is refused, and no PostgREST listens there: only the
-- coordinator (or a single node) notifies.
DO $notify$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        IF NOT (SELECT r FROM pg_catalog.citus_is_coordinator() r) THEN
            RETURN;
        END IF;
    END IF;
    NOTIFY pgrst, 'reload schema';
END
$notify$;
