-- opportunities.sql: deals in a pipeline, and the history of their stage changes.
--
-- INSERT INTO crm.opportunities (name, account_id, amount, currency) is enough: the pipeline defaults to
-- the given stage's or the tenant's default, the stage to the pipeline's first, the probability and
-- forecast category to the stage's. On a stage change the probability and forecast category are
-- reset to the new stage's unless the same statement sets them; a won or lost stage closes the deal
-- (closed_at is set exactly when the stage is won or lost, so the reports' "open" is closed_at IS NULL);
-- moving a won or lost deal back to an open stage (reopening it) needs a stage_reason.

CREATE TABLE crm.opportunities (
    tenant_id           uuid                  NOT NULL DEFAULT crm.current_tenant()
                                              REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                  uuid                  NOT NULL DEFAULT crm.uuid_v7(),
    name                text                  NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    account_id          uuid,
    contact_id          uuid,
    lead_id             uuid,
    pipeline_id         uuid                  NOT NULL,
    stage_id            uuid                  NOT NULL,
    amount              numeric(18,2)         NOT NULL DEFAULT 0 CHECK (amount >= 0 AND amount <> 'NaN'),
    currency            char(3)               NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    probability         integer               NOT NULL CHECK (probability BETWEEN 0 AND 100),
    forecast_category   crm.forecast_category NOT NULL,
    expected_close_date date,
    closed_at           timestamptz           CHECK (pg_catalog.isfinite(closed_at)),
    lost_reason         text,
    stage_changed_at    timestamptz           NOT NULL DEFAULT pg_catalog.now() CHECK (pg_catalog.isfinite(stage_changed_at)),
    stage_reason        text,
    owner_id            uuid                  NOT NULL DEFAULT crm.current_user_id(),
    custom              jsonb                 NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(custom) = 'object'),
    created_at          timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz           NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    -- cleared on delete by crm.accounts_null_references, crm.contacts_null_references and
    -- crm.leads_null_references (docs/design.md §12)
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id),
    FOREIGN KEY (tenant_id, pipeline_id) REFERENCES crm.pipelines (tenant_id, id),
    -- the stage belongs to the opportunity's pipeline
    FOREIGN KEY (tenant_id, pipeline_id, stage_id) REFERENCES crm.pipeline_stages (tenant_id, pipeline_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX opportunities_tenant_owner ON crm.opportunities (tenant_id, owner_id);
CREATE INDEX opportunities_tenant_stage ON crm.opportunities (tenant_id, pipeline_id, stage_id);
CREATE INDEX opportunities_tenant_account ON crm.opportunities (tenant_id, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX opportunities_tenant_contact ON crm.opportunities (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX opportunities_tenant_lead ON crm.opportunities (tenant_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX opportunities_tenant_close ON crm.opportunities (tenant_id, expected_close_date);
CREATE INDEX opportunities_tenant_updated ON crm.opportunities (tenant_id, updated_at DESC);
COMMENT ON INDEX crm.opportunities_tenant_contact IS 'The opportunities of a contact: what deleting the contact clears.';
COMMENT ON INDEX crm.opportunities_tenant_lead IS 'The opportunities of a lead: what deleting the lead clears.';
COMMENT ON TABLE crm.opportunities IS 'Deals: an amount moving through the stages of a pipeline until won or lost.';
COMMENT ON COLUMN crm.opportunities.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.opportunities.id IS 'The opportunity''s id (uuid_v7).';
COMMENT ON COLUMN crm.opportunities.name IS 'What is being sold, e.g. "Initech: 50 seats".';
COMMENT ON COLUMN crm.opportunities.account_id IS 'The buying account (same tenant); NULL if it is deleted.';
COMMENT ON COLUMN crm.opportunities.contact_id IS 'The main contact (same tenant); NULL if it is deleted.';
COMMENT ON COLUMN crm.opportunities.lead_id IS 'The lead it was converted from, if any; NULL if it is deleted.';
COMMENT ON COLUMN crm.opportunities.pipeline_id IS 'The pipeline; defaults to the given stage''s, else the tenant''s default pipeline.';
COMMENT ON COLUMN crm.opportunities.stage_id IS 'The current stage, of the opportunity''s pipeline; defaults to the pipeline''s first stage. Move with crm.move_opportunity.';
COMMENT ON COLUMN crm.opportunities.amount IS 'Deal value; kept equal to the total of the line items when there are any.';
COMMENT ON COLUMN crm.opportunities.currency IS 'ISO 4217 code; defaults to the tenant''s currency.';
COMMENT ON COLUMN crm.opportunities.probability IS 'Win probability in percent; defaults to the stage''s, may be overridden, and is reset to the new stage''s on a move unless set again.';
COMMENT ON COLUMN crm.opportunities.forecast_category IS 'pipeline, best_case, commit, closed or omitted; defaults to the stage''s, reset on a move unless set again.';
COMMENT ON COLUMN crm.opportunities.expected_close_date IS 'When the deal is expected to close.';
COMMENT ON COLUMN crm.opportunities.closed_at IS 'When the deal was won or lost; NULL while open.';
COMMENT ON COLUMN crm.opportunities.lost_reason IS 'Why the deal was lost; required to enter a lost stage.';
COMMENT ON COLUMN crm.opportunities.stage_changed_at IS 'When the opportunity entered its current stage.';
COMMENT ON COLUMN crm.opportunities.stage_reason IS 'Why it entered its current stage (recorded in the stage history); cleared on a move unless the same statement sets it.';
COMMENT ON COLUMN crm.opportunities.owner_id IS 'The user who owns the deal; defaults to the caller.';
COMMENT ON COLUMN crm.opportunities.custom IS 'Tenant-defined fields, a JSON object.';
COMMENT ON COLUMN crm.opportunities.created_at IS 'When the opportunity was created.';
COMMENT ON COLUMN crm.opportunities.updated_at IS 'When the opportunity was last changed.';

-- cleared on delete by crm.opportunities_null_references (below; its index: leads_tenant_converted_opportunity, src/predictive.sql)
ALTER TABLE crm.leads ADD FOREIGN KEY (tenant_id, converted_opportunity_id) REFERENCES crm.opportunities (tenant_id, id);

-- Defaults and stage rules. SECURITY DEFINER is not needed: the caller reads its tenant's pipelines.
CREATE FUNCTION crm.opportunities_before_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    st record;
    moved boolean;
    was_closed boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.pipeline_id IS NULL AND NEW.stage_id IS NOT NULL THEN
            SELECT s.pipeline_id INTO NEW.pipeline_id FROM crm.pipeline_stages s
             WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.stage_id;
        END IF;
        IF NEW.pipeline_id IS NULL THEN
            SELECT p.id INTO NEW.pipeline_id FROM crm.pipelines p WHERE p.tenant_id = NEW.tenant_id AND p.is_default;
        END IF;
        IF NEW.stage_id IS NULL THEN
            SELECT s.id INTO NEW.stage_id FROM crm.pipeline_stages s
             WHERE s.tenant_id = NEW.tenant_id AND s.pipeline_id = NEW.pipeline_id ORDER BY s.position LIMIT 1;
        END IF;
        IF NEW.currency IS NULL THEN
            SELECT t.settings->>'currency' INTO NEW.currency FROM crm.tenants t WHERE t.id = NEW.tenant_id;
        END IF;
        moved := true;
    ELSE
        moved := NEW.stage_id IS DISTINCT FROM OLD.stage_id OR NEW.pipeline_id IS DISTINCT FROM OLD.pipeline_id;
    END IF;
    NEW.currency := pg_catalog.upper(NEW.currency);

    SELECT s.* INTO st FROM crm.pipeline_stages s
     WHERE s.tenant_id = NEW.tenant_id AND s.pipeline_id = NEW.pipeline_id AND s.id = NEW.stage_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stage % is not a stage of pipeline %', NEW.stage_id, NEW.pipeline_id
            USING ERRCODE = '22023',
                  DETAIL = format('The stages of the pipeline are: %s.',
                                  (SELECT coalesce(string_agg(s.name, ', ' ORDER BY s.position), 'none') FROM crm.pipeline_stages s
                                    WHERE s.tenant_id = NEW.tenant_id AND s.pipeline_id = NEW.pipeline_id));
    END IF;

    IF moved THEN
        -- the new stage's probability and category, unless this statement sets them itself
        IF TG_OP = 'INSERT' THEN
            NEW.probability := coalesce(NEW.probability, st.probability);
            NEW.forecast_category := coalesce(NEW.forecast_category, st.forecast_category);
        ELSE
            IF NEW.probability IS NOT DISTINCT FROM OLD.probability THEN
                NEW.probability := st.probability;
            END IF;
            IF NEW.forecast_category IS NOT DISTINCT FROM OLD.forecast_category THEN
                NEW.forecast_category := st.forecast_category;
            END IF;
            IF NEW.stage_reason IS NOT DISTINCT FROM OLD.stage_reason THEN
                NEW.stage_reason := NULL;
            END IF;
            NEW.stage_changed_at := pg_catalog.now();
        END IF;
        IF st.is_won OR st.is_lost THEN
            NEW.closed_at := coalesce(NEW.closed_at, pg_catalog.now());
            NEW.probability := CASE WHEN st.is_won THEN 100 ELSE 0 END;
            NEW.forecast_category := CASE WHEN st.is_won THEN 'closed' ELSE 'omitted' END;
        ELSE
            NEW.closed_at := NULL;
            NEW.lost_reason := NULL;
        END IF;
        IF TG_OP = 'UPDATE' AND NOT (st.is_won OR st.is_lost) THEN
            SELECT s.is_won OR s.is_lost INTO was_closed FROM crm.pipeline_stages s WHERE s.tenant_id = OLD.tenant_id AND s.id = OLD.stage_id;
            IF was_closed AND pg_catalog.btrim(coalesce(NEW.stage_reason, '')) = '' THEN
                RAISE EXCEPTION 'reopening a won or lost opportunity needs a reason' USING ERRCODE = '22023',
                    DETAIL = format('Stage %s is an open stage and the opportunity is closed.', st.name),
                    HINT = 'Set stage_reason in the same statement, or pass reason to crm.move_opportunity.';
            END IF;
        END IF;
    END IF;
    -- closed exactly in a won or lost stage, also when a statement sets closed_at by itself
    IF st.is_won OR st.is_lost THEN
        NEW.closed_at := coalesce(NEW.closed_at, pg_catalog.now());
    ELSE
        NEW.closed_at := NULL;
    END IF;
    IF st.is_lost AND pg_catalog.btrim(coalesce(NEW.lost_reason, '')) = '' THEN
        RAISE EXCEPTION 'a lost opportunity needs a lost reason' USING ERRCODE = '23514',
            DETAIL = format('Stage %s is a lost stage.', st.name);
    END IF;
    IF (st.is_won OR st.is_lost) AND TG_OP = 'UPDATE' AND NOT moved
       AND (NEW.probability IS DISTINCT FROM OLD.probability OR NEW.forecast_category IS DISTINCT FROM OLD.forecast_category) THEN
        RAISE EXCEPTION 'a closed opportunity keeps its probability and forecast category' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.opportunities_before_write() IS 'Trigger: defaults an opportunity''s pipeline, stage, currency, probability and forecast category; checks the stage is in the pipeline (22023 listing the stages); resets probability and category on a move unless set; closes on a won or lost stage (a lost one needs a reason, 23514), and only there (closed_at is NULL in an open stage); reopening (a won or lost deal moved to an open stage) needs a stage_reason (22023).';
CREATE TRIGGER b20_opportunities_before_write BEFORE INSERT OR UPDATE ON crm.opportunities
    FOR EACH ROW EXECUTE FUNCTION crm.opportunities_before_write();
COMMENT ON TRIGGER b20_opportunities_before_write ON crm.opportunities IS 'src/opportunities.sql: defaults the pipeline, stage, currency, probability and forecast category; checks the stage is the pipeline''s (22023); closes on a won or lost stage (a lost one needs a reason, 23514); reopening needs a stage_reason (22023).';

-- Deleting an opportunity clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
-- Clearing converted_opportunity_id also takes the leads out of the predictive counts
-- (crm.leads_count_outcome, src/predictive.sql), while the opportunity, still there, tells their outcome.
CREATE FUNCTION crm.opportunities_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.opportunities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.opportunities_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.leads SET converted_opportunity_id = NULL WHERE tenant_id = OLD.tenant_id AND converted_opportunity_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.opportunities_null_references() IS 'Trigger: clears leads.converted_opportunity_id of a deleted opportunity (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.opportunities
    FOR EACH ROW EXECUTE FUNCTION crm.opportunities_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.opportunities IS 'src/opportunities.sql: clears leads.converted_opportunity_id of the deleted opportunity (which takes those leads out of the predictive counts).';

ALTER TABLE crm.opportunities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.opportunities FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.opportunities', '');
SELECT crm.secure_table('crm.opportunities', 'owned');

------------------------------------------------------------------------------------------------------
-- Stage history: written by a trigger only (callers read it, never write it).
------------------------------------------------------------------------------------------------------

CREATE TABLE crm.opportunity_stage_history (
    tenant_id              uuid        NOT NULL DEFAULT crm.current_tenant()
                                       REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                     uuid        NOT NULL DEFAULT crm.uuid_v7(),
    opportunity_id         uuid        NOT NULL,
    from_stage_id          uuid,
    to_stage_id            uuid        NOT NULL,
    changed_by             uuid,
    changed_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reason                 text,
    time_in_previous_stage interval,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES crm.opportunities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, from_stage_id) REFERENCES crm.pipeline_stages (tenant_id, id),
    FOREIGN KEY (tenant_id, to_stage_id) REFERENCES crm.pipeline_stages (tenant_id, id),
    -- cleared on delete by crm.users_null_references (src/tenancy.sql, docs/design.md §12)
    FOREIGN KEY (tenant_id, changed_by) REFERENCES crm.users (tenant_id, id)
);
CREATE INDEX opportunity_stage_history_changed_by ON crm.opportunity_stage_history (tenant_id, changed_by) WHERE changed_by IS NOT NULL;
COMMENT ON INDEX crm.opportunity_stage_history_changed_by IS 'The stage changes of a user: what deleting the user clears.';
CREATE INDEX opportunity_stage_history_opportunity ON crm.opportunity_stage_history (tenant_id, opportunity_id, changed_at);
COMMENT ON TABLE crm.opportunity_stage_history IS 'Every stage an opportunity entered: from which stage, by whom, when, why, and how long it spent in the previous one. Written by the database only.';
COMMENT ON COLUMN crm.opportunity_stage_history.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.opportunity_stage_history.id IS 'The change''s id (uuid_v7).';
COMMENT ON COLUMN crm.opportunity_stage_history.opportunity_id IS 'The opportunity.';
COMMENT ON COLUMN crm.opportunity_stage_history.from_stage_id IS 'The stage it left; NULL when the opportunity was created.';
COMMENT ON COLUMN crm.opportunity_stage_history.to_stage_id IS 'The stage it entered.';
COMMENT ON COLUMN crm.opportunity_stage_history.changed_by IS 'The user who moved it (crm.current_user_id()); NULL if the user is deleted.';
COMMENT ON COLUMN crm.opportunity_stage_history.changed_at IS 'When it moved.';
COMMENT ON COLUMN crm.opportunity_stage_history.reason IS 'Why (the reason given to crm.move_opportunity, or the lost reason).';
COMMENT ON COLUMN crm.opportunity_stage_history.time_in_previous_stage IS 'How long the opportunity spent in the stage it left.';

-- Records a stage change. SECURITY DEFINER: callers have no INSERT privilege on the history.
CREATE FUNCTION crm.opportunities_record_stage() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    who uuid;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.opportunities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.opportunities_record_stage()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.stage_id IS NOT DISTINCT FROM OLD.stage_id THEN
        RETURN NULL;
    END IF;
    -- the mover, if a user of the tenant; read first (Citus refuses a subquery in INSERT ... VALUES)
    SELECT u.id INTO who FROM crm.users u WHERE u.tenant_id = NEW.tenant_id AND u.id = crm.current_user_id();
    INSERT INTO crm.opportunity_stage_history (tenant_id, opportunity_id, from_stage_id, to_stage_id, changed_by, reason,
                                               time_in_previous_stage)
    VALUES (NEW.tenant_id, NEW.id,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.stage_id END, NEW.stage_id, who,
            coalesce(NEW.stage_reason, NEW.lost_reason),
            CASE WHEN TG_OP = 'UPDATE' THEN NEW.stage_changed_at - OLD.stage_changed_at END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.opportunities_record_stage() IS 'Trigger: appends the stage an opportunity entered to opportunity_stage_history.';
CREATE TRIGGER opportunities_record_stage AFTER INSERT OR UPDATE OF stage_id ON crm.opportunities
    FOR EACH ROW EXECUTE FUNCTION crm.opportunities_record_stage();
COMMENT ON TRIGGER opportunities_record_stage ON crm.opportunities IS 'src/opportunities.sql: appends the stage entered to crm.opportunity_stage_history.';

ALTER TABLE crm.opportunity_stage_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.opportunity_stage_history FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.opportunity_stage_history', '');
SELECT crm.secure_table('crm.opportunity_stage_history', 'child', 'crm.opportunities', 'opportunity_id');
REVOKE INSERT, UPDATE, DELETE ON crm.opportunity_stage_history FROM crm_rep;

CREATE VIEW crm_api.opportunities WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, account_id, contact_id, lead_id, pipeline_id, stage_id, amount, currency, probability,
           forecast_category, expected_close_date, closed_at, lost_reason, stage_changed_at, stage_reason, owner_id, custom,
           created_at, updated_at
    FROM crm.opportunities;
COMMENT ON VIEW crm_api.opportunities IS 'Opportunities of the caller''s tenant (those it owns only, for a rep of a private tenant). Move them with POST /rpc/move_opportunity.';
CREATE VIEW crm_api.opportunity_stage_history WITH (security_invoker = true) AS
    SELECT tenant_id, id, opportunity_id, from_stage_id, to_stage_id, changed_by, changed_at, reason, time_in_previous_stage
    FROM crm.opportunity_stage_history;
COMMENT ON VIEW crm_api.opportunity_stage_history IS 'Stage changes of the opportunities the caller reads (read only).';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.opportunities TO crm_rep;
GRANT SELECT ON crm_api.opportunity_stage_history TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.opportunities_before_write(), crm.opportunities_record_stage(), crm.opportunities_null_references() FROM PUBLIC;
