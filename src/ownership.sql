-- ownership.sql: who reads and who changes a tenant's records, as policies every entity table shares.
--
-- Kinds of table (docs/design.md §3):
--   owned   records with an owner (accounts, contacts, leads, opportunities, activities, tasks, notes):
--           a rep reads the tenant's records (only its own where the tenant's sharing is 'private') and
--           changes the records it owns; a manager or an admin reads and changes every record.
--   config  tenant configuration (pipelines, stages, products, tags): everyone reads, admins change.
--   shared  rows anyone in the tenant reads and writes (tags and taggings).
--   managed targets set by the tenant's managers (quotas): everyone reads, managers and admins change.
--   child   rows that belong to a parent record (a contact's emails, an opportunity's lines): read by
--           whoever reads the parent, changed by whoever may change the parent.
--   log     rows written by crm's own triggers only (events, audit log): managers and admins read them.
-- Every policy starts with tenant_id = crm.current_tenant(), an index condition. The role and sharing
-- tests are plain calls of C functions that read a cached context (tens of nanoseconds a row): no
-- subquery, which Citus refuses in the policies of distributed tables, and no table read.

-- Both are C (src/context.c), as the context functions are: they read the request context, and the
-- tenant's sharing from it (on a Citus worker, from the signed context), never through a query.
CREATE FUNCTION crm.sees_all_records() RETURNS boolean
    AS 'MODULE_PATHNAME', 'crm_sees_all_records'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.sees_all_records() IS 'Whether the caller reads every record of its tenant, or only those it owns: true for managers and admins, and for reps when the tenant''s sharing setting is public.';

CREATE FUNCTION crm.changes_all_records() RETURNS boolean
    AS 'MODULE_PATHNAME', 'crm_changes_all_records'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.changes_all_records() IS 'Whether the caller changes every record of its tenant (managers and admins) or only those it owns (reps).';

-- A row is written only for the caller's tenant and never moves to another. Row-level security says
-- the same, but only after the table's BEFORE triggers ran; this trigger fires first, so that no
-- trigger works on (or reports about) another tenant's data before the write is refused. TG_ARGV[0]
-- is the table's name, given by crm.secure_table (on a Citus shard, TG_TABLE_NAME is the shard's).
CREATE FUNCTION crm.tenant_guard() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'a row of % cannot move to another tenant', TG_ARGV[0] USING ERRCODE = '42501';
    END IF;
    RAISE EXCEPTION 'new row violates row-level security policy for table "%"', TG_ARGV[0]
        USING ERRCODE = '42501', DETAIL = 'Its tenant_id is not the tenant of the request (crm.current_tenant()).';
END
$$;
COMMENT ON FUNCTION crm.tenant_guard() IS 'Trigger: refuses (42501) to insert a row for a tenant other than the caller''s, or to change a row''s tenant_id, before any other trigger runs.';

-- Child rows carry their parent's owner (record_owner_id): set on every write (C, src/ownership.c) and
-- passed on when the parent changes hands.
CREATE FUNCTION crm.child_owner() RETURNS trigger
    AS 'MODULE_PATHNAME', 'crm_child_owner'
    LANGUAGE C;
COMMENT ON FUNCTION crm.child_owner() IS 'Trigger (BEFORE INSERT OR UPDATE of the parent reference or record_owner_id, per row, on a child table; arguments: parent table, parent column, parent''s owner column): sets record_owner_id to the owner of the parent, read as the caller (NULL for a parent it cannot see, which the policies then refuse).';

CREATE FUNCTION crm.child_owner_moved() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER (the child rows are the database's to write, whoever reassigns): it runs for the
    -- parent and child tables crm.secure_table paired, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.accounts,crm.campaigns,crm.cases,crm.contacts,crm.leads,crm.notes,crm.opportunities}'::regclass[])
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                      JOIN pg_catalog.pg_class c ON c.oid = k.conrelid AND c.relnamespace = 'crm'::regnamespace
                      WHERE k.contype = 'f' AND k.conrelid = TG_ARGV[0]::regclass
                        AND k.confrelid = crm.table_of(TG_RELID)) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.child_owner_moved()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- the child's crm.child_owner then reads the new owner from this (already updated) parent row
    EXECUTE format('UPDATE %s SET record_owner_id = NULL WHERE tenant_id = $1 AND %I = $2', TG_ARGV[0]::regclass, TG_ARGV[1])
        USING NEW.tenant_id, NEW.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.child_owner_moved() IS 'Trigger (AFTER UPDATE of the owner of a parent record, per row, when it changed; arguments: child table, parent column): has the child rows of the record take its new owner (crm.child_owner recomputes record_owner_id).';

-- Installs the policies of a tenant table's kind, its grants, the tenant guard and the updated_at
-- trigger, after checking that the table has RLS enabled and forced and is registered for pg_dump (each
-- table's file does both, in plain sight). Used by the install script only.
CREATE FUNCTION crm.secure_table(tbl regclass, kind text, parent regclass DEFAULT NULL, parent_column name DEFAULT NULL,
                                 owner_column name DEFAULT 'owner_id')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text := tbl::text;          -- schema-qualified and quoted by regclass output
    rel name := (SELECT c.relname FROM pg_class c WHERE c.oid = tbl);   -- the name the triggers are given
    in_tenant text := 'tenant_id = crm.current_tenant()';
    mine text;
BEGIN
    IF kind NOT IN ('owned', 'config', 'shared', 'managed', 'child', 'log') THEN
        RAISE EXCEPTION 'unknown table kind %', kind USING ERRCODE = '22023';
    END IF;
    -- each table's file enables and forces RLS and registers it for pg_dump, in plain sight; this checks it
    IF NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = tbl AND c.relrowsecurity AND c.relforcerowsecurity) THEN
        RAISE EXCEPTION 'table % must have row-level security enabled and forced before crm.secure_table', tbl;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'crm' AND tbl = ANY (e.extconfig)) THEN
        RAISE EXCEPTION 'table % must be registered with pg_extension_config_dump before crm.secure_table', tbl;
    END IF;
    IF kind = 'owned' THEN
        mine := format('%I = crm.current_user_id()', owner_column);
        EXECUTE format('CREATE POLICY owned_read ON %s FOR SELECT USING (%s AND (%s OR crm.sees_all_records()))', t, in_tenant, mine);
        EXECUTE format('CREATE POLICY owned_insert ON %s FOR INSERT WITH CHECK (%s AND (%s OR crm.changes_all_records()))', t, in_tenant, mine);
        EXECUTE format('CREATE POLICY owned_update ON %s FOR UPDATE USING (%s AND (%s OR crm.changes_all_records()))'
                       ' WITH CHECK (%s AND (%s OR crm.changes_all_records()))', t, in_tenant, mine, in_tenant, mine);
        EXECUTE format('CREATE POLICY owned_delete ON %s FOR DELETE USING (%s AND (%s OR crm.changes_all_records()))', t, in_tenant, mine);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO crm_rep', t);
    ELSIF kind = 'config' THEN
        EXECUTE format('CREATE POLICY config_read ON %s FOR SELECT USING (%s)', t, in_tenant);
        EXECUTE format('CREATE POLICY config_admin_write ON %s FOR ALL USING (%s AND crm.current_app_role() = ''admin'')'
                       ' WITH CHECK (%s AND crm.current_app_role() = ''admin'')', t, in_tenant, in_tenant);
        EXECUTE format('GRANT SELECT ON %s TO crm_rep', t);
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %s TO crm_admin', t);
    ELSIF kind = 'shared' THEN
        EXECUTE format('CREATE POLICY shared_all ON %s FOR ALL USING (%s) WITH CHECK (%s)', t, in_tenant, in_tenant);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO crm_rep', t);
    ELSIF kind = 'managed' THEN
        EXECUTE format('CREATE POLICY managed_read ON %s FOR SELECT USING (%s)', t, in_tenant);
        EXECUTE format('CREATE POLICY managed_write ON %s FOR ALL USING (%s AND crm.changes_all_records())'
                       ' WITH CHECK (%s AND crm.changes_all_records())', t, in_tenant, in_tenant);
        EXECUTE format('GRANT SELECT ON %s TO crm_rep', t);
        EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %s TO crm_manager', t);
    ELSIF kind = 'log' THEN
        -- written by crm's own SECURITY DEFINER triggers only; read by managers and admins
        EXECUTE format('CREATE POLICY log_read ON %s FOR SELECT USING (%s AND crm.changes_all_records())', t, in_tenant);
        EXECUTE format('GRANT SELECT ON %s TO crm_manager', t);
    ELSE
        IF parent IS NULL OR parent_column IS NULL THEN
            RAISE EXCEPTION 'a child table needs its parent and parent column' USING ERRCODE = '22023';
        END IF;
        -- The parent's owner travels with the row (record_owner_id, set by crm.child_owner as the caller
        -- reads the parent): the policies test it as the parent's own would, without a subquery.
        EXECUTE format('ALTER TABLE %s ADD COLUMN record_owner_id uuid', t);
        EXECUTE format('COMMENT ON COLUMN %s.record_owner_id IS %L', t,
                       format('The owner (%s) of the row''s %s, copied by crm.child_owner on every write and when the %s changes hands: the policies read it in place of the %s.',
                              owner_column, parent, parent, parent));
        mine := 'record_owner_id = crm.current_user_id()';
        EXECUTE format('CREATE POLICY child_read ON %s FOR SELECT USING (%s AND (%s OR crm.sees_all_records()))', t, in_tenant, mine);
        EXECUTE format('CREATE POLICY child_write ON %s FOR ALL USING (%s AND (%s OR crm.changes_all_records()))'
                       ' WITH CHECK (%s AND (%s OR crm.changes_all_records()))', t, in_tenant, mine, in_tenant, mine);
        -- b15_: after the tenant guard (b10_), before the table's own rules (docs/design.md §12)
        EXECUTE format('CREATE TRIGGER b15_child_owner BEFORE INSERT OR UPDATE OF %I, record_owner_id ON %s FOR EACH ROW'
                       ' EXECUTE FUNCTION crm.child_owner(%L, %L, %L)', parent_column, t, parent::text, parent_column, owner_column);
        EXECUTE format('COMMENT ON TRIGGER b15_child_owner ON %s IS %L', t,
                       format('src/ownership.sql (crm.secure_table): copies the owner (%s) of the row''s %s into record_owner_id, as the caller reads it.',
                              owner_column, parent));
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE OF %I ON %s FOR EACH ROW WHEN (OLD.%I IS DISTINCT FROM NEW.%I)'
                       ' EXECUTE FUNCTION crm.child_owner_moved(%L, %L)',
                       'owner_to_' || rel, owner_column, parent, owner_column, owner_column, t, parent_column);
        EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', 'owner_to_' || rel, parent,
                       format('src/ownership.sql (crm.secure_table): a new %s passes on to the rows of %s (their record_owner_id).', owner_column, t));
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO crm_rep', t);
    END IF;
    -- b10_: before every other trigger of the table (BEFORE ROW triggers fire in name order, docs/design.md
    -- §12); skipped for roles that bypass RLS (the operator)
    EXECUTE format('CREATE TRIGGER b10_tenant_guard_insert BEFORE INSERT ON %s FOR EACH ROW'
                   ' WHEN (NEW.tenant_id IS DISTINCT FROM crm.current_tenant() AND pg_catalog.row_security_active(%L::regclass))'
                   ' EXECUTE FUNCTION crm.tenant_guard(%L)', t, t, rel);
    EXECUTE format('COMMENT ON TRIGGER b10_tenant_guard_insert ON %s IS %L', t,
                   'src/ownership.sql (crm.secure_table): refuses (42501) a row for a tenant other than the request''s, before any other trigger sees it.');
    EXECUTE format('CREATE TRIGGER b10_tenant_guard_update BEFORE UPDATE OF tenant_id ON %s FOR EACH ROW'
                   ' WHEN (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) EXECUTE FUNCTION crm.tenant_guard(%L)', t, rel);
    EXECUTE format('COMMENT ON TRIGGER b10_tenant_guard_update ON %s IS %L', t,
                   'src/ownership.sql (crm.secure_table): refuses (42501) to move a row to another tenant, before any other trigger sees it.');
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = 'updated_at' AND NOT attisdropped) THEN
        EXECUTE format('CREATE TRIGGER b90_touch_updated_at BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at()', t);
        EXECUTE format('COMMENT ON TRIGGER b90_touch_updated_at ON %s IS %L', t,
                       'src/ownership.sql (crm.secure_table): sets updated_at to the transaction time.');
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.secure_table(regclass, text, regclass, name, name) FROM PUBLIC;
COMMENT ON FUNCTION crm.secure_table(regclass, text, regclass, name, name) IS 'Install-time helper: checks that a tenant table has RLS enabled and forced and is registered for pg_dump, and gives it the policies of its kind (owned by owner_column, config, shared, managed (quotas: managers and admins write), log, or child of parent through parent_column, read and written by whoever reads and may change the parent, owner_column then naming the parent''s owner column, copied into the child''s record_owner_id column that this adds), its grants, the tenant guard and updated_at triggers.';

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.sees_all_records(), crm.changes_all_records(), crm.tenant_guard(), crm.child_owner(),
    crm.child_owner_moved() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.sees_all_records(), crm.changes_all_records() TO crm_rep;
