-- distribute.sql: crm on Citus (docs/design.md §9). A single node never calls crm.distribute(), and its
-- existence changes nothing there.
--
-- What a DBA does first, on every node (coordinator and workers): shared_preload_libraries = 'citus'
-- (and 'pg_cron' on the coordinator for the maintenance jobs), the same crm.node_key in postgresql.conf
-- (a secret of 32 characters or more: the coordinator signs each request context with it, the workers
-- check it), CREATE EXTENSION citus, and, on the coordinator, citus_set_coordinator_host and
-- citus_add_node for each worker. Then, on the coordinator only: CREATE EXTENSION crm (Citus runs the
-- script on the workers too) and SELECT crm.distribute().

-- Which crm table a relation stands for: itself, or on Citus the table of a shard (src/distribute.c).
-- SECURITY DEFINER trigger functions check it (not TG_RELID) against their tables: on Citus they fire
-- on shards.
CREATE FUNCTION crm.table_of(relid oid) RETURNS regclass
    AS 'MODULE_PATHNAME', 'crm_table_of_sql'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.table_of(oid) IS 'The table a relation stands for: the relation itself, or on Citus the distributed or reference table whose shard it is (as pg_dist_shard says). Trigger functions compare crm.table_of(TG_RELID) with their tables.';
REVOKE EXECUTE ON FUNCTION crm.table_of(oid) FROM PUBLIC;

-- Whether a trigger firing on relid writes its tenant's rows of other tables where it fires: always on a
-- single node, and on the shards of distributed tables (a tenant's rows of every table are colocated).
-- On Citus the triggers of a reference table (crm.users, crm.teams) fire on its every placement: there
-- only the node that holds the tenant's shards writes them (a local task, and once), the others skip.
CREATE FUNCTION crm.tenant_shards_here(relid oid, tenant uuid) RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    tbl regclass := crm.table_of(relid);
BEGIN
    IF tbl::oid = relid THEN
        RETURN true;                            -- not a shard: a single node (the Citus catalogs are not read)
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = tbl AND p.partmethod = 'n') THEN
        RETURN true;                            -- a distributed table's shard: the tenant's rows are here
    END IF;
    RETURN EXISTS (SELECT 1 FROM pg_dist_placement p
                    WHERE p.shardid = get_shard_id_for_distribution_column('crm.accounts', tenant)
                      AND p.groupid = (SELECT g.groupid FROM pg_dist_local_group g));
END
$$;
COMMENT ON FUNCTION crm.tenant_shards_here(oid, uuid) IS 'Internal to triggers: whether a trigger firing on relid writes the tenant''s rows of other tables here: true on a single node and on a distributed table''s shard; on a placement of a reference table (whose triggers fire on every node), true only on the node that holds the tenant''s shards.';
REVOKE EXECUTE ON FUNCTION crm.tenant_shards_here(oid, uuid) FROM PUBLIC;

-- The jobs' bodies run where the tenant's rows are (docs/design.md §9): distributed by their tenant
-- argument t, colocated with the tables, with force_delegation (crm.run_job calls them inside its
-- transaction, a procedure's, where Citus delegates only such functions), so crm.job_tenant's call of a
-- body is sent to the tenant's node as one command and every statement of the body runs there, on that
-- tenant's shards only (Citus refuses anything else in a delegated call). A body's statements therefore
-- read only tables distributed by tenant, plus reference tables in statements of their own (Citus
-- refuses a delegated statement that joins one to a distributed table; crm.forecast_of reads the
-- tenant's users first).
-- Returns how many it distributed now (0: all were already).
CREATE FUNCTION crm.distribute_job_bodies() RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    bodies constant text[] := ARRAY['crm.rebuild_account_activity_tenant(uuid,jsonb,jsonb)', 'crm.rebuild_win_model_tenant(uuid,jsonb,jsonb)',
                                    'crm.refresh_health_scores_tenant(uuid,jsonb,jsonb)', 'crm.refresh_segments_tenant(uuid,jsonb,jsonb)',
                                    'crm.rescore_leads_tenant(uuid,jsonb,jsonb)', 'crm.snapshot_forecast_tenant(uuid,jsonb,jsonb)'];
    f text;
    n integer := 0;
BEGIN
    FOREACH f IN ARRAY bodies LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_dist_object o
                               WHERE o.classid = 'pg_proc'::regclass AND o.objid = f::regprocedure
                                 AND o.distribution_argument_index = 0 AND o.force_delegation
                                 AND o.colocationid = (SELECT p.colocationid FROM pg_dist_partition p WHERE p.logicalrelid = 'crm.leads'::regclass));
        PERFORM create_distributed_function(f::regprocedure, 't', colocate_with => 'crm.leads', force_delegation => true);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION crm.distribute_job_bodies() IS 'Internal to crm.distribute(): distributes the bodies of the six batch jobs (crm.<job>_tenant) by their tenant argument, colocated with crm.leads, with force_delegation, so that crm.run_job runs each on the tenant''s node; returns how many it distributed now (0 when all were).';
REVOKE EXECUTE ON FUNCTION crm.distribute_job_bodies() FROM PUBLIC;

CREATE FUNCTION crm.distribute(shard_count integer DEFAULT NULL) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    -- Replicated to every node: tenants (every table's foreign key points at it, and it is tiny), and
    -- teams and users (one login binding across all tenants, and the context reads them on every node).
    reference constant text[] := ARRAY['crm.tenants', 'crm.teams', 'crm.users'];
    key_hash text;
    bad_nodes text;
    yes boolean;
    pending regclass[];
    had_rows regclass[] := '{}';
    fk record;
    fk_tables regclass[] := '{}';
    fk_names text[] := '{}';
    fk_defs text[] := '{}';
    i integer;
    t regclass;
    first_distributed regclass;
    n_reference integer := 0;
    n_distributed integer := 0;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'crm.distribute needs the citus extension' USING ERRCODE = '55000',
            HINT = 'On every node: shared_preload_libraries = ''citus'', CREATE EXTENSION citus; then add the workers on the coordinator.';
    END IF;
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied: only a superuser distributes crm' USING ERRCODE = '42501';
    END IF;
    EXECUTE 'SELECT citus_is_coordinator()' INTO STRICT yes;
    IF NOT yes THEN
        RAISE EXCEPTION 'crm.distribute runs on the coordinator' USING ERRCODE = '55000';
    END IF;
    -- every node signs and checks request contexts with the same key
    IF length(coalesce(current_setting('crm.node_key', true), '')) < 32 THEN
        RAISE EXCEPTION 'crm.node_key is not set on the coordinator' USING ERRCODE = '55000',
            HINT = 'Put the same crm.node_key (32 characters or more) in postgresql.conf on every node and reload.';
    END IF;
    key_hash := md5(current_setting('crm.node_key'));
    EXECUTE $q$
        SELECT string_agg(nodename || ':' || nodeport, ', ')
        FROM run_command_on_workers($c$SELECT md5(coalesce(current_setting('crm.node_key', true), ''))$c$)
        WHERE NOT success OR result <> $1$q$
        INTO bad_nodes USING key_hash;
    IF bad_nodes IS NOT NULL THEN
        RAISE EXCEPTION 'crm.node_key differs on %', bad_nodes USING ERRCODE = '55000',
            HINT = 'Every node needs the coordinator''s crm.node_key (then pg_reload_conf()).';
    END IF;

    -- The crm tables Citus does not know yet; none: done already (crm.distribute is idempotent).
    SELECT array_agg(c.oid::regclass ORDER BY c.oid) INTO pending
    FROM pg_class c
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'crm'
    WHERE c.relkind IN ('r', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid);
    IF pending IS NULL THEN
        -- (the jobs' bodies too: an install distributed before they were is completed)
        RETURN jsonb_build_object('reference_tables', 0, 'distributed_tables', 0, 'job_bodies', crm.distribute_job_bodies(),
                                  'already_distributed', true);
    END IF;

    -- The triggers fire on the shards and touch the same tenant's rows only, which are on the same node
    -- (colocated): docs/design.md §9.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- Foreign keys between crm tables, put back once every table is distributed (leads and
    -- opportunities refer to each other: no order of distribution satisfies both).
    FOR fk IN
        SELECT k.conrelid::regclass AS tbl, k.conname, pg_get_constraintdef(k.oid) AS def
        FROM pg_constraint k
        WHERE k.contype = 'f' AND (k.conrelid = ANY (pending) OR k.confrelid = ANY (pending))
        ORDER BY k.conrelid, k.conname
    LOOP
        fk_tables := fk_tables || fk.tbl;
        fk_names := fk_names || fk.conname::text;
        fk_defs := fk_defs || fk.def;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        -- the workers' copies of the tables (their CREATE EXTENSION made them) have it too; Citus puts
        -- it back on every node when it is added to the distributed table
        PERFORM run_command_on_workers(format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.tbl, fk.conname));
    END LOOP;

    FOREACH t IN ARRAY pending LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s)', t) INTO STRICT yes;
        IF yes THEN
            had_rows := had_rows || t;
        END IF;
    END LOOP;
    FOREACH t IN ARRAY pending LOOP
        IF t::text = ANY (reference) THEN
            PERFORM create_reference_table(t);
            n_reference := n_reference + 1;
        END IF;
    END LOOP;
    SELECT p.logicalrelid INTO first_distributed
    FROM pg_dist_partition p
    JOIN pg_class c ON c.oid = p.logicalrelid AND c.relnamespace = 'crm'::regnamespace
    WHERE p.partmethod = 'h'
    ORDER BY p.logicalrelid LIMIT 1;
    FOREACH t IN ARRAY pending LOOP
        CONTINUE WHEN t::text = ANY (reference);
        IF first_distributed IS NULL THEN
            IF shard_count IS NULL THEN
                PERFORM create_distributed_table(t, 'tenant_id');
            ELSE
                PERFORM create_distributed_table(t, 'tenant_id', shard_count => shard_count);
            END IF;
            first_distributed := t;
        ELSE
            PERFORM create_distributed_table(t, 'tenant_id', colocate_with => first_distributed::text);
        END IF;
        n_distributed := n_distributed + 1;
    END LOOP;

    FOR i IN 1 .. cardinality(fk_names) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk_tables[i], fk_names[i], fk_defs[i]);
    END LOOP;
    -- rows that were there before now live in the shards: drop the shells' copies
    FOREACH t IN ARRAY had_rows LOOP
        PERFORM truncate_local_data_after_distributing_table(t);
    END LOOP;

    -- The request context reaches the workers as SET LOCAL crm.context (src/context.c): Citus carries
    -- SET LOCAL along only with citus.propagate_set_commands = local.
    EXECUTE format('ALTER DATABASE %I SET citus.propagate_set_commands = local', current_database());
    PERFORM set_config('citus.propagate_set_commands', 'local', false);
    -- Citus opens the worker sessions of a query as the role that runs it: on the workers the crm roles
    -- log in (pg_hba.conf of the workers should let in only the coordinator).
    -- (on the worker itself: Citus would otherwise send it back through the coordinator, and deadlock)
    SELECT string_agg(w.nodename || ':' || w.nodeport || ' ' || w.result, '; ') INTO bad_nodes
    FROM unnest(ARRAY['crm_anon', 'crm_rep', 'crm_manager', 'crm_admin']) r,
         LATERAL run_command_on_workers(format('SET citus.enable_ddl_propagation TO off; ALTER ROLE %I LOGIN', r)) w
    WHERE NOT w.success;
    IF bad_nodes IS NOT NULL THEN
        RAISE EXCEPTION 'could not let the crm roles log in on the workers: %', bad_nodes USING ERRCODE = '55000';
    END IF;

    RETURN jsonb_build_object('reference_tables', n_reference, 'distributed_tables', n_distributed,
                              'job_bodies', crm.distribute_job_bodies(), 'already_distributed', false,
                              'foreign_keys', cardinality(fk_names));
END
$$;
COMMENT ON FUNCTION crm.distribute(integer) IS 'On a Citus coordinator (superuser): makes crm.tenants, crm.teams and crm.users reference tables and distributes every other crm table by tenant_id, colocated (shard_count: Citus''s default unless given), keeping every foreign key; sets citus.propagate_set_commands = local for the database and lets the crm roles log in on the workers. Distributes the batch jobs'' bodies by their tenant argument (crm.distribute_job_bodies), so they run on the tenant''s node. Checks that every node has the same crm.node_key. Idempotent: a second call does nothing and says so. Returns {reference_tables, distributed_tables, job_bodies, already_distributed, foreign_keys}.';

REVOKE EXECUTE ON FUNCTION crm.distribute(integer) FROM PUBLIC;
