-- events.sql: the outbox (crm.events) and the audit log (crm.audit_log), both written by the database
-- alone, read by managers and admins.
--
-- Events are what integrations consume: lead.created, lead.qualified and lead.score_dropped
-- (src/qualification.sql), lead.converted, lead.lost, opportunity.created,
-- opportunity.stage_changed, opportunity.won, opportunity.lost, opportunity.reopened,
-- account.became_customer, account.customer_reverted, task.completed. Each insert is
-- announced at commit with pg_notify(<the tenant's events_channel>, '<event id>'): a channel per tenant,
-- named from a secret (crm.tenants.events_channel), so that a listener learns nothing of the tenants
-- whose channel it cannot read (LISTEN itself needs no privilege).
-- The audit log records who changed what on every core table: the old and new values of the columns
-- an update changed, every column of an insert or a delete.

CREATE TABLE crm.events (
    tenant_id   uuid            NOT NULL DEFAULT crm.current_tenant()
                                REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid            NOT NULL DEFAULT crm.uuid_v7(),
    type        text            NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    entity_type crm.entity_type NOT NULL,
    entity_id   uuid            NOT NULL,
    payload     jsonb           NOT NULL DEFAULT '{}',
    actor_id    uuid,
    created_at  timestamptz     NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_tenant_created ON crm.events (tenant_id, created_at);
CREATE INDEX events_tenant_entity ON crm.events (tenant_id, entity_type, entity_id);
COMMENT ON TABLE crm.events IS 'The outbox: one row per business event, in order of id (uuid_v7), announced on the tenant''s channel (crm.tenants.events_channel) with the event''s id as payload. Written by crm only; managers and admins read it.';
COMMENT ON COLUMN crm.events.tenant_id IS 'The tenant the event belongs to.';
COMMENT ON COLUMN crm.events.id IS 'The event''s id (uuid_v7: ordered by time).';
COMMENT ON COLUMN crm.events.type IS 'What happened: lead.created, lead.qualified, lead.score_dropped, lead.converted, lead.lost, account.at_risk, account.became_customer, account.customer_reverted, opportunity.created, opportunity.stage_changed, opportunity.won, opportunity.lost, opportunity.reopened, task.completed.';
COMMENT ON COLUMN crm.events.entity_type IS 'The kind of record it happened to.';
COMMENT ON COLUMN crm.events.entity_id IS 'The record it happened to.';
COMMENT ON COLUMN crm.events.payload IS 'Details of the event (ids, stages, amounts).';
COMMENT ON COLUMN crm.events.actor_id IS 'The user who caused it (crm.current_user_id()), if known.';
COMMENT ON COLUMN crm.events.created_at IS 'When it happened (transaction time).';
ALTER TABLE crm.events ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.events FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.events', '');
SELECT crm.secure_table('crm.events', 'log');

-- Appends an event and announces it. Only crm's own code calls it.
CREATE FUNCTION crm.emit_event(tenant uuid, type text, entity_type crm.entity_type, entity_id uuid, payload jsonb DEFAULT '{}')
    RETURNS uuid
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    new_id uuid := crm.uuid_v7();
    channel text;
BEGIN
    -- SECURITY DEFINER: for the request's own tenant, or the operator's
    IF tenant IS DISTINCT FROM crm.current_tenant() THEN
        PERFORM crm.check_tenant_caller(tenant);
    END IF;
    -- a tenant being deleted emits nothing
    SELECT t.events_channel INTO channel FROM crm.tenants t WHERE t.id = tenant;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm.events (tenant_id, id, type, entity_type, entity_id, payload, actor_id)
    VALUES (tenant, new_id, emit_event.type, emit_event.entity_type, emit_event.entity_id, coalesce(payload, '{}'),
            crm.current_user_id());
    -- On a Citus worker (a trigger firing on a shard) the transaction is committed in two phases, which
    -- NOTIFY forbids, and no listener is there: such an event is in the outbox, not announced
    -- (docs/design.md §9).
    IF pg_catalog.current_setting('application_name') NOT LIKE 'citus_internal%' THEN
        PERFORM pg_notify(channel, new_id::text);
    END IF;
    RETURN new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.emit_event(uuid, text, crm.entity_type, uuid, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION crm.emit_event(uuid, text, crm.entity_type, uuid, jsonb) IS 'Internal: appends an event to crm.events and announces its id on the tenant''s channel (crm.tenants.events_channel). Not callable by users.';

-- The events of leads, opportunities and tasks, from their triggers, so that plain SQL, the HTTP API
-- and the actions all emit them. SECURITY DEFINER to call emit_event, and to keep the lifecycle of a
-- deal's account (which the deal's owner may not own): winning a deal makes its account a customer;
-- a won deal leaving its won stage (reopened, or lost) undoes that when it was the account's last won
-- deal and the account is a customer because of a win (its latest became_customer event): the
-- account goes back to the stage it had before (the event's from_stage). TG_ARGV[0] names the table
-- (leads, opportunities or tasks: on a Citus shard TG_TABLE_NAME is the shard's).
CREATE FUNCTION crm.emit_record_events() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    st record;
    moved boolean;
    old_name text;
    old_won boolean := false;
    old_lost boolean := false;
    lifecycle crm.lifecycle_stage;
    last_change record;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.leads,crm.opportunities,crm.tasks}'::regclass[]) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.emit_record_events()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_ARGV[0] = 'leads' THEN
        IF TG_OP = 'INSERT' THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'lead.created', 'lead', NEW.id,
                                   jsonb_build_object('source', NEW.source, 'owner_id', NEW.owner_id));
        ELSIF NEW.status = 'converted' AND OLD.status <> 'converted' THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'lead.converted', 'lead', NEW.id,
                                   jsonb_build_object('account_id', NEW.converted_account_id, 'contact_id', NEW.converted_contact_id,
                                                      'opportunity_id', NEW.converted_opportunity_id));
        ELSIF NEW.status = 'lost' AND OLD.status <> 'lost' THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'lead.lost', 'lead', NEW.id, jsonb_build_object('reason', NEW.lost_reason));
        END IF;
    ELSIF TG_ARGV[0] = 'opportunities' THEN
        SELECT s.name, s.is_won, s.is_lost INTO st FROM crm.pipeline_stages s WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.stage_id;
        moved := TG_OP = 'INSERT' OR NEW.stage_id IS DISTINCT FROM OLD.stage_id;
        IF TG_OP = 'UPDATE' AND moved THEN
            SELECT s.name, s.is_won, s.is_lost INTO old_name, old_won, old_lost FROM crm.pipeline_stages s
             WHERE s.tenant_id = OLD.tenant_id AND s.id = OLD.stage_id;
        END IF;
        IF TG_OP = 'INSERT' THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'opportunity.created', 'opportunity', NEW.id,
                                   jsonb_build_object('stage', st.name, 'amount', NEW.amount, 'currency', NEW.currency));
        ELSIF NEW.stage_id IS DISTINCT FROM OLD.stage_id THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'opportunity.stage_changed', 'opportunity', NEW.id,
                                   jsonb_build_object('from_stage', (SELECT s.name FROM crm.pipeline_stages s WHERE s.tenant_id = OLD.tenant_id AND s.id = OLD.stage_id),
                                                      'to_stage', st.name, 'reason', NEW.stage_reason));
        END IF;
        IF (TG_OP = 'INSERT' OR NEW.stage_id IS DISTINCT FROM OLD.stage_id) AND (st.is_won OR st.is_lost) THEN
            PERFORM crm.emit_event(NEW.tenant_id, CASE WHEN st.is_won THEN 'opportunity.won' ELSE 'opportunity.lost' END,
                                   'opportunity', NEW.id,
                                   jsonb_build_object('amount', NEW.amount, 'currency', NEW.currency, 'lost_reason', NEW.lost_reason));
        END IF;
        IF moved AND (old_won OR old_lost) AND NOT (st.is_won OR st.is_lost) THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'opportunity.reopened', 'opportunity', NEW.id,
                                   jsonb_build_object('was', CASE WHEN old_won THEN 'won' ELSE 'lost' END, 'from_stage', old_name,
                                                      'to_stage', st.name, 'reason', NEW.stage_reason, 'amount', NEW.amount,
                                                      'currency', NEW.currency));
        END IF;
        -- the account's lifecycle; its row locked, so that two wins at once make one customer
        IF moved AND NEW.account_id IS NOT NULL AND st.is_won IS DISTINCT FROM old_won THEN
            SELECT a.lifecycle_stage INTO lifecycle FROM crm.accounts a WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.account_id FOR UPDATE;
            IF st.is_won AND lifecycle <> 'customer' THEN
                UPDATE crm.accounts a SET lifecycle_stage = 'customer' WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.account_id;
                PERFORM crm.emit_event(NEW.tenant_id, 'account.became_customer', 'account', NEW.account_id,
                                       jsonb_build_object('opportunity_id', NEW.id, 'from_stage', lifecycle, 'amount', NEW.amount,
                                                          'currency', NEW.currency));
            ELSIF NOT st.is_won AND lifecycle = 'customer'
                  AND NOT EXISTS (SELECT 1 FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
                                   WHERE o.tenant_id = NEW.tenant_id AND o.account_id = NEW.account_id AND o.id <> NEW.id AND s.is_won) THEN
                SELECT e.type, e.payload->>'from_stage' AS from_stage INTO last_change FROM crm.events e
                 WHERE e.tenant_id = NEW.tenant_id AND e.entity_type = 'account' AND e.entity_id = NEW.account_id
                   AND e.type IN ('account.became_customer', 'account.customer_reverted')
                 ORDER BY e.id DESC LIMIT 1;
                IF last_change.type = 'account.became_customer' THEN
                    UPDATE crm.accounts a SET lifecycle_stage = last_change.from_stage::crm.lifecycle_stage
                     WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.account_id;
                    PERFORM crm.emit_event(NEW.tenant_id, 'account.customer_reverted', 'account', NEW.account_id,
                                           jsonb_build_object('opportunity_id', NEW.id, 'to_stage', last_change.from_stage,
                                                              'reason', coalesce(NEW.stage_reason, NEW.lost_reason)));
                END IF;
            END IF;
        END IF;
    ELSIF TG_ARGV[0] = 'tasks' THEN
        IF NEW.status = 'completed' AND (TG_OP = 'INSERT' OR OLD.status <> 'completed') THEN
            PERFORM crm.emit_event(NEW.tenant_id, 'task.completed', 'task', NEW.id,
                                   jsonb_build_object('outcome', NEW.outcome, 'assignee_id', NEW.assignee_id));
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.emit_record_events() IS 'Trigger: emits the events of leads (created, converted, lost), opportunities (created, stage_changed, won, lost, reopened: a won or lost deal moved to an open stage) and tasks (completed). A won deal makes its account a customer (account.became_customer, once: only when the account was not one); a won deal that leaves its won stage while its account has no other won deal puts a customer account back to the stage it had before its win (account.customer_reverted), unless the account was made a customer otherwise (by hand).';
CREATE TRIGGER emit_events AFTER INSERT OR UPDATE OF status ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.emit_record_events('leads');
COMMENT ON TRIGGER emit_events ON crm.leads IS 'src/events.sql: emits lead.created, lead.converted and lead.lost.';
CREATE TRIGGER emit_events AFTER INSERT OR UPDATE OF stage_id ON crm.opportunities
    FOR EACH ROW EXECUTE FUNCTION crm.emit_record_events('opportunities');
COMMENT ON TRIGGER emit_events ON crm.opportunities IS 'src/events.sql: emits opportunity.created, stage_changed, won, lost and reopened; a win makes the account a customer (account.became_customer), and the loss of its last win reverts that (account.customer_reverted).';
CREATE TRIGGER emit_events AFTER INSERT OR UPDATE OF status ON crm.tasks
    FOR EACH ROW EXECUTE FUNCTION crm.emit_record_events('tasks');
COMMENT ON TRIGGER emit_events ON crm.tasks IS 'src/events.sql: emits task.completed.';

------------------------------------------------------------------------------------------------------
-- Audit log
------------------------------------------------------------------------------------------------------

CREATE TYPE crm.audit_action AS ENUM ('insert', 'update', 'delete');
COMMENT ON TYPE crm.audit_action IS 'What a change was: insert, update or delete.';

CREATE TABLE crm.audit_log (
    tenant_id  uuid             NOT NULL DEFAULT crm.current_tenant()
                                REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid             NOT NULL DEFAULT crm.uuid_v7(),
    table_name text             NOT NULL,
    row_id     uuid             NOT NULL,
    action     crm.audit_action NOT NULL,
    old_values jsonb,
    new_values jsonb,
    changed_by uuid,
    db_role    text             NOT NULL DEFAULT current_user,
    changed_at timestamptz      NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_row ON crm.audit_log (tenant_id, table_name, row_id, changed_at);
CREATE INDEX audit_log_changed_at ON crm.audit_log (tenant_id, changed_at);
COMMENT ON TABLE crm.audit_log IS 'Who changed what on the core tables: for an update the old and new values of the changed columns (updated_at and what the database derives aside: the search document, a lead''s score, grade, scored_at, score_dropped_at and engagement, whose history is crm.lead_score_history), for an insert the new row, for a delete the old row. Written by crm only; managers and admins read it.';
COMMENT ON COLUMN crm.audit_log.tenant_id IS 'The tenant of the changed row.';
COMMENT ON COLUMN crm.audit_log.id IS 'The entry''s id (uuid_v7).';
COMMENT ON COLUMN crm.audit_log.table_name IS 'The table changed, without schema (leads, opportunities, ...).';
COMMENT ON COLUMN crm.audit_log.row_id IS 'The id of the changed row.';
COMMENT ON COLUMN crm.audit_log.action IS 'insert, update or delete.';
COMMENT ON COLUMN crm.audit_log.old_values IS 'Before: the changed columns of an update, the whole row of a delete.';
COMMENT ON COLUMN crm.audit_log.new_values IS 'After: the changed columns of an update, the whole row of an insert.';
COMMENT ON COLUMN crm.audit_log.changed_by IS 'The CRM user who made the change (crm.current_user_id()), if known.';
COMMENT ON COLUMN crm.audit_log.db_role IS 'The database role that made the change.';
COMMENT ON COLUMN crm.audit_log.changed_at IS 'When (transaction time).';
ALTER TABLE crm.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.audit_log FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.audit_log', '');
SELECT crm.secure_table('crm.audit_log', 'log');

-- One INSERT per tenant per statement, from the transition tables. They are read by statements of their
-- own (Citus cannot read one in a query that also reads a distributed table), gathered into arrays per
-- tenant; each tenant's entries are then written by one INSERT. TG_ARGV[0] names the table, as the log
-- records it (on a Citus shard TG_TABLE_NAME is the shard's). On Citus the triggers of the reference
-- tables (users, teams) fire on every placement: only the node holding the tenant's shards logs
-- (crm.tenant_shards_here). SECURITY DEFINER: callers cannot write the log. Rows of a tenant being
-- deleted are not logged (the log goes with the tenant).
CREATE FUNCTION crm.audit() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    who uuid := crm.current_user_id();
    -- the role the caller acts as (PostgREST's SET ROLE), not this function's owner
    db_role_ text := CASE WHEN pg_catalog.current_setting('role') = 'none' THEN session_user::text
                          ELSE pg_catalog.current_setting('role') END;
    -- columns the database derives: not logged (a lead's score history is crm.lead_score_history)
    derived text[] := ARRAY['updated_at', 'search', 'score', 'grade', 'scored_at', 'score_dropped_at', 'engagement'];
    same text;
    t uuid;
    ids uuid[];
    olds jsonb[];
    news jsonb[];
    changed refcursor;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.accounts,crm.activities,crm.cases,crm.contacts,crm.leads,crm.notes,crm.opportunities,
                          crm.opportunity_line_items,crm.pipeline_stages,crm.pipelines,crm.products,crm.tasks,
                          crm.teams,crm.users}'::regclass[]) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.audit()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'INSERT' THEN
        FOR t, ids, news IN SELECT n.tenant_id, array_agg(n.id), array_agg(to_jsonb(n) - 'search') FROM new_rows n GROUP BY n.tenant_id LOOP
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = t) OR NOT crm.tenant_shards_here(TG_RELID, t);
            INSERT INTO crm.audit_log (tenant_id, table_name, row_id, action, new_values, changed_by, db_role)
            SELECT t, TG_ARGV[0], u.id, 'insert', u.new_values, who, db_role_ FROM unnest(ids, news) u (id, new_values);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR t, ids, olds IN SELECT o.tenant_id, array_agg(o.id), array_agg(to_jsonb(o) - 'search') FROM old_rows o GROUP BY o.tenant_id LOOP
            CONTINUE WHEN NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = t) OR NOT crm.tenant_shards_here(TG_RELID, t);
            INSERT INTO crm.audit_log (tenant_id, table_name, row_id, action, old_values, changed_by, db_role)
            SELECT t, TG_ARGV[0], u.id, 'delete', u.old_values, who, db_role_ FROM unnest(ids, olds) u (id, old_values);
        END LOOP;
    ELSE
        -- The changed keys of each row, with their old and new values; rows whose only changes are
        -- derived ones (a rescoring, a touched updated_at) log nothing. A small statement (a request's
        -- write) turns its rows into JSON at once, a query planned once per session. A large one (a
        -- rescoring batch) first drops the rows whose other columns are all the same, by a plain
        -- comparison, so that only the rest pay for building JSON: the column names come from the
        -- catalog and are quoted with %I, and the query is planned for each statement.
        IF (SELECT count(*) FROM new_rows) <= 64 THEN
            OPEN changed FOR
                SELECT n.tenant_id, array_agg(n.id), array_agg(d.old_values), array_agg(d.new_values)
                  FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id,
                       LATERAL (SELECT jsonb_object_agg(nv.key, ov.value) AS old_values, jsonb_object_agg(nv.key, nv.value) AS new_values
                                  FROM jsonb_each(to_jsonb(n)) nv JOIN jsonb_each(to_jsonb(o)) ov ON ov.key = nv.key
                                 WHERE NOT nv.key = ANY (derived) AND nv.value IS DISTINCT FROM ov.value) d
                 WHERE d.new_values IS NOT NULL
                 GROUP BY n.tenant_id;
        ELSE
            SELECT string_agg(format('n.%1$I IS NOT DISTINCT FROM o.%1$I', a.attname), ' AND ' ORDER BY a.attnum)
              INTO same
              FROM pg_attribute a
             WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.attname = ANY (derived);
            OPEN changed FOR EXECUTE format($q$
                SELECT n.tenant_id, array_agg(n.id), array_agg(d.old_values), array_agg(d.new_values)
                  FROM new_rows n JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id,
                       LATERAL (SELECT jsonb_object_agg(nv.key, ov.value) AS old_values, jsonb_object_agg(nv.key, nv.value) AS new_values
                                  FROM jsonb_each(to_jsonb(n)) nv JOIN jsonb_each(to_jsonb(o)) ov ON ov.key = nv.key
                                 WHERE NOT nv.key = ANY ($1) AND nv.value IS DISTINCT FROM ov.value) d
                 WHERE NOT (%s) AND d.new_values IS NOT NULL
                 GROUP BY n.tenant_id$q$, same) USING derived;
        END IF;
        LOOP
            FETCH changed INTO t, ids, olds, news;
            EXIT WHEN NOT FOUND;
            CONTINUE WHEN NOT crm.tenant_shards_here(TG_RELID, t);
            INSERT INTO crm.audit_log (tenant_id, table_name, row_id, action, old_values, new_values, changed_by, db_role)
            SELECT t, TG_ARGV[0], u.id, 'update', u.old_values, u.new_values, who, db_role_
              FROM unnest(ids, olds, news) u (id, old_values, new_values);
        END LOOP;
        CLOSE changed;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.audit() IS 'Trigger (per statement): writes the audit log entries of the rows a statement inserted, updated (changed columns only) or deleted.';

DO $audit$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'teams', 'accounts', 'contacts', 'leads', 'pipelines', 'pipeline_stages',
                             'opportunities', 'products', 'opportunity_line_items', 'activities', 'tasks', 'notes'] LOOP
        EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON crm.%1$I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION crm.audit(%1$L)', t);
        EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON crm.%1$I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION crm.audit(%1$L)', t);
        EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON crm.%1$I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION crm.audit(%1$L)', t);
        EXECUTE format('COMMENT ON TRIGGER audit_insert ON crm.%1$I IS %2$L', t, format('src/events.sql: logs the inserted %s in crm.audit_log.', t));
        EXECUTE format('COMMENT ON TRIGGER audit_update ON crm.%1$I IS %2$L', t,
                       format('src/events.sql: logs the changed columns of updated %s in crm.audit_log (derived columns aside).', t));
        EXECUTE format('COMMENT ON TRIGGER audit_delete ON crm.%1$I IS %2$L', t, format('src/events.sql: logs the deleted %s in crm.audit_log.', t));
    END LOOP;
END
$audit$;

CREATE VIEW crm_api.events WITH (security_invoker = true) AS
    SELECT tenant_id, id, type, entity_type, entity_id, payload, actor_id, created_at FROM crm.events;
COMMENT ON VIEW crm_api.events IS 'The tenant''s business events, oldest first by id (managers and admins).';
CREATE VIEW crm_api.audit_log WITH (security_invoker = true) AS
    SELECT tenant_id, id, table_name, row_id, action, old_values, new_values, changed_by, db_role, changed_at FROM crm.audit_log;
COMMENT ON VIEW crm_api.audit_log IS 'Who changed what in the tenant (managers and admins).';
GRANT SELECT ON crm_api.events, crm_api.audit_log TO crm_manager;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.emit_record_events(), crm.audit() FROM PUBLIC;
