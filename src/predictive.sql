-- predictive.sql: predictive lead scoring, a naive Bayes model in the manner of Odoo's: how often each
-- value of a lead's fields (source, industry, country, purchase timeline, decision maker, company size
-- band, budget band) occurred among the tenant's won and lost leads, kept current by triggers.
--
-- A lead is won when it was converted and its opportunity won; lost when it was lost, or converted and
-- its opportunity lost; otherwise it does not count. For a lead with field values v1..vn:
--   P(won | v) = P(won) * prod P(vi | won) / (P(won) * prod P(vi | won) + P(lost) * prod P(vi | lost))
-- with P(won) = won / (won + lost), and P(vi | won) = (won leads with vi + 1) / (won leads with a value of
-- that field + number of values of that field seen), Laplace smoothing (likewise for lost). A field the
-- lead leaves empty, or that no past lead had, is left out. Below the tenant's win_model_min_history
-- (default 50 won + lost leads) the probability is NULL, and the explanation says why.

CREATE TABLE crm.lead_win_counts (
    tenant_id uuid   NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id        uuid   NOT NULL DEFAULT crm.uuid_v7(),
    field     text   NOT NULL,
    value     text   NOT NULL,
    won       bigint NOT NULL DEFAULT 0 CHECK (won >= 0),
    lost      bigint NOT NULL DEFAULT 0 CHECK (lost >= 0),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, field, value)
);
COMMENT ON TABLE crm.lead_win_counts IS 'The naive Bayes model of lead outcomes: per field value, how many of the tenant''s won and lost leads had it (field "*" holds the totals). Kept by triggers on leads and opportunities; rebuilt by crm.rebuild_win_model. Everyone in the tenant reads it.';
COMMENT ON COLUMN crm.lead_win_counts.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.lead_win_counts.id IS 'The row''s id (uuid_v7).';
COMMENT ON COLUMN crm.lead_win_counts.field IS 'The lead field: source, industry, country, purchase_timeline, decision_maker, company_size, budget; "*" for the totals.';
COMMENT ON COLUMN crm.lead_win_counts.value IS 'The field''s value (a band for company_size and budget); "*" for the totals.';
COMMENT ON COLUMN crm.lead_win_counts.won IS 'Won leads with this value.';
COMMENT ON COLUMN crm.lead_win_counts.lost IS 'Lost leads with this value.';
ALTER TABLE crm.lead_win_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_win_counts FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.lead_win_counts', '');
SELECT crm.secure_table('crm.lead_win_counts', 'config');
REVOKE INSERT, UPDATE, DELETE ON crm.lead_win_counts FROM crm_admin;

CREATE INDEX leads_tenant_converted_opportunity ON crm.leads (tenant_id, converted_opportunity_id)
    WHERE converted_opportunity_id IS NOT NULL;
COMMENT ON INDEX crm.leads_tenant_converted_opportunity IS 'The leads converted into an opportunity: its outcome is theirs (predictive scoring).';

-- What predictive scoring compares and a lead's outcome, from the lead's columns: what triggers call
-- (a trigger passes no whole row: on a Citus shard its type is the shard's). The versions taking a
-- lead row are the same, for queries over crm.leads.
CREATE FUNCTION crm.win_features_fields(source crm.lead_source, industry text, country character,
                                        purchase_timeline crm.purchase_timeline, is_decision_maker boolean,
                                        employee_count integer, budget numeric)
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'source', source,
        'industry', lower(nullif(btrim(industry), '')),
        'country', country,
        'purchase_timeline', purchase_timeline,
        'decision_maker', is_decision_maker,
        'company_size', CASE WHEN employee_count >= 1000 THEN '1000+' WHEN employee_count >= 200 THEN '200-999'
                             WHEN employee_count >= 50 THEN '50-199' WHEN employee_count >= 10 THEN '10-49'
                             WHEN employee_count >= 1 THEN '1-9' END,
        'budget', CASE WHEN budget >= 100000 THEN '100k+' WHEN budget >= 25000 THEN '25k-100k'
                       WHEN budget >= 5000 THEN '5k-25k' WHEN budget > 0 THEN 'under 5k' END))
$$;
COMMENT ON FUNCTION crm.win_features_fields(crm.lead_source, text, character, crm.purchase_timeline, boolean, integer, numeric) IS 'crm.win_features from a lead''s columns (source, industry, country, purchase_timeline, is_decision_maker, employee_count, budget), as the triggers call it.';

-- (not inlined, as its search_path is pinned: an inlined call on a row that a later LATERAL reads trips
-- the planner, "variable not found in subplan target list")
CREATE FUNCTION crm.win_features(lead crm.leads) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.win_features_fields(lead.source, lead.industry, lead.country, lead.purchase_timeline, lead.is_decision_maker,
                                   lead.employee_count, lead.budget)
$$;
COMMENT ON FUNCTION crm.win_features(crm.leads) IS 'The values predictive scoring compares: {source, industry (lower case), country, purchase_timeline, decision_maker, company_size band, budget band}, empty fields left out.';

-- (PL/pgSQL: a SQL function with parameters over a distributed table is not planned by Citus)
CREATE FUNCTION crm.lead_outcome_fields(tenant uuid, status crm.lead_status, converted_opportunity_id uuid) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF lead_outcome_fields.status = 'lost' THEN
        RETURN 'lost';
    ELSIF lead_outcome_fields.status <> 'converted' OR lead_outcome_fields.converted_opportunity_id IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT CASE WHEN s.is_won THEN 'won' WHEN s.is_lost THEN 'lost' END
              FROM crm.opportunities o
              JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
             WHERE o.tenant_id = lead_outcome_fields.tenant AND o.id = lead_outcome_fields.converted_opportunity_id);
END
$$;
COMMENT ON FUNCTION crm.lead_outcome_fields(uuid, crm.lead_status, uuid) IS 'crm.lead_outcome from a lead''s columns (tenant_id, status, converted_opportunity_id), as the triggers call it.';

CREATE FUNCTION crm.lead_outcome(lead crm.leads) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.lead_outcome_fields(lead.tenant_id, lead.status, lead.converted_opportunity_id)
$$;
COMMENT ON FUNCTION crm.lead_outcome(crm.leads) IS 'won (converted, its opportunity won), lost (lost, or converted and its opportunity lost), or NULL while undecided.';

-- Adds delta to the counts of one lead's values. Only crm's triggers and rebuild call it.
CREATE FUNCTION crm.win_counts_add(tenant uuid, features jsonb, outcome text, delta integer) RETURNS void
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: for the request's own tenant, or the operator's
    IF tenant IS DISTINCT FROM crm.current_tenant() THEN
        PERFORM crm.check_tenant_caller(tenant);
    END IF;
    IF outcome IS NULL OR NOT EXISTS (SELECT 1 FROM crm.tenants t WHERE t.id = tenant) THEN
        RETURN;                                          -- undecided, or the tenant is being deleted
    END IF;
    IF delta > 0 THEN
        INSERT INTO crm.lead_win_counts AS c (tenant_id, field, value, won, lost)
        SELECT tenant, f.key, f.value, CASE WHEN outcome = 'won' THEN delta ELSE 0 END, CASE WHEN outcome = 'lost' THEN delta ELSE 0 END
          FROM (SELECT '*' AS key, '*' AS value UNION ALL SELECT e.key, e.value FROM jsonb_each_text(features) e) f
        ON CONFLICT (tenant_id, field, value) DO UPDATE SET won = c.won + excluded.won, lost = c.lost + excluded.lost;
    ELSE
        -- a lead leaving the counts was counted before: its rows exist (an insert would trip the checks)
        UPDATE crm.lead_win_counts c
           SET won = c.won + CASE WHEN outcome = 'won' THEN delta ELSE 0 END,
               lost = c.lost + CASE WHEN outcome = 'lost' THEN delta ELSE 0 END
          FROM (SELECT '*' AS key, '*' AS value UNION ALL SELECT e.key, e.value FROM jsonb_each_text(features) e) f
         WHERE c.tenant_id = tenant AND c.field = f.key AND c.value = f.value;
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.win_counts_add(uuid, jsonb, text, integer) FROM PUBLIC;
COMMENT ON FUNCTION crm.win_counts_add(uuid, jsonb, text, integer) IS 'Internal: adds delta (+1 or -1) to the won or lost counts of a lead''s values and to the totals.';

CREATE FUNCTION crm.leads_count_outcome() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    old_outcome text;
    new_outcome text;
    old_features jsonb;
    new_features jsonb;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.leads'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.leads_count_outcome()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_outcome := crm.lead_outcome_fields(OLD.tenant_id, OLD.status, OLD.converted_opportunity_id);
        old_features := crm.win_features_fields(OLD.source, OLD.industry, OLD.country, OLD.purchase_timeline,
                                                OLD.is_decision_maker, OLD.employee_count, OLD.budget);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_outcome := crm.lead_outcome_fields(NEW.tenant_id, NEW.status, NEW.converted_opportunity_id);
        new_features := crm.win_features_fields(NEW.source, NEW.industry, NEW.country, NEW.purchase_timeline,
                                                NEW.is_decision_maker, NEW.employee_count, NEW.budget);
    END IF;
    IF old_outcome IS NOT DISTINCT FROM new_outcome AND (old_outcome IS NULL OR old_features = new_features) THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM crm.win_counts_add(OLD.tenant_id, old_features, old_outcome, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM crm.win_counts_add(NEW.tenant_id, new_features, new_outcome, 1);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_count_outcome() IS 'Trigger: keeps crm.lead_win_counts current as leads are won, lost, reopened, changed or deleted.';
CREATE TRIGGER leads_count_outcome_insert AFTER INSERT ON crm.leads
    FOR EACH ROW WHEN (NEW.status IN ('lost', 'converted')) EXECUTE FUNCTION crm.leads_count_outcome();
COMMENT ON TRIGGER leads_count_outcome_insert ON crm.leads IS 'src/predictive.sql: counts the values of a lead inserted lost or converted in crm.lead_win_counts.';
-- (only a lead that is or was lost or converted has an outcome: the others' edits, a budget, say, fire nothing)
CREATE TRIGGER leads_count_outcome AFTER UPDATE OF status, converted_opportunity_id, source, industry, country,
    purchase_timeline, is_decision_maker, employee_count, budget ON crm.leads
    FOR EACH ROW WHEN (OLD.status IN ('lost', 'converted') OR NEW.status IN ('lost', 'converted'))
    EXECUTE FUNCTION crm.leads_count_outcome();
COMMENT ON TRIGGER leads_count_outcome ON crm.leads IS 'src/predictive.sql: moves a lead''s values between the won and lost counts as its outcome or values change (only a lead that is or was lost or converted).';
CREATE TRIGGER leads_count_outcome_delete AFTER DELETE ON crm.leads
    FOR EACH ROW WHEN (OLD.status IN ('lost', 'converted')) EXECUTE FUNCTION crm.leads_count_outcome();
COMMENT ON TRIGGER leads_count_outcome_delete ON crm.leads IS 'src/predictive.sql: takes a deleted lost or converted lead''s values out of the won and lost counts.';

-- An opportunity's outcome is its converted leads' outcome: a stage change moves them between the
-- counts. (Deleting an opportunity clears its leads' converted_opportunity_id, crm.opportunities_null_references
-- in src/opportunities.sql, while it is still there: that update of each lead moves it out of the
-- counts, by crm.leads_count_outcome.)
CREATE FUNCTION crm.opportunities_count_outcome() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    stage_outcome text;
    new_stage_outcome text;
    features jsonb;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.opportunities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.opportunities_count_outcome()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    stage_outcome := (SELECT CASE WHEN s.is_won THEN 'won' WHEN s.is_lost THEN 'lost' END
                             FROM crm.pipeline_stages s WHERE s.tenant_id = OLD.tenant_id AND s.id = OLD.stage_id);
    new_stage_outcome := (SELECT CASE WHEN s.is_won THEN 'won' WHEN s.is_lost THEN 'lost' END
                            FROM crm.pipeline_stages s WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.stage_id);
    IF stage_outcome IS DISTINCT FROM new_stage_outcome THEN
        FOR features IN SELECT crm.win_features_fields(x.source, x.industry, x.country, x.purchase_timeline, x.is_decision_maker,
                                                       x.employee_count, x.budget)
                          FROM crm.leads x
                         WHERE x.tenant_id = OLD.tenant_id AND x.converted_opportunity_id = OLD.id AND x.status = 'converted' LOOP
            PERFORM crm.win_counts_add(OLD.tenant_id, features, stage_outcome, -1);
            PERFORM crm.win_counts_add(OLD.tenant_id, features, new_stage_outcome, 1);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.opportunities_count_outcome() IS 'Trigger: when an opportunity is won, lost or reopened, moves its converted leads between the won and lost counts.';
CREATE TRIGGER opportunities_count_outcome AFTER UPDATE OF stage_id ON crm.opportunities
    FOR EACH ROW WHEN (NEW.stage_id IS DISTINCT FROM OLD.stage_id) EXECUTE FUNCTION crm.opportunities_count_outcome();
COMMENT ON TRIGGER opportunities_count_outcome ON crm.opportunities IS 'src/predictive.sql: moves the values of an opportunity''s converted leads between the won and lost counts when its stage changes.';

-- The job's body (src/jobs.sql, crm.job_tenant): a tenant's counts rebuilt, in one call.
CREATE FUNCTION crm.rebuild_win_model_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    leads_counted bigint;
BEGIN
    PERFORM crm.check_job_caller(t);
    DELETE FROM crm.lead_win_counts c WHERE c.tenant_id = t;
    -- (crm.lead_outcome written out as a join, and the features from the columns: on Citus this query
    -- runs on the tenant's shards, where neither a row of crm.leads nor a function that reads a table
    -- can be used)
    WITH decided AS (
        SELECT CASE WHEN l.status = 'lost' THEN 'lost' WHEN s.is_won THEN 'won' WHEN s.is_lost THEN 'lost' END AS outcome,
               crm.win_features_fields(l.source, l.industry, l.country, l.purchase_timeline, l.is_decision_maker,
                                       l.employee_count, l.budget) AS features
          FROM crm.leads l
          LEFT JOIN crm.opportunities o ON o.tenant_id = l.tenant_id AND o.id = l.converted_opportunity_id AND l.status = 'converted'
          LEFT JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
         WHERE l.tenant_id = t AND l.status IN ('lost', 'converted')),
    counted AS (
        INSERT INTO crm.lead_win_counts (tenant_id, field, value, won, lost)
        SELECT t, f.key, f.value, count(*) FILTER (WHERE d.outcome = 'won'), count(*) FILTER (WHERE d.outcome = 'lost')
          FROM decided d,
               LATERAL (SELECT '*' AS key, '*' AS value UNION ALL SELECT e.key, e.value FROM jsonb_each_text(d.features) e) f
         WHERE d.outcome IS NOT NULL
         GROUP BY f.key, f.value
        RETURNING field, won + lost AS n)
    SELECT coalesce(sum(n) FILTER (WHERE field = '*'), 0) INTO leads_counted FROM counted;
    RETURN jsonb_build_object('processed', leads_counted, 'changed', leads_counted, 'details', '{}'::jsonb, 'next', NULL,
                              'progress', format('crm.rebuild_win_model: tenant %s', t));
END
$$;
COMMENT ON FUNCTION crm.rebuild_win_model_tenant(uuid, jsonb, jsonb) IS 'The body of the job rebuild_win_model (crm.run_job): recounts a tenant''s won and lost leads into crm.lead_win_counts; returns {processed, changed: the leads counted, details, next: null}. For managers and admins of the tenant, or the operator.';

CREATE FUNCTION crm.rebuild_win_model(tenant uuid DEFAULT crm.current_tenant()) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('rebuild_win_model', tenant)
$$;
COMMENT ON FUNCTION crm.rebuild_win_model(uuid) IS 'Recounts a tenant''s won and lost leads into crm.lead_win_counts (the triggers keep it current; this repairs it after a bulk load without triggers) and returns {"tenants", "failed", "processed" and "changed": the leads counted, "failures": [...]}: the job rebuild_win_model of crm.run_job, in the caller''s transaction. For managers and admins of the tenant, or the operator (NULL: every tenant: a tenant that fails is undone and logged as failed in crm.job_runs, and the others are still recounted); one run per tenant at a time (55P03), logged in crm.job_runs.';

CREATE FUNCTION crm.explain_lead_win_probability(lead crm.leads) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    won bigint;
    lost bigint;
    needed integer := (SELECT (t.settings->>'win_model_min_history')::integer FROM crm.tenants t WHERE t.id = lead.tenant_id);
    fields jsonb;
    log_odds double precision;
    p double precision;
BEGIN
    SELECT c.won, c.lost INTO won, lost FROM crm.lead_win_counts c WHERE c.tenant_id = lead.tenant_id AND c.field = '*';
    won := coalesce(won, 0);
    lost := coalesce(lost, 0);
    IF won + lost < coalesce(needed, 50) THEN
        RETURN jsonb_build_object('probability', NULL, 'won', won, 'lost', lost, 'min_history', needed,
            'reason', format('not enough history: %s won and %s lost leads, %s needed', won, lost, needed));
    END IF;
    IF won = 0 OR lost = 0 THEN
        RETURN jsonb_build_object('probability', CASE WHEN won = 0 THEN 0 ELSE 100 END, 'won', won, 'lost', lost,
            'min_history', needed, 'reason', CASE WHEN won = 0 THEN 'no lead was ever won' ELSE 'no lead was ever lost' END,
            'fields', '[]'::jsonb);
    END IF;
    -- each field's weight: ln(P(value | won) / P(value | lost)), Laplace-smoothed
    WITH v AS (SELECT e.key AS field, e.value FROM jsonb_each_text(crm.win_features(lead)) e),
    seen AS (SELECT c.field, count(*) AS k, sum(c.won) AS won_f, sum(c.lost) AS lost_f
               FROM crm.lead_win_counts c
              WHERE c.tenant_id = lead.tenant_id AND c.field <> '*' AND c.won + c.lost > 0
              GROUP BY c.field),
    w AS (SELECT v.field, v.value, coalesce(c.won, 0) AS value_won, coalesce(c.lost, 0) AS value_lost,
                 ln((coalesce(c.won, 0) + 1)::double precision / (s.won_f + s.k))
                 - ln((coalesce(c.lost, 0) + 1)::double precision / (s.lost_f + s.k)) AS weight
            FROM v JOIN seen s ON s.field = v.field
            LEFT JOIN crm.lead_win_counts c ON c.tenant_id = lead.tenant_id AND c.field = v.field AND c.value = v.value)
    SELECT coalesce(jsonb_agg(jsonb_build_object('field', w.field, 'value', w.value, 'won', w.value_won, 'lost', w.value_lost,
                                                 'weight', round(w.weight::numeric, 4),
                                                 'effect', CASE WHEN w.weight > 0.05 THEN 'raises' WHEN w.weight < -0.05 THEN 'lowers'
                                                                ELSE 'neutral' END)
                              ORDER BY abs(w.weight) DESC, w.field), '[]'),
           ln(won::double precision / lost) + coalesce(sum(w.weight), 0)
      INTO fields, log_odds
      FROM w;
    p := 1 / (1 + exp(-least(greatest(log_odds, -700), 700)));
    RETURN jsonb_build_object('probability', round((100 * p)::numeric, 4), 'won', won, 'lost', lost, 'min_history', needed,
                              'prior', round((100.0 * won / (won + lost))::numeric, 4), 'fields', fields);
END
$$;
COMMENT ON FUNCTION crm.explain_lead_win_probability(crm.leads) IS 'The naive Bayes estimate of a lead''s chance to be won, with its reasons: {probability (0-100, 4 decimals), won, lost, min_history, prior, fields: [{field, value, won, lost, weight (log-odds it adds), effect}]}; below the minimum history probability is NULL and reason says why.';

CREATE FUNCTION crm.lead_win_probability(lead crm.leads) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (crm.explain_lead_win_probability(lead)->>'probability')::numeric
$$;
COMMENT ON FUNCTION crm.lead_win_probability(crm.leads) IS 'The chance, 0 to 100 (4 decimals), that the lead will be won, by the naive Bayes model of the tenant''s won and lost leads (Laplace smoothing); NULL below the tenant''s win_model_min_history (default 50 won + lost leads): crm.explain_lead_win_probability says why.';

CREATE FUNCTION crm_api.lead_win_probability(lead_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.explain_lead_win_probability(crm.visible_lead(lead_id))
$$;
COMMENT ON FUNCTION crm_api.lead_win_probability(uuid) IS 'A lead''s chance to be won and why (GET /rpc/lead_win_probability?lead_id=...): {probability (0-100, null below the minimum history), reason, won, lost, prior, fields: [{field, value, weight, effect}]}. 404 when the lead is not visible.';
CREATE FUNCTION crm_api.rebuild_win_model() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_for_http('rebuild_win_model')
$$;
COMMENT ON FUNCTION crm_api.rebuild_win_model() IS 'Recounts the tenant''s won and lost leads for predictive scoring and returns how many it counted (POST /rpc/rebuild_win_model; managers and admins, 403 for reps; 409 while another run works).';
REVOKE EXECUTE ON FUNCTION crm_api.lead_win_probability(uuid), crm_api.rebuild_win_model() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.lead_win_probability(uuid), crm_api.rebuild_win_model() TO crm_rep;

CREATE VIEW crm_api.lead_win_counts WITH (security_invoker = true) AS
    SELECT tenant_id, id, field, value, won, lost FROM crm.lead_win_counts;
COMMENT ON VIEW crm_api.lead_win_counts IS 'The predictive model''s counts: per lead field value, the tenant''s won and lost leads that had it (read only).';
GRANT SELECT ON crm_api.lead_win_counts TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.win_features(crm.leads), crm.lead_outcome(crm.leads),
    crm.win_features_fields(crm.lead_source, text, character, crm.purchase_timeline, boolean, integer, numeric),
    crm.lead_outcome_fields(uuid, crm.lead_status, uuid),
    crm.leads_count_outcome(), crm.opportunities_count_outcome(), crm.rebuild_win_model(uuid),
    crm.rebuild_win_model_tenant(uuid,jsonb,jsonb),
    crm.explain_lead_win_probability(crm.leads), crm.lead_win_probability(crm.leads) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.win_features(crm.leads), crm.lead_outcome(crm.leads),
    crm.win_features_fields(crm.lead_source, text, character, crm.purchase_timeline, boolean, integer, numeric),
    crm.lead_outcome_fields(uuid, crm.lead_status, uuid),
    crm.explain_lead_win_probability(crm.leads), crm.lead_win_probability(crm.leads) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.rebuild_win_model(uuid), crm.rebuild_win_model_tenant(uuid,jsonb,jsonb) TO crm_manager;
