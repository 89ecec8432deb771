-- scoring.sql: rule-based lead scoring (the engine is in src/scoring.c).
--
-- A scoring model is a JSON document of fit rules, each giving points for one field of a lead:
--   {"fit": [
--      {"name": "company_size", "field": "employee_count", "reason": "company size",
--       "ranges": [{"min": 1000, "points": 25}, {"min": 200, "below": 1000, "points": 20}, ...]},
--      {"name": "industry", "field": "industry", "in": ["software", ...], "points": 15, "else": 5},
--      {"name": "timeline", "field": "purchase_timeline", "values": {"immediate": 15, ...}},
--      {"name": "decision_maker", "field": "is_decision_maker", "equals": true, "points": 25}],
--    "caps": {"fit": 100},
--    "total_cap": 100}
-- A range has any of min (>=), above (>), max (<=), below (<); the first matching range counts. "in"
-- compares case-insensitively; "else" gives points to any other known value. Unknown (NULL) values
-- score 0.
--
-- Engagement rules give points for the lead's activities, each worth less as it ages:
--   "engagement": [
--      {"name": "calls", "type": "call", "outcome": "connected", "points": 10, "half_life_days": 30,
--       "reason": "recent calls"}]
-- Each activity of the type (and outcome, when the rule names one) is worth points * 0.5^(age in days /
-- half_life_days) as of the transaction's start; the rule gives the sum, rounded. The activities come
-- from crm.leads.engagement (kept by a trigger on crm.activities), never from a query per lead.
--
-- A rule may name a "group" (default: its name for a fit rule, "engagement" for an engagement rule);
-- "caps" caps a group's total; the total is capped at total_cap (at most 100).

CREATE TABLE crm.scoring_models (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant()
                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    name       text        NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    rules      jsonb       NOT NULL,
    is_active  boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE UNIQUE INDEX scoring_models_one_active ON crm.scoring_models (tenant_id) WHERE is_active;
COMMENT ON TABLE crm.scoring_models IS 'Lead scoring models of a tenant: rules validated when saved; exactly one is active. Everyone reads them; admins change them.';
COMMENT ON COLUMN crm.scoring_models.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.scoring_models.id IS 'The model''s id (uuid_v7).';
COMMENT ON COLUMN crm.scoring_models.name IS 'Model name, unique in the tenant.';
COMMENT ON COLUMN crm.scoring_models.rules IS 'The rules (see crm.validate_scoring_rules): fit rules with points per value, range or set; engagement rules with points per activity of a type and outcome, halved every half_life_days; group caps; a total cap of at most 100. Invalid rules are refused with 22023 and the JSON path of the bad element.';
COMMENT ON COLUMN crm.scoring_models.is_active IS 'The model crm.lead_score uses; activating one deactivates the other.';
COMMENT ON COLUMN crm.scoring_models.created_at IS 'When the model was created.';
COMMENT ON COLUMN crm.scoring_models.updated_at IS 'When the model was last changed.';
COMMENT ON INDEX crm.scoring_models_one_active IS 'One active model per tenant.';

-- The fields rules may score, and their kind.
CREATE FUNCTION crm.scoring_field_kind(field text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE field
        WHEN 'employee_count' THEN 'number' WHEN 'annual_revenue' THEN 'number' WHEN 'budget' THEN 'number'
        WHEN 'industry' THEN 'text' WHEN 'country' THEN 'text' WHEN 'title' THEN 'text' WHEN 'company' THEN 'text'
        WHEN 'source' THEN 'text' WHEN 'purchase_timeline' THEN 'text'
        WHEN 'is_decision_maker' THEN 'boolean' END
$$;
COMMENT ON FUNCTION crm.scoring_field_kind(text) IS 'The lead fields a scoring rule may use and their kind (number, text, boolean); NULL for any other.';

-- The limits of the engine (src/crm.h), read by the validator below: a model accepted at save is one
-- the engine accepts when it scores.
CREATE FUNCTION crm.scoring_limits() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'crm_scoring_limits'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.scoring_limits() IS 'The limits of the scoring engine (src/crm.h), which crm.validate_scoring_rules enforces at save: {"rules": at most 64 fit and engagement rules together, "values_per_rule": at most 1000 ranges, "in" values or "values" entries per rule, "points": points from 0 to 100, "half_life_days": at most 3650, "engagement_times": the times kept per activity type and outcome in crm.leads.engagement (50)}.';
REVOKE EXECUTE ON FUNCTION crm.scoring_limits() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.scoring_limits() TO crm_rep;

CREATE FUNCTION crm.validate_scoring_rules(rules jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    r jsonb;
    i integer := 0;
    j integer;
    k text;
    v jsonb;
    path text;
    kind text;
    names text[] := '{}';
    groups text[] := '{}';
    forms integer;
    limits jsonb := crm.scoring_limits();
    max_rules integer := (limits->>'rules')::integer;
    max_values integer := (limits->>'values_per_rule')::integer;
    nfit integer;
    n integer;
BEGIN
    IF jsonb_typeof(rules) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'invalid scoring rules at $: a JSON object is expected' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT jsonb_object_keys(rules) LOOP
        IF k NOT IN ('fit', 'engagement', 'caps', 'total_cap') THEN
            RAISE EXCEPTION 'invalid scoring rules at $.%: unknown key', k USING ERRCODE = '22023',
                HINT = 'A model has fit, engagement, caps and total_cap.';
        END IF;
    END LOOP;
    FOR k IN SELECT unnest(ARRAY['fit', 'engagement']) LOOP
        IF rules ? k AND jsonb_typeof(rules->k) <> 'array' THEN
            RAISE EXCEPTION 'invalid scoring rules at $.%: an array of rules is expected', k USING ERRCODE = '22023';
        END IF;
    END LOOP;
    nfit := coalesce(jsonb_array_length(rules->'fit'), 0);
    n := nfit + coalesce(jsonb_array_length(rules->'engagement'), 0);
    IF n = 0 THEN
        RAISE EXCEPTION 'invalid scoring rules at $.fit: a model has at least one fit or engagement rule' USING ERRCODE = '22023';
    END IF;
    -- before anything reads the rules one by one (what follows is then bounded by the limit)
    IF n > max_rules THEN
        RAISE EXCEPTION 'invalid scoring rules at %: a model has at most % rules, fit and engagement together (this one has %)',
            CASE WHEN nfit > max_rules THEN format('$.fit[%s]', max_rules) ELSE format('$.engagement[%s]', max_rules - nfit) END,
            max_rules, n USING ERRCODE = '22023';
    END IF;
    FOR r IN SELECT value FROM jsonb_array_elements(coalesce(rules->'fit', '[]')) LOOP
        path := format('$.fit[%s]', i);
        IF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'invalid scoring rules at %: a rule is a JSON object', path USING ERRCODE = '22023';
        END IF;
        FOR k IN SELECT jsonb_object_keys(r) LOOP
            IF k NOT IN ('name', 'field', 'reason', 'group', 'ranges', 'in', 'points', 'else', 'values', 'equals') THEN
                RAISE EXCEPTION 'invalid scoring rules at %.%: unknown key', path, k USING ERRCODE = '22023';
            END IF;
        END LOOP;
        IF jsonb_typeof(r->'name') IS DISTINCT FROM 'string' OR (r->>'name') !~ '^[a-z][a-z0-9_]*$' THEN
            RAISE EXCEPTION 'invalid scoring rules at %.name: a lowercase identifier is expected', path USING ERRCODE = '22023';
        END IF;
        IF (r->>'name') = ANY (names) THEN
            RAISE EXCEPTION 'invalid scoring rules at %.name: "%" is used twice', path, r->>'name' USING ERRCODE = '22023';
        END IF;
        names := names || (r->>'name');
        groups := groups || coalesce(r->>'group', r->>'name');
        IF r ? 'group' AND (jsonb_typeof(r->'group') <> 'string' OR (r->>'group') !~ '^[a-z][a-z0-9_]*$') THEN
            RAISE EXCEPTION 'invalid scoring rules at %.group: a lowercase identifier is expected', path USING ERRCODE = '22023';
        END IF;
        IF r ? 'reason' AND jsonb_typeof(r->'reason') <> 'string' THEN
            RAISE EXCEPTION 'invalid scoring rules at %.reason: a string is expected', path USING ERRCODE = '22023';
        END IF;
        kind := crm.scoring_field_kind(r->>'field');
        IF kind IS NULL THEN
            RAISE EXCEPTION 'invalid scoring rules at %.field: % is not a field rules can score', path, coalesce(r->'field', 'null'::jsonb)
                USING ERRCODE = '22023',
                      HINT = 'Fields: employee_count, annual_revenue, budget, industry, country, title, company, source, purchase_timeline, is_decision_maker.';
        END IF;
        forms := (r ? 'ranges')::int + (r ? 'in')::int + (r ? 'values')::int + (r ? 'equals')::int;
        IF forms <> 1 THEN
            RAISE EXCEPTION 'invalid scoring rules at %: a rule has exactly one of ranges, in, values, equals', path USING ERRCODE = '22023';
        END IF;
        IF r ? 'ranges' THEN
            IF kind <> 'number' THEN
                RAISE EXCEPTION 'invalid scoring rules at %.ranges: ranges apply to numeric fields', path USING ERRCODE = '22023';
            END IF;
            IF jsonb_typeof(r->'ranges') <> 'array' OR jsonb_array_length(r->'ranges') = 0 THEN
                RAISE EXCEPTION 'invalid scoring rules at %.ranges: a non-empty array is expected', path USING ERRCODE = '22023';
            END IF;
            IF jsonb_array_length(r->'ranges') > max_values THEN
                RAISE EXCEPTION 'invalid scoring rules at %.ranges[%]: a rule has at most % ranges', path, max_values, max_values
                    USING ERRCODE = '22023';
            END IF;
            j := 0;
            FOR v IN SELECT value FROM jsonb_array_elements(r->'ranges') LOOP
                IF jsonb_typeof(v) <> 'object' THEN
                    RAISE EXCEPTION 'invalid scoring rules at %.ranges[%]: a JSON object is expected', path, j USING ERRCODE = '22023';
                END IF;
                FOR k IN SELECT jsonb_object_keys(v) LOOP
                    IF k NOT IN ('min', 'above', 'max', 'below', 'points') THEN
                        RAISE EXCEPTION 'invalid scoring rules at %.ranges[%].%: unknown key', path, j, k USING ERRCODE = '22023';
                    END IF;
                    IF jsonb_typeof(v->k) <> 'number' THEN
                        RAISE EXCEPTION 'invalid scoring rules at %.ranges[%].%: a number is expected', path, j, k USING ERRCODE = '22023';
                    END IF;
                END LOOP;
                IF NOT v ? 'points' THEN
                    RAISE EXCEPTION 'invalid scoring rules at %.ranges[%].points: missing', path, j USING ERRCODE = '22023';
                END IF;
                PERFORM crm.check_points(v->'points', format('%s.ranges[%s].points', path, j));
                IF v ? 'min' AND v ? 'above' OR v ? 'max' AND v ? 'below' THEN
                    RAISE EXCEPTION 'invalid scoring rules at %.ranges[%]: at most one lower and one upper bound', path, j USING ERRCODE = '22023';
                END IF;
                j := j + 1;
            END LOOP;
        ELSIF r ? 'in' THEN
            IF kind <> 'text' THEN
                RAISE EXCEPTION 'invalid scoring rules at %.in: sets apply to text fields', path USING ERRCODE = '22023';
            END IF;
            IF jsonb_typeof(r->'in') <> 'array' OR jsonb_array_length(r->'in') = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(r->'in') e WHERE jsonb_typeof(e) <> 'string') THEN
                RAISE EXCEPTION 'invalid scoring rules at %.in: a non-empty array of strings is expected', path USING ERRCODE = '22023';
            END IF;
            IF jsonb_array_length(r->'in') > max_values THEN
                RAISE EXCEPTION 'invalid scoring rules at %.in[%]: a rule has at most % values', path, max_values, max_values
                    USING ERRCODE = '22023';
            END IF;
            PERFORM crm.check_points(r->'points', path || '.points');
            j := 0;
            FOR v IN SELECT value FROM jsonb_array_elements(r->'in') LOOP
                PERFORM crm.check_enum_label(r->>'field', v #>> '{}', format('%s.in[%s]', path, j));
                j := j + 1;
            END LOOP;
            IF r ? 'else' THEN
                PERFORM crm.check_points(r->'else', path || '.else');
            END IF;
        ELSIF r ? 'values' THEN
            IF kind <> 'text' THEN
                RAISE EXCEPTION 'invalid scoring rules at %.values: values apply to text fields', path USING ERRCODE = '22023';
            END IF;
            IF jsonb_typeof(r->'values') <> 'object' THEN
                RAISE EXCEPTION 'invalid scoring rules at %.values: an object of value -> points is expected', path USING ERRCODE = '22023';
            END IF;
            j := 0;
            -- (each entry with its value in one pass: r->'values'->k per key would copy the object per key)
            FOR k, v IN SELECT e.key, e.value FROM jsonb_each(r->'values') e LOOP
                IF j = max_values THEN
                    RAISE EXCEPTION 'invalid scoring rules at %.values.%: a rule has at most % values', path, k, max_values
                        USING ERRCODE = '22023';
                END IF;
                PERFORM crm.check_points(v, format('%s.values.%s', path, k));
                PERFORM crm.check_enum_label(r->>'field', k, format('%s.values.%s', path, k));
                j := j + 1;
            END LOOP;
            IF r ? 'points' OR r ? 'else' THEN
                RAISE EXCEPTION 'invalid scoring rules at %: a values rule takes its points from values', path USING ERRCODE = '22023';
            END IF;
        ELSE
            IF kind <> 'boolean' OR jsonb_typeof(r->'equals') <> 'boolean' THEN
                RAISE EXCEPTION 'invalid scoring rules at %.equals: equals applies to a boolean field, with true or false', path USING ERRCODE = '22023';
            END IF;
            PERFORM crm.check_points(r->'points', path || '.points');
        END IF;
        i := i + 1;
    END LOOP;
    i := 0;
    FOR r IN SELECT value FROM jsonb_array_elements(coalesce(rules->'engagement', '[]')) LOOP
        path := format('$.engagement[%s]', i);
        IF jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'invalid scoring rules at %: a rule is a JSON object', path USING ERRCODE = '22023';
        END IF;
        FOR k IN SELECT jsonb_object_keys(r) LOOP
            IF k NOT IN ('name', 'reason', 'group', 'type', 'outcome', 'points', 'half_life_days') THEN
                RAISE EXCEPTION 'invalid scoring rules at %.%: unknown key', path, k USING ERRCODE = '22023',
                    HINT = 'An engagement rule has name, type, outcome (optional), points, half_life_days, group and reason (optional).';
            END IF;
        END LOOP;
        IF jsonb_typeof(r->'name') IS DISTINCT FROM 'string' OR (r->>'name') !~ '^[a-z][a-z0-9_]*$' THEN
            RAISE EXCEPTION 'invalid scoring rules at %.name: a lowercase identifier is expected', path USING ERRCODE = '22023';
        END IF;
        IF (r->>'name') = ANY (names) THEN
            RAISE EXCEPTION 'invalid scoring rules at %.name: "%" is used twice', path, r->>'name' USING ERRCODE = '22023';
        END IF;
        names := names || (r->>'name');
        IF r ? 'group' AND (jsonb_typeof(r->'group') <> 'string' OR (r->>'group') !~ '^[a-z][a-z0-9_]*$') THEN
            RAISE EXCEPTION 'invalid scoring rules at %.group: a lowercase identifier is expected', path USING ERRCODE = '22023';
        END IF;
        groups := groups || coalesce(r->>'group', 'engagement');
        IF r ? 'reason' AND jsonb_typeof(r->'reason') <> 'string' THEN
            RAISE EXCEPTION 'invalid scoring rules at %.reason: a string is expected', path USING ERRCODE = '22023';
        END IF;
        IF jsonb_typeof(r->'type') IS DISTINCT FROM 'string' OR NOT (r->>'type') = ANY (enum_range(NULL::crm.activity_type)::text[]) THEN
            RAISE EXCEPTION 'invalid scoring rules at %.type: % is not an activity type', path, coalesce(r->'type', 'null'::jsonb)
                USING ERRCODE = '22023', HINT = 'Activity types: call, email, meeting, note, sms, chat.';
        END IF;
        IF r ? 'outcome' AND (jsonb_typeof(r->'outcome') <> 'string' OR (r->>'outcome') !~ '^[a-z][a-z0-9_]*$') THEN
            RAISE EXCEPTION 'invalid scoring rules at %.outcome: an outcome is a lowercase word (connected, replied, held, ...)', path
                USING ERRCODE = '22023';
        END IF;
        PERFORM crm.check_points(r->'points', path || '.points');
        IF jsonb_typeof(r->'half_life_days') IS DISTINCT FROM 'number' OR (r->>'half_life_days')::numeric <= 0
           OR (r->>'half_life_days')::numeric > (limits->>'half_life_days')::numeric THEN
            RAISE EXCEPTION 'invalid scoring rules at %.half_life_days: a number of days above 0 and at most % is expected', path,
                limits->>'half_life_days' USING ERRCODE = '22023';
        END IF;
        i := i + 1;
    END LOOP;
    IF rules ? 'caps' THEN
        IF jsonb_typeof(rules->'caps') <> 'object' THEN
            RAISE EXCEPTION 'invalid scoring rules at $.caps: an object of group -> cap is expected' USING ERRCODE = '22023';
        END IF;
        FOR k IN SELECT jsonb_object_keys(rules->'caps') LOOP
            IF NOT k = ANY (groups) THEN
                RAISE EXCEPTION 'invalid scoring rules at $.caps.%: no rule is in group "%"', k, k USING ERRCODE = '22023';
            END IF;
            PERFORM crm.check_points(rules->'caps'->k, '$.caps.' || k);
        END LOOP;
    END IF;
    IF rules ? 'total_cap' THEN
        PERFORM crm.check_points(rules->'total_cap', '$.total_cap');
    END IF;
    RETURN rules;
END
$$;
COMMENT ON FUNCTION crm.validate_scoring_rules(jsonb) IS 'Checks a scoring model''s rules and returns them; anything wrong raises 22023 naming the JSON path of the bad element, e.g. $.fit[2].ranges[0].points, and so does anything beyond the engine''s limits (crm.scoring_limits(): more than 64 rules, as $.fit[64] or $.engagement[n]; more than 1000 ranges or values in a rule, as $.fit[0].in[1000]). One pass over the document.';

CREATE FUNCTION crm.check_points(points jsonb, path text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
    IF jsonb_typeof(points) IS DISTINCT FROM 'number' OR (points #>> '{}') !~ '^\d+$'
       OR (points #>> '{}')::numeric > (crm.scoring_limits()->>'points')::numeric THEN
        RAISE EXCEPTION 'invalid scoring rules at %: a whole number of points from 0 to % is expected', path,
            crm.scoring_limits()->>'points' USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_points(jsonb, text) IS 'Raises 22023 naming path unless points is a whole number from 0 to 100 (used by crm.validate_scoring_rules).';

CREATE FUNCTION crm.check_enum_label(field text, label text, path text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
    IF field = 'source' AND NOT label = ANY (enum_range(NULL::crm.lead_source)::text[])
       OR field = 'purchase_timeline' AND NOT label = ANY (enum_range(NULL::crm.purchase_timeline)::text[]) THEN
        RAISE EXCEPTION 'invalid scoring rules at %: "%" is not a value of %', path, label, field USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_enum_label(text, text, text) IS 'Raises 22023 naming path when label is not a value of the enumerated lead field (source, purchase_timeline); used by crm.validate_scoring_rules.';

-- The classic five-part fit score every tenant starts with.
CREATE FUNCTION crm.default_scoring_rules() RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT '{
      "fit": [
        {"name": "company_size", "field": "employee_count", "reason": "company size",
         "ranges": [{"min": 1000, "points": 25}, {"min": 200, "below": 1000, "points": 20}, {"min": 50, "below": 200, "points": 15},
                    {"min": 10, "below": 50, "points": 8}, {"min": 1, "below": 10, "points": 3}]},
        {"name": "industry", "field": "industry", "reason": "target industry",
         "in": ["software", "technology", "financial_services", "healthcare", "manufacturing"], "points": 15, "else": 5},
        {"name": "budget", "field": "budget", "reason": "budget",
         "ranges": [{"min": 100000, "points": 20}, {"min": 25000, "below": 100000, "points": 15}, {"min": 5000, "below": 25000, "points": 8},
                    {"above": 0, "below": 5000, "points": 3}]},
        {"name": "timeline", "field": "purchase_timeline", "reason": "buying soon",
         "values": {"immediate": 15, "this_quarter": 12, "next_quarter": 8, "this_year": 4, "unknown": 0}},
        {"name": "decision_maker", "field": "is_decision_maker", "reason": "decision maker", "equals": true, "points": 25}
      ],
      "total_cap": 100
    }'::jsonb
$$;
COMMENT ON FUNCTION crm.default_scoring_rules() IS 'The default model: company size (up to 25), target industry (15, other known 5), budget (up to 20), purchase timeline (up to 15), decision maker (25).';

CREATE FUNCTION crm.scoring_models_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.rules := crm.validate_scoring_rules(NEW.rules);
    IF NEW.is_active AND (TG_OP = 'INSERT' OR NOT OLD.is_active) THEN
        UPDATE crm.scoring_models SET is_active = false WHERE tenant_id = NEW.tenant_id AND is_active AND id <> NEW.id;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.scoring_models_before_write() IS 'Trigger: validates a model''s rules; activating a model deactivates the tenant''s other one.';
CREATE TRIGGER b20_scoring_models_before_write BEFORE INSERT OR UPDATE OF rules, is_active ON crm.scoring_models
    FOR EACH ROW EXECUTE FUNCTION crm.scoring_models_before_write();
COMMENT ON TRIGGER b20_scoring_models_before_write ON crm.scoring_models IS 'src/scoring.sql: validates the rules (22023 with the JSON path); activating a model deactivates the tenant''s other one.';
CREATE FUNCTION crm.scoring_models_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'crm_scoring_models_changed'
    LANGUAGE C;
COMMENT ON FUNCTION crm.scoring_models_changed() IS 'Statement trigger: announces a change of scoring models (a relcache invalidation of crm.scoring_models), so that no query or trigger scores with a model parsed before it.';
CREATE TRIGGER scoring_models_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.scoring_models
    FOR EACH STATEMENT EXECUTE FUNCTION crm.scoring_models_changed();
COMMENT ON TRIGGER scoring_models_changed ON crm.scoring_models IS 'src/scoring.sql: tells every backend that the models changed (their parsed models are dropped).';
ALTER TABLE crm.scoring_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.scoring_models FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.scoring_models', '');
SELECT crm.secure_table('crm.scoring_models', 'config');

CREATE FUNCTION crm.create_default_scoring_model(tenant uuid) RETURNS void
    SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO crm.scoring_models (tenant_id, name, rules, is_active) VALUES (tenant, 'Default fit', crm.default_scoring_rules(), true);
END
$$;
COMMENT ON FUNCTION crm.create_default_scoring_model(uuid) IS 'Gives a new tenant the default scoring model, active. Called by crm.create_tenant only (executable by no one else).';

-- The engine (src/scoring.c): the points of each rule of the tenant's active model, in rule order.
CREATE FUNCTION crm.lead_score_parts(lead crm.leads) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'crm_lead_score_parts'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.lead_score_parts(crm.leads) IS 'The points each rule of the tenant''s active model gives the lead, fit rules then engagement rules in their order, before caps (crm.explain_lead_score shows them with names).';

CREATE FUNCTION crm.lead_score_fields(tenant_id uuid, employee_count integer, annual_revenue numeric, budget numeric,
                                      industry text, country character, title text, company text, source crm.lead_source,
                                      purchase_timeline crm.purchase_timeline, is_decision_maker boolean, engagement jsonb)
    RETURNS integer
    AS 'MODULE_PATHNAME', 'crm_lead_score_fields'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.lead_score_fields(uuid, integer, numeric, numeric, text, character, text, text, crm.lead_source, crm.purchase_timeline, boolean, jsonb) IS 'crm.lead_score from a lead''s scored columns: the planner calls it in place of crm.lead_score(l) for rows of crm.leads, so that scoring a table never builds whole rows.';

CREATE FUNCTION crm.lead_score_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'crm_lead_score_support'
    LANGUAGE C STRICT;
COMMENT ON FUNCTION crm.lead_score_support(internal) IS 'Planner support of crm.lead_score: rewrites crm.lead_score(l) on a row of crm.leads into crm.lead_score_fields(l.tenant_id, l.employee_count, ...).';

CREATE FUNCTION crm.lead_score(lead crm.leads) RETURNS integer
    AS 'MODULE_PATHNAME', 'crm_lead_score'
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    SUPPORT crm.lead_score_support;
COMMENT ON FUNCTION crm.lead_score(crm.leads) IS 'The lead''s score, 0 to 100, by its tenant''s active scoring model (group caps and the total cap applied); NULL when the tenant has no active model. The model is read and parsed once per query.';

CREATE FUNCTION crm.lead_grade(score integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN score IS NULL THEN NULL WHEN score >= 80 THEN 'A' WHEN score >= 60 THEN 'B' WHEN score >= 40 THEN 'C' ELSE 'D' END
$$;
COMMENT ON FUNCTION crm.lead_grade(integer) IS 'A score''s grade: A from 80, B from 60, C from 40, else D.';

CREATE FUNCTION crm.explain_lead_score(lead crm.leads) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    m jsonb := (SELECT s.rules FROM crm.scoring_models s WHERE s.tenant_id = lead.tenant_id AND s.is_active);
    parts integer[] := crm.lead_score_parts(lead);
    score integer := crm.lead_score(lead);
    rules_ jsonb := '[]';
    groups jsonb := '{}';
    reasons jsonb;
BEGIN
    IF m IS NULL THEN
        RETURN jsonb_build_object('score', NULL, 'reason', 'the tenant has no active scoring model');
    END IF;
    -- the rules in the engine's order (fit, then engagement), each with what it saw and gave
    WITH r AS (
        SELECT x.ord, x.value AS rule, x.kind, parts[x.ord] AS points,
               coalesce(x.value->>'group', CASE x.kind WHEN 'fit' THEN x.value->>'name' ELSE 'engagement' END) AS grp
          FROM (SELECT f.value, f.ord, 'fit' AS kind FROM jsonb_array_elements(coalesce(m->'fit', '[]')) WITH ORDINALITY f(value, ord)
                UNION ALL
                SELECT e.value, jsonb_array_length(coalesce(m->'fit', '[]')) + e.ord, 'engagement'
                  FROM jsonb_array_elements(coalesce(m->'engagement', '[]')) WITH ORDINALITY e(value, ord)) x)
    SELECT jsonb_agg(CASE r.kind
                     WHEN 'fit' THEN jsonb_build_object('rule', r.rule->>'name', 'group', r.grp, 'field', r.rule->>'field',
                                                        'value', to_jsonb(lead)->(r.rule->>'field'), 'points', r.points)
                     ELSE jsonb_build_object('rule', r.rule->>'name', 'group', r.grp, 'activity', r.rule->>'type',
                                             'outcome', r.rule->>'outcome', 'half_life_days', r.rule->'half_life_days',
                                             'activities', (SELECT coalesce(sum(jsonb_array_length(o.value)), 0)
                                                              FROM jsonb_each(coalesce(lead.engagement->(r.rule->>'type'), '{}')) o
                                                             WHERE r.rule->>'outcome' IS NULL OR o.key = r.rule->>'outcome'),
                                             'points', r.points) END ORDER BY r.ord),
           (SELECT jsonb_object_agg(g.grp, CASE WHEN m->'caps' ? g.grp THEN least(g.total, (m->'caps'->>g.grp)::int) ELSE g.total END)
              FROM (SELECT r2.grp, sum(r2.points)::int AS total FROM r r2 GROUP BY r2.grp) g),
           (SELECT coalesce(jsonb_agg(t.reason ORDER BY t.points DESC, t.ord), '[]')
              FROM (SELECT coalesce(r3.rule->>'reason', r3.rule->>'name') || ' (+' || r3.points || ')' AS reason, r3.points, r3.ord
                      FROM r r3 WHERE r3.points > 0 ORDER BY r3.points DESC, r3.ord LIMIT 3) t)
      INTO rules_, groups, reasons
      FROM r;
    RETURN jsonb_build_object('score', score, 'grade', crm.lead_grade(score), 'rules', rules_, 'groups', groups,
                              'top_reasons', reasons);
END
$$;
COMMENT ON FUNCTION crm.explain_lead_score(crm.leads) IS 'Why a lead scores what it does: {score, grade, rules: [{rule, group, field, value, points} for a fit rule, {rule, group, activity, outcome, half_life_days, activities, points} for an engagement rule], groups: {group: points after its cap}, top_reasons: ["decision maker (+25)", ...]} (the three rules that gave most).';

CREATE VIEW crm_api.scoring_models WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, rules, is_active, created_at, updated_at FROM crm.scoring_models;
COMMENT ON VIEW crm_api.scoring_models IS 'The tenant''s lead scoring models; admins change them (rules are validated: 400 with the JSON path of the bad element).';
GRANT SELECT ON crm_api.scoring_models TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.scoring_models TO crm_admin;

-- The lead of the caller's tenant with this id, if the caller reads it; PT404 otherwise. What the
-- scoring RPCs, which take an id, start from.
CREATE FUNCTION crm.visible_lead(lead_id uuid) RETURNS crm.leads
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l crm.leads;
BEGIN
    SELECT x.* INTO l FROM crm.leads x WHERE x.tenant_id = crm.current_tenant() AND x.id = visible_lead.lead_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('lead', lead_id);
    END IF;
    RETURN l;
END
$$;
COMMENT ON FUNCTION crm.visible_lead(uuid) IS 'The lead with this id in the caller''s tenant, as the caller reads it; PT404 when it does not exist or is not visible.';

CREATE FUNCTION crm_api.explain_lead_score(lead_id uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.explain_lead_score(crm.visible_lead(lead_id))
$$;
COMMENT ON FUNCTION crm_api.explain_lead_score(uuid) IS 'Why a lead scores what it does (GET /rpc/explain_lead_score?lead_id=...): score, grade, each rule''s points, group totals and the top reasons in words. 404 when the lead is not visible.';
REVOKE EXECUTE ON FUNCTION crm_api.explain_lead_score(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.explain_lead_score(uuid) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.lead_grade(integer),
    crm.lead_score_fields(uuid,integer,numeric,numeric,text,character,text,text,crm.lead_source,crm.purchase_timeline,boolean,jsonb),
    crm.scoring_field_kind(text), crm.validate_scoring_rules(jsonb), crm.check_points(jsonb,text),
    crm.check_enum_label(text,text,text), crm.default_scoring_rules(), crm.scoring_models_before_write(),
    crm.scoring_models_changed(), crm.create_default_scoring_model(uuid), crm.lead_score_parts(crm.leads),
    crm.lead_score_support(internal), crm.lead_score(crm.leads), crm.explain_lead_score(crm.leads),
    crm.visible_lead(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.lead_grade(integer),
    crm.lead_score_fields(uuid,integer,numeric,numeric,text,character,text,text,crm.lead_source,crm.purchase_timeline,boolean,jsonb),
    crm.scoring_field_kind(text), crm.validate_scoring_rules(jsonb), crm.check_points(jsonb,text),
    crm.check_enum_label(text,text,text), crm.default_scoring_rules(), crm.lead_score_parts(crm.leads),
    crm.lead_score(crm.leads), crm.explain_lead_score(crm.leads), crm.visible_lead(uuid) TO crm_rep;
