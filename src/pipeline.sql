-- pipeline.sql: pipeline analytics. crm.pipeline_totals is an aggregate in C (src/pipeline.c) that
-- takes opportunities in one pass and yields per stage the deals, their amount, their weighted amount
-- (exact to the cent) and their mean days in the stage; crm.pipeline_summary lays it over a pipeline's
-- stages; crm.sales_metrics measures conversion, win rate, deal size, cycle length and velocity.

CREATE TYPE crm.stage_totals AS (
    stage_id          uuid,
    deal_count        bigint,
    amount            numeric,
    weighted_amount   numeric,
    avg_days_in_stage numeric
);
COMMENT ON TYPE crm.stage_totals IS 'One stage''s totals from crm.pipeline_totals: deals, amount, weighted amount (amount x probability / 100, exact) and the mean days its deals have spent in it (to now(), one decimal; NULL when no deal had an entry time).';

CREATE FUNCTION crm.pipeline_totals_add(state bytea, stage_id uuid, amount numeric, probability integer, entered_at timestamptz)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'crm_pipeline_totals_add'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.pipeline_totals_add(bytea, uuid, numeric, integer, timestamptz) IS 'Transition function of crm.pipeline_totals (aggregates only): adds an opportunity to its stage''s totals. A probability off 0-100, a NaN or infinite amount, or fractions of a cent: 22023.';

CREATE FUNCTION crm.pipeline_totals_merge(state bytea, other bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'crm_pipeline_totals_merge'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.pipeline_totals_merge(bytea, bytea) IS 'Combine function of crm.pipeline_totals (aggregates only): the sum of two partial states, either of which may be empty (NULL).';

CREATE FUNCTION crm.pipeline_totals_result(state bytea) RETURNS crm.stage_totals[]
    AS 'MODULE_PATHNAME', 'crm_pipeline_totals_result'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.pipeline_totals_result(bytea) IS 'Final function of crm.pipeline_totals: the stages'' totals ordered by stage id, an empty array for no rows. STABLE: the days in stage count to now(). A malformed state: 22P03.';

CREATE AGGREGATE crm.pipeline_totals(stage_id uuid, amount numeric, probability integer, entered_at timestamptz) (
    SFUNC = crm.pipeline_totals_add,
    STYPE = bytea,
    COMBINEFUNC = crm.pipeline_totals_merge,
    FINALFUNC = crm.pipeline_totals_result,
    PARALLEL = SAFE
);
-- The support functions change or trust their bytea state: only the aggregate (whose owner may call
-- them) uses them; nobody builds an aggregate of their own around them.
REVOKE EXECUTE ON FUNCTION crm.pipeline_totals_add(bytea, uuid, numeric, integer, timestamptz),
                           crm.pipeline_totals_merge(bytea, bytea), crm.pipeline_totals_result(bytea) FROM PUBLIC;
COMMENT ON AGGREGATE crm.pipeline_totals(uuid, numeric, integer, timestamptz) IS 'Per stage, in one pass: the count of deals, their amount and weighted amount (amount x probability / 100), exact to the cent for any mix of amounts, and the mean days since they entered the stage. Rows without a stage are skipped; NULL amounts count as deals with no amount; NULL or infinite entry times leave a deal out of the mean days. Parallel safe, with a combine function and a bytea state (so Citus pushes it down). Use: SELECT * FROM unnest((SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities)).';

-- The tenant's pipeline by id, or its default one; PT404 when there is none or it is not the tenant's.
CREATE FUNCTION crm.pipeline_or_default(pipeline_id uuid) RETURNS uuid
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p uuid;
BEGIN
    SELECT x.id INTO p FROM crm.pipelines x
     WHERE x.tenant_id = crm.current_tenant()
       AND CASE WHEN pipeline_or_default.pipeline_id IS NULL THEN x.is_default ELSE x.id = pipeline_or_default.pipeline_id END;
    IF p IS NULL THEN
        IF pipeline_id IS NULL THEN
            RAISE EXCEPTION 'the tenant has no default pipeline' USING ERRCODE = 'PT404',
                HINT = 'Pass a pipeline_id, or mark a pipeline as the default (pipelines.is_default).';
        END IF;
        PERFORM crm.not_found('pipeline', pipeline_id);
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION crm.pipeline_or_default(uuid) IS 'The caller''s pipeline with this id, or the tenant''s default pipeline when NULL; PT404 when there is none.';

-- PT404 unless the user (or team) exists in the caller's tenant; NULL passes.
CREATE FUNCTION crm.check_user_and_team(user_id uuid, team_id uuid DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM crm.users u WHERE u.tenant_id = crm.current_tenant() AND u.id = check_user_and_team.user_id) THEN
        PERFORM crm.not_found('user', user_id);
    END IF;
    IF team_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM crm.teams g WHERE g.tenant_id = crm.current_tenant() AND g.id = check_user_and_team.team_id) THEN
        PERFORM crm.not_found('team', team_id);
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_user_and_team(uuid, uuid) IS 'Raises PT404 when a given user or team is not one of the caller''s tenant; NULLs pass.';

-- 22023 unless from_date and to_date are days in order (the periods of the analytics functions).
CREATE FUNCTION crm.check_period(from_date date, to_date date) RETURNS void
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF from_date IS NULL OR to_date IS NULL OR from_date > to_date THEN
        RAISE EXCEPTION 'from_date and to_date must be days with from_date <= to_date, not % and %',
            coalesce(from_date::text, 'NULL'), coalesce(to_date::text, 'NULL') USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_period(date, date) IS 'Raises 22023 unless from_date and to_date are both given and from_date <= to_date.';

CREATE FUNCTION crm.pipeline_summary(pipeline_id uuid DEFAULT NULL, owner_id uuid DEFAULT NULL)
    RETURNS TABLE (stage text, "position" integer, deal_count bigint, amount numeric, weighted_amount numeric,
                   probability numeric, avg_days_in_stage numeric)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p uuid := crm.pipeline_or_default(pipeline_id);
    t uuid := crm.current_tenant();
BEGIN
    PERFORM crm.check_user_and_team(owner_id);
    RETURN QUERY
    WITH totals AS (
        SELECT x.* FROM unnest((SELECT crm.pipeline_totals(o.stage_id, o.amount, o.probability, o.stage_changed_at)
                                  FROM crm.opportunities o
                                 WHERE o.tenant_id = t AND o.pipeline_id = p
                                   AND (pipeline_summary.owner_id IS NULL OR o.owner_id = pipeline_summary.owner_id))) x)
    SELECT s.name, s.position, coalesce(x.deal_count, 0), coalesce(x.amount, 0.00), coalesce(x.weighted_amount, 0.00),
           s.probability::numeric,
           CASE WHEN NOT (s.is_won OR s.is_lost) THEN x.avg_days_in_stage END
      FROM crm.pipeline_stages s
      LEFT JOIN totals x ON x.stage_id = s.id
     WHERE s.tenant_id = t AND s.pipeline_id = p
     ORDER BY s.position;
END
$$;
COMMENT ON FUNCTION crm.pipeline_summary(uuid, uuid) IS 'A pipeline (the tenant''s default one when NULL) stage by stage, in order, empty stages included: deals, amount, weighted amount (amount x probability / 100, exact), the stage''s probability and the mean days the open deals have spent in it (NULL for won and lost stages). Only the opportunities the caller reads, of one owner when given. One pass (crm.pipeline_totals). PT404 for an unknown pipeline or owner.';

-- Metrics of the deals and leads the caller reads (RLS applies: the function runs as its caller),
-- narrowed to one owner or one team's members.
CREATE FUNCTION crm.sales_metrics(from_date date, to_date date, owner_id uuid DEFAULT NULL, team_id uuid DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
    lo timestamptz;
    hi timestamptz;
    deals jsonb;
    leads jsonb;
    stages jsonb;
    win_rate numeric;
    velocity numeric;
BEGIN
    PERFORM crm.check_period(from_date, to_date);
    PERFORM crm.check_user_and_team(owner_id, team_id);
    lo := from_date::timestamptz;            -- the days are those of the session's time zone
    hi := (to_date + 1)::timestamptz;

    -- deals closed in the period, and open ones now
    SELECT jsonb_build_object(
               'won_deals', count(*) FILTER (WHERE s.is_won AND o.closed_at >= lo AND o.closed_at < hi),
               'lost_deals', count(*) FILTER (WHERE s.is_lost AND o.closed_at >= lo AND o.closed_at < hi),
               'won_amount', coalesce(sum(o.amount) FILTER (WHERE s.is_won AND o.closed_at >= lo AND o.closed_at < hi), 0),
               'average_deal_size', round(avg(o.amount) FILTER (WHERE s.is_won AND o.closed_at >= lo AND o.closed_at < hi), 2),
               'sales_cycle_days', round(avg(extract(epoch FROM o.closed_at - o.created_at) / 86400)
                                             FILTER (WHERE s.is_won AND o.closed_at >= lo AND o.closed_at < hi), 1),
               'open_deals', count(*) FILTER (WHERE o.closed_at IS NULL),
               'open_amount', coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0))
      INTO deals
      FROM crm.opportunities o
      JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
     WHERE o.tenant_id = t
       AND (sales_metrics.owner_id IS NULL OR o.owner_id = sales_metrics.owner_id)
       AND (sales_metrics.team_id IS NULL OR o.owner_id IN (SELECT u.id FROM crm.users u WHERE u.tenant_id = t AND u.team_id = sales_metrics.team_id))
       AND (o.closed_at IS NULL OR (o.closed_at >= lo AND o.closed_at < hi));
    win_rate := round(100.0 * (deals->>'won_deals')::numeric / nullif((deals->>'won_deals')::numeric + (deals->>'lost_deals')::numeric, 0), 2);
    velocity := round((deals->>'open_deals')::numeric * win_rate / 100 * (deals->>'average_deal_size')::numeric
                      / nullif((deals->>'sales_cycle_days')::numeric, 0), 2);

    -- leads created in the period: how many converted, and how many became customers (their deal won)
    SELECT jsonb_build_object(
               'leads_created', count(*),
               'leads_converted', count(*) FILTER (WHERE l.converted_at IS NOT NULL),
               'lead_conversion_rate', round(100.0 * count(*) FILTER (WHERE l.converted_at IS NOT NULL) / nullif(count(*), 0), 2),
               'lead_to_customer_rate', round(100.0 * count(*) FILTER (WHERE EXISTS (
                                                  SELECT 1 FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
                                                   WHERE o.tenant_id = t AND o.id = l.converted_opportunity_id AND s.is_won))
                                              / nullif(count(*), 0), 2))
      INTO leads
      FROM crm.leads l
     WHERE l.tenant_id = t AND l.created_at >= lo AND l.created_at < hi
       AND (sales_metrics.owner_id IS NULL OR l.owner_id = sales_metrics.owner_id)
       AND (sales_metrics.team_id IS NULL OR l.owner_id IN (SELECT u.id FROM crm.users u WHERE u.tenant_id = t AND u.team_id = sales_metrics.team_id));

    -- stage to stage: of the deals that entered a stage in the period, those that later reached a
    -- further stage of their pipeline that is not a lost one (skipping stages counts as advancing)
    WITH entered AS (
        SELECT DISTINCT ON (h.opportunity_id, h.to_stage_id) h.opportunity_id, h.to_stage_id AS stage_id, h.changed_at, h.id
          FROM crm.opportunity_stage_history h
          JOIN crm.opportunities o ON o.tenant_id = h.tenant_id AND o.id = h.opportunity_id
         WHERE h.tenant_id = t AND h.changed_at >= lo AND h.changed_at < hi
           AND (sales_metrics.owner_id IS NULL OR o.owner_id = sales_metrics.owner_id)
           AND (sales_metrics.team_id IS NULL OR o.owner_id IN (SELECT u.id FROM crm.users u WHERE u.tenant_id = t AND u.team_id = sales_metrics.team_id))
         ORDER BY h.opportunity_id, h.to_stage_id, h.changed_at, h.id),
    per_stage AS (
        SELECT e.stage_id, count(*) AS entered,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM crm.opportunity_stage_history n
                     JOIN crm.pipeline_stages ns ON ns.tenant_id = n.tenant_id AND ns.id = n.to_stage_id
                     JOIN crm.pipeline_stages es ON es.tenant_id = n.tenant_id AND es.id = e.stage_id
                    -- later: a move of the same transaction (the same now()) is later by its id (uuid_v7)
                    WHERE n.tenant_id = t AND n.opportunity_id = e.opportunity_id AND (n.changed_at, n.id) > (e.changed_at, e.id)
                      AND ns.pipeline_id = es.pipeline_id AND ns.position > es.position AND NOT ns.is_lost)) AS advanced
          FROM entered e GROUP BY e.stage_id)
    SELECT coalesce(jsonb_agg(jsonb_build_object('pipeline', p.name, 'stage', s.name, 'entered', coalesce(x.entered, 0),
                                                 'advanced', coalesce(x.advanced, 0),
                                                 'conversion_rate', round(100.0 * x.advanced / nullif(x.entered, 0), 2))
                              ORDER BY p.is_default DESC, p.name, s.position), '[]')
      INTO stages
      FROM crm.pipeline_stages s
      JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
      LEFT JOIN per_stage x ON x.stage_id = s.id
     WHERE s.tenant_id = t AND NOT s.is_won AND NOT s.is_lost;

    RETURN jsonb_build_object('from_date', from_date, 'to_date', to_date, 'owner_id', owner_id, 'team_id', team_id)
           || deals || jsonb_build_object('win_rate', win_rate, 'pipeline_velocity', velocity)
           || leads || jsonb_build_object('stage_conversion', stages);
END
$$;
COMMENT ON FUNCTION crm.sales_metrics(date, date, uuid, uuid) IS 'Sales performance over the days from_date to to_date (the session''s time zone), of the deals and leads the caller reads (of one owner, or of one team''s members, when given): won and lost deals closed in the period, won_amount, win_rate (won / (won + lost), percent), average_deal_size and sales_cycle_days (created to closed) of the won ones, open_deals and open_amount now, pipeline_velocity (open deals x win rate x average deal size / cycle days: revenue per day), leads created, converted and lead_conversion_rate, lead_to_customer_rate (their deal won), and stage_conversion: per open stage, the deals that entered it in the period and the share that went on to a further, not lost, stage. Rates are percentages with 2 decimals; NULL without data. 22023 for missing or reversed dates; PT404 for an unknown owner or team.';

CREATE FUNCTION crm_api.pipeline_summary(pipeline_id uuid DEFAULT NULL, owner_id uuid DEFAULT NULL)
    RETURNS TABLE (stage text, "position" integer, deal_count bigint, amount numeric, weighted_amount numeric,
                   probability numeric, avg_days_in_stage numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM crm.pipeline_summary(pipeline_id, owner_id)
$$;
COMMENT ON FUNCTION crm_api.pipeline_summary(uuid, uuid) IS 'A pipeline stage by stage (GET /rpc/pipeline_summary?pipeline_id=...&owner_id=..., both optional: the default pipeline, every owner): deal_count, amount, weighted_amount, probability, avg_days_in_stage. 404 for an unknown pipeline or owner.';

CREATE FUNCTION crm_api.sales_metrics(from_date date, to_date date, owner_id uuid DEFAULT NULL, team_id uuid DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.sales_metrics(from_date, to_date, owner_id, team_id)
$$;
COMMENT ON FUNCTION crm_api.sales_metrics(date, date, uuid, uuid) IS 'Win rate, deal size, cycle length, velocity, lead conversion and stage-to-stage conversion over a period (GET /rpc/sales_metrics?from_date=2026-01-01&to_date=2026-03-31). 400 for bad dates, 404 for an unknown owner or team.';
REVOKE EXECUTE ON FUNCTION crm_api.pipeline_summary(uuid, uuid), crm_api.sales_metrics(date, date, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.pipeline_summary(uuid, uuid), crm_api.sales_metrics(date, date, uuid, uuid) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.pipeline_totals(uuid,numeric,integer,timestamptz),
    crm.pipeline_or_default(uuid), crm.check_user_and_team(uuid,uuid), crm.check_period(date,date),
    crm.pipeline_summary(uuid,uuid), crm.sales_metrics(date,date,uuid,uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.pipeline_totals(uuid,numeric,integer,timestamptz),
    crm.pipeline_or_default(uuid), crm.check_user_and_team(uuid,uuid), crm.check_period(date,date),
    crm.pipeline_summary(uuid,uuid), crm.sales_metrics(date,date,uuid,uuid) TO crm_rep;
