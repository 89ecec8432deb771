-- tenancy.sql: tenants, teams and users, their row-level security, and their HTTP views.
--
-- Every tenant-owned table follows the same contract (docs/design.md §3): tenant_id first, defaulting to
-- crm.current_tenant(); primary key (tenant_id, id); foreign keys that include tenant_id; RLS enabled
-- and forced; rows registered with pg_extension_config_dump so that pg_dump keeps them.

-- Keeps updated_at current on every update; shared by every table that has the column (in C,
-- src/tenancy.c: it runs for every updated row).
CREATE FUNCTION crm.touch_updated_at() RETURNS trigger
    AS 'MODULE_PATHNAME', 'crm_touch_updated_at'
    LANGUAGE C;
COMMENT ON FUNCTION crm.touch_updated_at() IS 'Trigger: sets updated_at to the transaction time on every update.';

------------------------------------------------------------------------------------------------------
-- Tenants
------------------------------------------------------------------------------------------------------

CREATE FUNCTION crm.tenant_settings(settings jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    merged jsonb := '{"currency": "USD", "sharing": "public", "qualification_threshold": 70, "win_model_min_history": 50, "default_close_days": 30,
                      "health_weights": {"engagement": 30, "activity": 20, "satisfaction": 30, "commercial": 20}}'::jsonb
                    || coalesce(settings, '{}'::jsonb);
    k text;
BEGIN
    IF pg_catalog.jsonb_typeof(merged) <> 'object' THEN
        RAISE EXCEPTION 'tenant settings must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT pg_catalog.jsonb_object_keys(merged) LOOP
        IF k NOT IN ('currency', 'sharing', 'qualification_threshold', 'win_model_min_history', 'default_close_days', 'health_weights') THEN
            RAISE EXCEPTION 'unknown tenant setting "%"', k
                USING ERRCODE = '22023', HINT = 'Known settings: currency, sharing, qualification_threshold, win_model_min_history, default_close_days, health_weights.';
        END IF;
    END LOOP;
    IF pg_catalog.jsonb_typeof(merged->'currency') IS DISTINCT FROM 'string'
       OR (merged->>'currency') !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'invalid tenant setting "currency": %', merged->'currency'
            USING ERRCODE = '22023', DETAIL = 'currency must be an ISO 4217 code such as "USD".';
    END IF;
    IF (merged->>'sharing') IS NULL OR (merged->>'sharing') NOT IN ('public', 'private')
       OR pg_catalog.jsonb_typeof(merged->'sharing') <> 'string' THEN
        RAISE EXCEPTION 'invalid tenant setting "sharing": %', merged->'sharing'
            USING ERRCODE = '22023', DETAIL = 'sharing must be "public" (reps read every record of the tenant) or "private" (reps read their own).';
    END IF;
    IF pg_catalog.jsonb_typeof(merged->'qualification_threshold') IS DISTINCT FROM 'number'
       OR (merged->>'qualification_threshold') !~ '^\d+$'
       OR (merged->>'qualification_threshold')::numeric > 100 THEN
        RAISE EXCEPTION 'invalid tenant setting "qualification_threshold": %', merged->'qualification_threshold'
            USING ERRCODE = '22023', DETAIL = 'qualification_threshold must be a whole number from 0 to 100.';
    END IF;
    IF pg_catalog.jsonb_typeof(merged->'win_model_min_history') IS DISTINCT FROM 'number'
       OR (merged->>'win_model_min_history') !~ '^\d+$'
       OR (merged->>'win_model_min_history')::numeric > 1000000 THEN
        RAISE EXCEPTION 'invalid tenant setting "win_model_min_history": %', merged->'win_model_min_history'
            USING ERRCODE = '22023', DETAIL = 'win_model_min_history must be a whole number of won and lost leads (at most 1000000).';
    END IF;
    IF pg_catalog.jsonb_typeof(merged->'default_close_days') IS DISTINCT FROM 'number'
       OR (merged->>'default_close_days') !~ '^\d+$'
       OR (merged->>'default_close_days')::numeric NOT BETWEEN 1 AND 3650 THEN
        RAISE EXCEPTION 'invalid tenant setting "default_close_days": %', merged->'default_close_days'
            USING ERRCODE = '22023', DETAIL = 'default_close_days must be a whole number of days from 1 to 3650.';
    END IF;
    IF pg_catalog.jsonb_typeof(merged->'health_weights') IS DISTINCT FROM 'object'
       OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(merged->'health_weights') w
                   WHERE w.key NOT IN ('engagement', 'activity', 'satisfaction', 'commercial')
                      OR pg_catalog.jsonb_typeof(w.value) <> 'number' OR (w.value #>> '{}')::numeric < 0)
       OR NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(merged->'health_weights') w WHERE (w.value #>> '{}')::numeric > 0) THEN
        RAISE EXCEPTION 'invalid tenant setting "health_weights": %', merged->'health_weights'
            USING ERRCODE = '22023', DETAIL = 'health_weights maps engagement, activity, satisfaction and commercial to weights of 0 or more (a missing one weighs 0), one of them above 0.';
    END IF;
    -- and within what the health score takes (src/health.c: 22023 naming the JSON path)
    PERFORM crm.health_weights(merged->'health_weights');
    RETURN merged;
END
$$;
COMMENT ON FUNCTION crm.tenant_settings(jsonb) IS 'The given tenant settings merged over the defaults (currency USD, sharing public, qualification_threshold 70, win_model_min_history 50, default_close_days 30, health_weights engagement 30 / activity 20 / satisfaction 30 / commercial 20) and validated; an unknown key or a bad value raises 22023.';

CREATE TABLE crm.tenants (
    id         uuid        NOT NULL DEFAULT crm.uuid_v7() PRIMARY KEY,
    name       text        NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    settings   jsonb       NOT NULL DEFAULT crm.tenant_settings('{}'),
    events_channel text    NOT NULL UNIQUE
                           DEFAULT 'crm_events_' || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '')
                           CHECK (events_channel ~ '^crm_events_[0-9a-f]{32}$'),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE crm.tenants IS 'The organizations using this CRM; every other table is partitioned by tenant_id. Users see their own tenant; admins change its name and settings.';
COMMENT ON COLUMN crm.tenants.id IS 'The tenant''s id: the tenant_id of every row it owns, and the tenant_id claim of its tokens.';
COMMENT ON COLUMN crm.tenants.name IS 'Display name.';
COMMENT ON COLUMN crm.tenants.settings IS 'Tenant settings, merged over the defaults and validated on write: currency (ISO 4217, default USD), sharing (public or private: whether reps read every record or only their own), qualification_threshold (0-100, default 70), win_model_min_history (won + lost leads predictive scoring needs, default 50), default_close_days (1-3650, default 30: a converted lead''s deal is expected to close that many days later when its pipeline''s stages have no expected_days), health_weights (weights of the health measures engagement, activity, satisfaction, commercial; default 30/20/30/20).';
COMMENT ON COLUMN crm.tenants.events_channel IS 'The NOTIFY channel of the tenant''s events (LISTEN to it; each payload is an event id to read from crm.events): crm_events_ and 122 random bits, so that only those who can read this row know it. The operator rotates it with UPDATE crm.tenants SET events_channel = DEFAULT.';
COMMENT ON COLUMN crm.tenants.created_at IS 'When the tenant was created.';
COMMENT ON COLUMN crm.tenants.updated_at IS 'When the tenant was last changed.';

CREATE FUNCTION crm.tenants_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.settings := crm.tenant_settings(NEW.settings);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.tenants_before_write() IS 'Trigger: merges tenant settings over the defaults and validates them.';

CREATE TRIGGER tenants_before_write BEFORE INSERT OR UPDATE OF settings ON crm.tenants
    FOR EACH ROW EXECUTE FUNCTION crm.tenants_before_write();
COMMENT ON TRIGGER tenants_before_write ON crm.tenants IS 'src/tenancy.sql: merges the settings over the defaults and validates them (22023).';
CREATE TRIGGER tenants_touch BEFORE UPDATE ON crm.tenants
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
COMMENT ON TRIGGER tenants_touch ON crm.tenants IS 'src/tenancy.sql: sets updated_at to the transaction time.';

ALTER TABLE crm.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_read ON crm.tenants FOR SELECT
    USING (id = crm.current_tenant());
CREATE POLICY tenants_admin_update ON crm.tenants FOR UPDATE
    USING (id = crm.current_tenant() AND crm.current_app_role() = 'admin')
    WITH CHECK (id = crm.current_tenant() AND crm.current_app_role() = 'admin');
SELECT pg_catalog.pg_extension_config_dump('crm.tenants', '');

-- Who a SECURITY DEFINER function may act for: the operator (a role that bypasses row-level security:
-- the extension's owner, a superuser, pg_cron's jobs) for any tenant (tenant NULL: every tenant); any
-- other caller for the tenant of its request context only. The caller is the role the
-- session acts as, not the definer function's owner.
CREATE FUNCTION crm.check_tenant_caller(tenant uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    caller text := CASE WHEN current_setting('role') = 'none' THEN session_user::text ELSE current_setting('role') END;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = caller AND (r.rolsuper OR r.rolbypassrls)) THEN
        RETURN;                                         -- the operator
    ELSIF crm.current_tenant() IS NULL THEN
        RAISE EXCEPTION 'permission denied: without a tenant context only the operator acts' USING ERRCODE = '42501',
            HINT = 'Set the request context (crm.set_context) or run as a role that bypasses row-level security.';
    ELSIF tenant IS DISTINCT FROM crm.current_tenant() THEN
        RAISE EXCEPTION 'permission denied: a request acts for its own tenant only' USING ERRCODE = '42501';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_tenant_caller(uuid) IS 'Raises 42501 unless the caller may act for the tenant: the operator (a role that bypasses row-level security) for any tenant, anyone else for the tenant of its request context only. SECURITY DEFINER functions call it first.';

CREATE FUNCTION crm.create_tenant(name text, settings jsonb DEFAULT '{}', id uuid DEFAULT NULL) RETURNS uuid
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    new_id uuid;
BEGIN
    PERFORM crm.check_tenant_caller(NULL);             -- the operator, without a tenant context
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'tenant name must not be empty' USING ERRCODE = '22023';
    END IF;
    INSERT INTO crm.tenants (id, name, settings)
    VALUES (coalesce(create_tenant.id, crm.uuid_v7()), create_tenant.name, coalesce(create_tenant.settings, '{}'))
    RETURNING tenants.id INTO new_id;
    -- what every tenant starts with, written here rather than by triggers on crm.tenants: on Citus that is
    -- a reference table, and a trigger on it could not write the tenant's rows on their own node
    PERFORM crm.create_default_pipeline(new_id);
    PERFORM crm.create_default_scoring_model(new_id);
    PERFORM crm.create_default_segments(new_id);
    RETURN new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.create_tenant(text, jsonb, uuid) FROM PUBLIC;
COMMENT ON FUNCTION crm.create_tenant(text, jsonb, uuid) IS 'Provisions a tenant with its default pipeline, scoring model and example segments, and returns its id (given, or a new uuid_v7). Only the extension owner may call it unless granted: tenants are created by the operator, not by their own users.';

------------------------------------------------------------------------------------------------------
-- Teams and users
------------------------------------------------------------------------------------------------------

CREATE TYPE crm.user_role AS ENUM ('rep', 'manager', 'admin');
COMMENT ON TYPE crm.user_role IS 'A CRM user''s role in its tenant: rep (works its own records), manager (every record of the tenant), admin (also configures the tenant).';

CREATE TABLE crm.teams (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant()
                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    name       text        NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
COMMENT ON TABLE crm.teams IS 'Sales teams of a tenant; users belong to at most one. Everyone in the tenant reads them; admins change them.';
COMMENT ON COLUMN crm.teams.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.teams.id IS 'The team''s id (uuid_v7).';
COMMENT ON COLUMN crm.teams.name IS 'Team name, unique in the tenant.';
COMMENT ON COLUMN crm.teams.created_at IS 'When the team was created.';
COMMENT ON COLUMN crm.teams.updated_at IS 'When the team was last changed.';

CREATE TABLE crm.users (
    tenant_id  uuid          NOT NULL DEFAULT crm.current_tenant()
                             REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid          NOT NULL DEFAULT crm.uuid_v7(),
    email      crm.email     NOT NULL,
    name       text          NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    role       crm.user_role NOT NULL DEFAULT 'rep',
    team_id    uuid,
    active     boolean       NOT NULL DEFAULT true,
    db_role    name,
    created_at timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, team_id) REFERENCES crm.teams (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_email ON crm.users (tenant_id, email);
CREATE INDEX users_tenant_team ON crm.users (tenant_id, team_id) WHERE team_id IS NOT NULL;
-- One login, one user, across tenants. (On Citus, crm.users is a reference table, so this stays one index.)
CREATE UNIQUE INDEX users_db_role ON crm.users (db_role);
COMMENT ON TABLE crm.users IS 'The people who work in a tenant''s CRM. id is what crm.current_user_id() returns (the sub of a PostgREST token). Everyone in the tenant reads them; admins change them.';
COMMENT ON COLUMN crm.users.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.users.id IS 'The user''s id: crm.user_id, or the sub claim of the user''s tokens.';
COMMENT ON COLUMN crm.users.email IS 'Login and contact email (crm.email: validated, lowercase), unique in the tenant.';
COMMENT ON COLUMN crm.users.name IS 'Display name.';
COMMENT ON COLUMN crm.users.role IS 'rep, manager or admin.';
COMMENT ON COLUMN crm.users.team_id IS 'The user''s team, if any (same tenant).';
COMMENT ON COLUMN crm.users.active IS 'False for a user who has left: kept for history, can do nothing (a request context naming an inactive user is refused with 42501).';
COMMENT ON COLUMN crm.users.db_role IS 'The database login bound to this user, if any (unique): a session of that login has this user and tenant as its context, whatever crm.set_context, the crm GUCs or request.jwt.claims say, so a person can be given a direct SQL login. Set by the operator only.';
COMMENT ON COLUMN crm.users.created_at IS 'When the user was created.';
COMMENT ON COLUMN crm.users.updated_at IS 'When the user was last changed.';
COMMENT ON INDEX crm.users_tenant_email IS 'One user per email per tenant (crm.email compares case-insensitively).';
COMMENT ON INDEX crm.users_db_role IS 'A database login is bound to at most one CRM user (crm.current_tenant() finds the binding of the session''s login through it).';

CREATE TRIGGER b90_touch_updated_at BEFORE UPDATE ON crm.teams
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
COMMENT ON TRIGGER b90_touch_updated_at ON crm.teams IS 'src/tenancy.sql: sets updated_at to the transaction time.';
CREATE TRIGGER b90_touch_updated_at BEFORE UPDATE ON crm.users
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
COMMENT ON TRIGGER b90_touch_updated_at ON crm.users IS 'src/tenancy.sql: sets updated_at to the transaction time.';

-- What crm.users says (who is active, their roles, the bound logins) is cached by every backend that
-- reads a request context (src/context.c): a write tells them all to read it again.
CREATE FUNCTION crm.users_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'crm_users_changed'
    LANGUAGE C;
COMMENT ON FUNCTION crm.users_changed() IS 'Trigger (per statement): invalidates the request-context caches of every backend after a write to crm.users, so a deactivated user, a changed role or a new login binding takes effect at once.';
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.users
    FOR EACH STATEMENT EXECUTE FUNCTION crm.users_changed();
COMMENT ON TRIGGER users_changed ON crm.users IS 'src/tenancy.sql: tells every backend that crm.users changed (their request-context caches are dropped).';
-- The same for crm.tenants, whose sharing setting the policies read from the same cache.
CREATE FUNCTION crm.tenants_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'crm_users_changed'
    LANGUAGE C;
COMMENT ON FUNCTION crm.tenants_changed() IS 'Trigger (per statement): invalidates the request-context caches of every backend after a write to crm.tenants, so a change of the sharing setting takes effect at once.';
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION crm.tenants_changed();
COMMENT ON TRIGGER tenants_changed ON crm.tenants IS 'src/tenancy.sql: tells every backend that crm.tenants changed (their request-context caches, which hold the sharing setting, are dropped).';

-- Deleting a user clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
-- (The tables that refer to users are made later, in src/opportunities.sql, src/support.sql and src/tags.sql.)
CREATE FUNCTION crm.users_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.users'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.users_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    -- on Citus crm.users is a reference table: only the node holding the tenant's shards clears them
    IF NOT crm.tenant_shards_here(TG_RELID, OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.opportunity_stage_history SET changed_by = NULL WHERE tenant_id = OLD.tenant_id AND changed_by = OLD.id;
    UPDATE crm.case_comments SET author_id = NULL WHERE tenant_id = OLD.tenant_id AND author_id = OLD.id;
    UPDATE crm.taggings SET tagged_by = NULL WHERE tenant_id = OLD.tenant_id AND tagged_by = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.users_null_references() IS 'Trigger: clears opportunity_stage_history.changed_by, case_comments.author_id, taggings.tagged_by of a deleted user (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.users
    FOR EACH ROW EXECUTE FUNCTION crm.users_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.users IS 'src/tenancy.sql: clears opportunity_stage_history.changed_by, case_comments.author_id, taggings.tagged_by of the deleted user.';

ALTER TABLE crm.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.teams FORCE ROW LEVEL SECURITY;
CREATE POLICY teams_read ON crm.teams FOR SELECT
    USING (tenant_id = crm.current_tenant());
CREATE POLICY teams_admin_insert ON crm.teams FOR INSERT
    WITH CHECK (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin');
CREATE POLICY teams_admin_update ON crm.teams FOR UPDATE
    USING (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin')
    WITH CHECK (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin');
CREATE POLICY teams_admin_delete ON crm.teams FOR DELETE
    USING (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin');
SELECT pg_catalog.pg_extension_config_dump('crm.teams', '');

ALTER TABLE crm.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_read ON crm.users FOR SELECT
    USING (tenant_id = crm.current_tenant());
CREATE POLICY users_admin_insert ON crm.users FOR INSERT
    WITH CHECK (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin');
-- A user bound to a login (db_role) is the operator's alone: an admin who could delete or change such a
-- row would unbind the login, which would then be an unbound, trusted one (its own, too).
CREATE POLICY users_admin_update ON crm.users FOR UPDATE
    USING (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin' AND db_role IS NULL)
    WITH CHECK (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin' AND db_role IS NULL);
CREATE POLICY users_admin_delete ON crm.users FOR DELETE
    USING (tenant_id = crm.current_tenant() AND crm.current_app_role() = 'admin' AND db_role IS NULL);
SELECT pg_catalog.pg_extension_config_dump('crm.users', '');

GRANT SELECT ON crm.tenants, crm.teams, crm.users TO crm_rep;
GRANT UPDATE (name, settings) ON crm.tenants TO crm_admin;
GRANT INSERT, UPDATE, DELETE ON crm.teams TO crm_admin;
-- admins manage their tenant's users, but only the operator binds a login (db_role) to one
GRANT INSERT (tenant_id, id, email, name, role, team_id, active, created_at, updated_at),
      UPDATE (tenant_id, id, email, name, role, team_id, active, created_at, updated_at), DELETE ON crm.users TO crm_admin;

------------------------------------------------------------------------------------------------------
-- HTTP views (PostgREST): security_invoker, so the caller's grants and the policies above apply.
------------------------------------------------------------------------------------------------------

CREATE VIEW crm_api.teams WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, created_at, updated_at FROM crm.teams;
COMMENT ON VIEW crm_api.teams IS 'Sales teams of the caller''s tenant. Admins may insert, update and delete.';

CREATE VIEW crm_api.users WITH (security_invoker = true) AS
    SELECT tenant_id, id, email, name, role, team_id, active, created_at, updated_at FROM crm.users;
COMMENT ON VIEW crm_api.users IS 'The users of the caller''s tenant. Admins may insert, update and delete.';

GRANT SELECT ON crm_api.teams, crm_api.users TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.teams, crm_api.users TO crm_admin;

CREATE FUNCTION crm_api.current_context() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE AS
$$
    SELECT pg_catalog.jsonb_build_object(
        'tenant_id', crm.current_tenant(),
        'user_id', crm.current_user_id(),
        'app_role', crm.current_app_role())
$$;
REVOKE EXECUTE ON FUNCTION crm_api.current_context() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.current_context() TO crm_anon, crm_rep;
COMMENT ON FUNCTION crm_api.current_context() IS 'Who the caller is to crm: {"tenant_id", "user_id", "app_role"} as read from the request (GET /rpc/current_context).';

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.touch_updated_at(), crm.tenant_settings(jsonb), crm.tenants_before_write(),
    crm.check_tenant_caller(uuid), crm.users_changed(), crm.tenants_changed(), crm.users_null_references() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.tenant_settings(jsonb), crm.check_tenant_caller(uuid) TO crm_rep;
