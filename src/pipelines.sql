-- pipelines.sql: sales pipelines and their stages. Every tenant gets a default pipeline.

CREATE TYPE crm.forecast_category AS ENUM ('pipeline', 'best_case', 'commit', 'closed', 'omitted');
COMMENT ON TYPE crm.forecast_category IS 'How an opportunity counts in a forecast: pipeline, best_case, commit, closed (won), omitted (lost or excluded).';

CREATE TABLE crm.pipelines (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant()
                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    name       text        NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    is_default boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX pipelines_one_default ON crm.pipelines (tenant_id) WHERE is_default;
COMMENT ON TABLE crm.pipelines IS 'Sales pipelines of a tenant, each an ordered list of stages; one is the default. Everyone reads them; admins change them.';
COMMENT ON COLUMN crm.pipelines.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.pipelines.id IS 'The pipeline''s id (uuid_v7).';
COMMENT ON COLUMN crm.pipelines.name IS 'Pipeline name, unique in the tenant.';
COMMENT ON COLUMN crm.pipelines.is_default IS 'The pipeline new opportunities go to. Exactly one per tenant: making another the default unsets this one.';
COMMENT ON COLUMN crm.pipelines.created_at IS 'When the pipeline was created.';
COMMENT ON COLUMN crm.pipelines.updated_at IS 'When the pipeline was last changed.';
COMMENT ON INDEX crm.pipelines_one_default IS 'One default pipeline per tenant.';

CREATE TABLE crm.pipeline_stages (
    tenant_id         uuid                  NOT NULL DEFAULT crm.current_tenant()
                                            REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                uuid                  NOT NULL DEFAULT crm.uuid_v7(),
    pipeline_id       uuid                  NOT NULL,
    name              text                  NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    position          integer               NOT NULL CHECK (position >= 0),
    probability       integer               NOT NULL CHECK (probability BETWEEN 0 AND 100),
    is_won            boolean               NOT NULL DEFAULT false,
    is_lost           boolean               NOT NULL DEFAULT false,
    expected_days     integer               CHECK (expected_days > 0),
    forecast_category crm.forecast_category NOT NULL,
    created_at        timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, pipeline_id, id),
    UNIQUE (tenant_id, pipeline_id, name),
    CONSTRAINT pipeline_stages_position_unique UNIQUE (tenant_id, pipeline_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES crm.pipelines (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT pipeline_stages_closed CHECK (NOT (is_won AND is_lost)
        AND (NOT is_won OR probability = 100) AND (NOT is_lost OR probability = 0))
);
COMMENT ON TABLE crm.pipeline_stages IS 'The ordered stages of a pipeline, each with a win probability; won and lost stages close an opportunity.';
COMMENT ON COLUMN crm.pipeline_stages.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.pipeline_stages.id IS 'The stage''s id (uuid_v7).';
COMMENT ON COLUMN crm.pipeline_stages.pipeline_id IS 'The pipeline (same tenant).';
COMMENT ON COLUMN crm.pipeline_stages.name IS 'Stage name, lowercase (prospecting, closed_won); unique in its pipeline. crm.move_opportunity takes it.';
COMMENT ON COLUMN crm.pipeline_stages.position IS 'Order in the pipeline, from 0; unique in the pipeline (checked at the end of each statement, so stages can be reordered).';
COMMENT ON COLUMN crm.pipeline_stages.probability IS 'Win probability in percent given to opportunities entering the stage: 100 for a won stage, 0 for a lost one.';
COMMENT ON COLUMN crm.pipeline_stages.is_won IS 'Entering this stage wins the opportunity.';
COMMENT ON COLUMN crm.pipeline_stages.is_lost IS 'Entering this stage loses the opportunity (a reason is required).';
COMMENT ON COLUMN crm.pipeline_stages.expected_days IS 'How many days an opportunity is expected to stay in the stage.';
COMMENT ON COLUMN crm.pipeline_stages.forecast_category IS 'The forecast category given to opportunities entering the stage; defaults from the stage: closed when won, omitted when lost, commit from 70 %, best_case from 40 %, else pipeline.';
COMMENT ON COLUMN crm.pipeline_stages.created_at IS 'When the stage was created.';
COMMENT ON COLUMN crm.pipeline_stages.updated_at IS 'When the stage was last changed.';

-- The forecast category a stage implies.
CREATE FUNCTION crm.stage_forecast_category(probability integer, is_won boolean, is_lost boolean)
    RETURNS crm.forecast_category
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN is_won THEN 'closed' WHEN is_lost THEN 'omitted'
                WHEN probability >= 70 THEN 'commit' WHEN probability >= 40 THEN 'best_case'
                ELSE 'pipeline' END::crm.forecast_category
$$;
COMMENT ON FUNCTION crm.stage_forecast_category(integer, boolean, boolean) IS 'The forecast category a stage implies: closed when won, omitted when lost, commit from 70 %, best_case from 40 %, else pipeline.';

CREATE FUNCTION crm.pipeline_stages_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.forecast_category IS NULL THEN
        NEW.forecast_category := crm.stage_forecast_category(NEW.probability, NEW.is_won, NEW.is_lost);
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.pipeline_stages_before_write() IS 'Trigger: defaults a stage''s forecast category from its probability and outcome.';
CREATE TRIGGER b20_pipeline_stages_before_write BEFORE INSERT ON crm.pipeline_stages
    FOR EACH ROW EXECUTE FUNCTION crm.pipeline_stages_before_write();
COMMENT ON TRIGGER b20_pipeline_stages_before_write ON crm.pipeline_stages IS 'src/pipelines.sql: defaults the forecast category from the probability and outcome.';

-- Making a pipeline the default unsets the previous one.
CREATE FUNCTION crm.pipelines_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.is_default AND (TG_OP = 'INSERT' OR NOT OLD.is_default) THEN
        UPDATE crm.pipelines SET is_default = false WHERE tenant_id = NEW.tenant_id AND is_default AND id <> NEW.id;
    ELSIF TG_OP = 'UPDATE' AND OLD.is_default AND NOT NEW.is_default AND pg_trigger_depth() = 1 THEN
        RAISE EXCEPTION 'a tenant always has a default pipeline' USING ERRCODE = '23514',
            HINT = 'Make another pipeline the default instead.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.pipelines_before_write() IS 'Trigger: a new default pipeline replaces the old one; the default is not unset by itself.';
CREATE TRIGGER b20_pipelines_before_write BEFORE INSERT OR UPDATE OF is_default ON crm.pipelines
    FOR EACH ROW EXECUTE FUNCTION crm.pipelines_before_write();
COMMENT ON TRIGGER b20_pipelines_before_write ON crm.pipelines IS 'src/pipelines.sql: a new default pipeline replaces the old one; the default is not unset by itself (23514).';

-- The default pipeline is not deleted (unless its tenant is).
CREATE FUNCTION crm.pipelines_before_delete() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF OLD.is_default AND EXISTS (SELECT 1 FROM crm.tenants WHERE id = OLD.tenant_id) THEN
        RAISE EXCEPTION 'the default pipeline cannot be deleted' USING ERRCODE = '23514',
            HINT = 'Make another pipeline the default first.';
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.pipelines_before_delete() IS 'Trigger: refuses to delete a tenant''s default pipeline.';
CREATE TRIGGER b20_pipelines_before_delete BEFORE DELETE ON crm.pipelines
    FOR EACH ROW EXECUTE FUNCTION crm.pipelines_before_delete();
COMMENT ON TRIGGER b20_pipelines_before_delete ON crm.pipelines IS 'src/pipelines.sql: refuses to delete the tenant''s default pipeline (23514).';

ALTER TABLE crm.pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.pipelines FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.pipelines', '');
SELECT crm.secure_table('crm.pipelines', 'config');
ALTER TABLE crm.pipeline_stages ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.pipeline_stages FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.pipeline_stages', '');
SELECT crm.secure_table('crm.pipeline_stages', 'config');

-- Every new tenant gets the default pipeline. SECURITY DEFINER: the tenant is created by the operator,
-- who has no tenant context.
CREATE FUNCTION crm.create_default_pipeline(tenant uuid) RETURNS void
    SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    p uuid := crm.uuid_v7();
BEGIN
    INSERT INTO crm.pipelines (tenant_id, id, name, is_default) VALUES (tenant, p, 'Sales', true);
    INSERT INTO crm.pipeline_stages (tenant_id, pipeline_id, name, position, probability, is_won, is_lost, expected_days)
    VALUES (tenant, p, 'prospecting', 0, 10, false, false, 14),
           (tenant, p, 'qualification', 1, 25, false, false, 14),
           (tenant, p, 'proposal', 2, 50, false, false, 21),
           (tenant, p, 'negotiation', 3, 75, false, false, 14),
           (tenant, p, 'closed_won', 4, 100, true, false, NULL),
           (tenant, p, 'closed_lost', 5, 0, false, true, NULL);
END
$$;
COMMENT ON FUNCTION crm.create_default_pipeline(uuid) IS 'Gives a new tenant its default pipeline "Sales": prospecting 10, qualification 25, proposal 50, negotiation 75, closed_won 100, closed_lost 0. Called by crm.create_tenant only (executable by no one else).';

CREATE VIEW crm_api.pipelines WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, is_default, created_at, updated_at FROM crm.pipelines;
COMMENT ON VIEW crm_api.pipelines IS 'Sales pipelines of the caller''s tenant. Admins change them.';
CREATE VIEW crm_api.pipeline_stages WITH (security_invoker = true) AS
    SELECT tenant_id, id, pipeline_id, name, position, probability, is_won, is_lost, expected_days, forecast_category,
           created_at, updated_at
    FROM crm.pipeline_stages;
COMMENT ON VIEW crm_api.pipeline_stages IS 'Stages of the caller''s pipelines, in order of position. Admins change them.';
GRANT SELECT ON crm_api.pipelines, crm_api.pipeline_stages TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.pipelines, crm_api.pipeline_stages TO crm_admin;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.stage_forecast_category(integer,boolean,boolean),
    crm.pipeline_stages_before_write(), crm.pipelines_before_write(), crm.pipelines_before_delete(),
    crm.create_default_pipeline(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.stage_forecast_category(integer,boolean,boolean) TO crm_rep;
