-- tags.sql: labels anyone in a tenant puts on leads, contacts, accounts, opportunities, activities,
-- tasks and notes; each tag knows how often it is used.

CREATE TYPE crm.entity_type AS ENUM ('lead', 'contact', 'account', 'opportunity', 'activity', 'task', 'note', 'segment');
COMMENT ON TYPE crm.entity_type IS 'The kinds of record that tags, events, the audit log and timelines refer to.';

-- The table that holds each kind of record (a whitelist for dynamic SQL).
CREATE FUNCTION crm.entity_table(entity crm.entity_type) RETURNS regclass
    LANGUAGE sql STABLE STRICT PARALLEL SAFE AS
$$
    SELECT pg_catalog.to_regclass(CASE entity
        WHEN 'lead' THEN 'crm.leads' WHEN 'contact' THEN 'crm.contacts' WHEN 'account' THEN 'crm.accounts'
        WHEN 'opportunity' THEN 'crm.opportunities' WHEN 'activity' THEN 'crm.activities' WHEN 'task' THEN 'crm.tasks'
        WHEN 'note' THEN 'crm.notes' WHEN 'segment' THEN 'crm.segments' END)
$$;
COMMENT ON FUNCTION crm.entity_table(crm.entity_type) IS 'The crm table that holds records of a kind: crm.entity_table(''lead'') = crm.leads.';

CREATE TABLE crm.tags (
    tenant_id   uuid        NOT NULL DEFAULT crm.current_tenant()
                            REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT crm.uuid_v7(),
    name        text        NOT NULL CHECK (pg_catalog.btrim(name) <> '' AND pg_catalog.length(name) <= 64),
    color       text        CHECK (color ~ '^#[0-9a-f]{6}$'),
    usage_count integer     NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tags_tenant_name ON crm.tags (tenant_id, pg_catalog.lower(name));
COMMENT ON TABLE crm.tags IS 'Labels of a tenant; anyone in the tenant creates and uses them.';
COMMENT ON COLUMN crm.tags.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.tags.id IS 'The tag''s id (uuid_v7).';
COMMENT ON COLUMN crm.tags.name IS 'Tag name, unique in the tenant regardless of case, up to 64 characters.';
COMMENT ON COLUMN crm.tags.color IS 'Display color, #rrggbb in lowercase.';
COMMENT ON COLUMN crm.tags.usage_count IS 'How many records carry the tag (kept by the database).';
COMMENT ON COLUMN crm.tags.created_at IS 'When the tag was created.';
COMMENT ON COLUMN crm.tags.updated_at IS 'When the tag was last changed.';
COMMENT ON INDEX crm.tags_tenant_name IS 'One tag per name per tenant, case-insensitively.';
ALTER TABLE crm.tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tags FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.tags', '');
SELECT crm.secure_table('crm.tags', 'shared');
-- usage_count is the database's to keep
REVOKE INSERT, UPDATE ON crm.tags FROM crm_rep;
GRANT INSERT (tenant_id, id, name, color), UPDATE (name, color) ON crm.tags TO crm_rep;

CREATE TABLE crm.taggings (
    tenant_id   uuid            NOT NULL DEFAULT crm.current_tenant()
                                REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid            NOT NULL DEFAULT crm.uuid_v7(),
    tag_id      uuid            NOT NULL,
    entity_type crm.entity_type NOT NULL,
    entity_id   uuid            NOT NULL,
    tagged_by   uuid            DEFAULT crm.current_user_id(),
    created_at  timestamptz     NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, tag_id, entity_type, entity_id),
    FOREIGN KEY (tenant_id, tag_id) REFERENCES crm.tags (tenant_id, id) ON DELETE CASCADE,
    -- cleared on delete by crm.users_null_references (src/tenancy.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, tagged_by) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX taggings_tagged_by ON crm.taggings (tenant_id, tagged_by) WHERE tagged_by IS NOT NULL;
COMMENT ON INDEX crm.taggings_tagged_by IS 'The taggings of a user: what deleting the user clears.';
CREATE INDEX taggings_entity ON crm.taggings (tenant_id, entity_type, entity_id);
COMMENT ON TABLE crm.taggings IS 'A tag on a record: the record must exist in the tenant and be visible to the caller. Removed with the record.';
COMMENT ON COLUMN crm.taggings.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.taggings.id IS 'The tagging''s id (uuid_v7).';
COMMENT ON COLUMN crm.taggings.tag_id IS 'The tag.';
COMMENT ON COLUMN crm.taggings.entity_type IS 'The kind of record tagged: lead, contact, account, opportunity, activity, task or note.';
COMMENT ON COLUMN crm.taggings.entity_id IS 'The record tagged.';
COMMENT ON COLUMN crm.taggings.tagged_by IS 'Who put the tag on; defaults to the caller; NULL if the user is deleted.';
COMMENT ON COLUMN crm.taggings.created_at IS 'When the tag was put on.';

-- The tagged record must exist and be visible to the caller (the caller's policies apply here).
CREATE FUNCTION crm.taggings_before_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    found_ boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE tenant_id = $1 AND id = $2)', crm.entity_table(NEW.entity_type))
        INTO found_ USING NEW.tenant_id, NEW.entity_id;
    IF NOT found_ THEN
        RAISE EXCEPTION '% % does not exist', NEW.entity_type, NEW.entity_id USING ERRCODE = '23503';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.taggings_before_write() IS 'Trigger: a tagging must name a record of its tenant that the caller can read (23503 otherwise).';
CREATE TRIGGER b20_taggings_before_write BEFORE INSERT OR UPDATE ON crm.taggings
    FOR EACH ROW EXECUTE FUNCTION crm.taggings_before_write();
COMMENT ON TRIGGER b20_taggings_before_write ON crm.taggings IS 'src/tags.sql: a tagging names a record of its tenant that the caller reads (23503).';

-- usage_count, once per statement. SECURITY DEFINER: counts every tagging, seen or not by the caller.
-- The transition table is read by a statement of its own (Citus cannot read one in a query that also
-- reads a distributed table), and each tenant's tags are recounted by one statement of that tenant.
CREATE FUNCTION crm.taggings_count() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    tags uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.taggings'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.taggings_count()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    FOR t, tags IN SELECT c.tenant_id, array_agg(DISTINCT c.tag_id) FROM changed c GROUP BY c.tenant_id LOOP
        UPDATE crm.tags x SET usage_count = (SELECT count(*) FROM crm.taggings g WHERE g.tenant_id = t AND g.tag_id = x.id)
         WHERE x.tenant_id = t AND x.id = ANY (tags);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.taggings_count() IS 'Trigger: recounts the usage of the tags a statement put on or took off.';
CREATE TRIGGER taggings_count_insert AFTER INSERT ON crm.taggings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crm.taggings_count();
COMMENT ON TRIGGER taggings_count_insert ON crm.taggings IS 'src/tags.sql: recounts usage_count of the tags put on, one statement per tenant.';
CREATE TRIGGER taggings_count_delete AFTER DELETE ON crm.taggings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crm.taggings_count();
COMMENT ON TRIGGER taggings_count_delete ON crm.taggings IS 'src/tags.sql: recounts usage_count of the tags taken off, one statement per tenant.';
ALTER TABLE crm.taggings ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.taggings FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.taggings', '');
SELECT crm.secure_table('crm.taggings', 'shared');
REVOKE UPDATE ON crm.taggings FROM crm_rep;

-- A deleted record loses its tags. SECURITY DEFINER: the caller may not see every tagging. The
-- transition table is read alone, then one DELETE per tenant (as crm.taggings_count).
CREATE FUNCTION crm.untag_deleted() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    kind crm.entity_type;
    t uuid;
    ids uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.accounts,crm.activities,crm.contacts,crm.leads,crm.notes,crm.opportunities,crm.segments,crm.tasks}'::regclass[]) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.untag_deleted()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    kind := TG_ARGV[0]::crm.entity_type;
    FOR t, ids IN SELECT g.tenant_id, array_agg(g.id) FROM gone g GROUP BY g.tenant_id LOOP
        DELETE FROM crm.taggings x WHERE x.tenant_id = t AND x.entity_type = kind AND x.entity_id = ANY (ids);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.untag_deleted() IS 'Trigger: removes the taggings of deleted records (the record kind is the trigger argument).';
DO $untag$
DECLARE
    e crm.entity_type;
BEGIN
    -- (the tables made later, crm.segments, add their own)
    FOREACH e IN ARRAY enum_range(NULL::crm.entity_type) LOOP
        CONTINUE WHEN crm.entity_table(e) IS NULL;
        EXECUTE format('CREATE TRIGGER untag_deleted AFTER DELETE ON %s REFERENCING OLD TABLE AS gone'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION crm.untag_deleted(%L)', crm.entity_table(e), e);
        EXECUTE format('COMMENT ON TRIGGER untag_deleted ON %s IS %L', crm.entity_table(e),
                       format('src/tags.sql: removes the taggings of deleted %s records, one statement per tenant.', e));
    END LOOP;
END
$untag$;

CREATE VIEW crm_api.tags WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, color, usage_count, created_at, updated_at FROM crm.tags;
COMMENT ON VIEW crm_api.tags IS 'Tags of the caller''s tenant, with how often each is used.';
CREATE VIEW crm_api.taggings WITH (security_invoker = true) AS
    SELECT tenant_id, id, tag_id, entity_type, entity_id, tagged_by, created_at FROM crm.taggings;
COMMENT ON VIEW crm_api.taggings IS 'Tags on records of the caller''s tenant; POST one to tag a record, DELETE it to untag.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.tags TO crm_rep;
GRANT SELECT, INSERT, DELETE ON crm_api.taggings TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.taggings_count(), crm.untag_deleted(), crm.entity_table(crm.entity_type),
    crm.taggings_before_write() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.entity_table(crm.entity_type) TO crm_rep;
