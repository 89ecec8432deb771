-- forecast.sql: quotas, the forecast by month or quarter (by owner or team), and weekly snapshots of
-- it, so that what was forecast can later be set against what was won.
--
-- The forecast categories are the opportunities' own (docs/design.md: pipeline, best_case, commit, closed,
-- omitted, defaulted from the stage). Every open deal counts once, in its category, in one row (a
-- bucket) of its owner or team: the period of its expected close date; overdue when that date has
-- passed; later when it is after the last period (earlier when the periods start after today); and
-- no_close_date without one. So the open columns of all rows add up to the open pipeline (the
-- dashboard's pipeline_value, sales_metrics' open_amount) of the same owner, team or tenant. Won deals
-- count as closed_won in the period they closed; lost deals do not count.

CREATE TABLE crm.quotas (
    tenant_id    uuid          NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id           uuid          NOT NULL DEFAULT crm.uuid_v7(),
    user_id      uuid,
    team_id      uuid,
    period       text          NOT NULL CHECK (period IN ('month', 'quarter')),
    period_start date          NOT NULL,
    amount       numeric(18,2) NOT NULL CHECK (amount >= 0 AND amount <> 'NaN'),
    created_at   timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT quotas_user_or_team CHECK ((user_id IS NULL) <> (team_id IS NULL)),
    CONSTRAINT quotas_period_start CHECK (period_start = pg_catalog.date_trunc(period, period_start::timestamp)::date),
    FOREIGN KEY (tenant_id, user_id) REFERENCES crm.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, team_id) REFERENCES crm.teams (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX quotas_user_period ON crm.quotas (tenant_id, user_id, period, period_start) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX quotas_team_period ON crm.quotas (tenant_id, team_id, period, period_start) WHERE team_id IS NOT NULL;
COMMENT ON TABLE crm.quotas IS 'Sales targets: what a user or a team should win in a month or a quarter. Managers and admins set them; everyone in the tenant reads them.';
COMMENT ON COLUMN crm.quotas.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.quotas.id IS 'The quota''s id (uuid_v7).';
COMMENT ON COLUMN crm.quotas.user_id IS 'The user it is for (exactly one of user_id and team_id).';
COMMENT ON COLUMN crm.quotas.team_id IS 'The team it is for (exactly one of user_id and team_id).';
COMMENT ON COLUMN crm.quotas.period IS 'month or quarter.';
COMMENT ON COLUMN crm.quotas.period_start IS 'The first day of the month or quarter.';
COMMENT ON COLUMN crm.quotas.amount IS 'The amount to win in the period.';
COMMENT ON COLUMN crm.quotas.created_at IS 'When the quota was set.';
COMMENT ON COLUMN crm.quotas.updated_at IS 'When the quota was last changed.';
COMMENT ON INDEX crm.quotas_user_period IS 'One quota per user and period.';
COMMENT ON INDEX crm.quotas_team_period IS 'One quota per team and period.';
ALTER TABLE crm.quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.quotas FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.quotas', '');
SELECT crm.secure_table('crm.quotas', 'managed');

CREATE FUNCTION crm.check_forecast_args(period text, starting date, periods integer, group_by text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF period IS NULL OR period NOT IN ('month', 'quarter') THEN
        RAISE EXCEPTION 'period must be month or quarter, not %', coalesce(quote_literal(period), 'NULL') USING ERRCODE = '22023';
    END IF;
    IF starting IS NULL THEN
        RAISE EXCEPTION 'starting must be a day' USING ERRCODE = '22023';
    END IF;
    IF periods IS NULL OR periods NOT BETWEEN 1 AND 60 THEN
        RAISE EXCEPTION 'periods must be between 1 and 60, not %', coalesce(periods::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF group_by IS NOT NULL AND group_by NOT IN ('owner', 'team') THEN
        RAISE EXCEPTION 'group_by must be owner, team or NULL, not %', quote_literal(group_by) USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_forecast_args(text, date, integer, text) IS 'Raises 22023 unless period is month or quarter, starting a day, periods 1 to 60 and group_by owner, team or NULL.';

-- The forecast of tenant t as its caller reads it (RLS applies; crm.snapshot_forecast, the operator,
-- reads everything of t). Quotas: an owner's own; a team's own, else the sum of its members'; the
-- whole tenant's the sum of its users', else of its teams'. Open deals are those not closed
-- (closed_at IS NULL, as the dashboard and sales_metrics count them).
CREATE FUNCTION crm.forecast_of(t uuid, period text, starting date, periods integer, group_by text)
    RETURNS TABLE (bucket text, period_start date, period_end date, group_key text, closed_won numeric, commit numeric,
                   best_case numeric, pipeline numeric, omitted numeric, weighted numeric, quota numeric, attainment numeric)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    step interval := CASE period WHEN 'month' THEN interval '1 month' ELSE interval '3 months' END;
    today date := current_date;
    first_day date;
    last_day date;
    user_ids uuid[];
    user_teams uuid[];
BEGIN
    PERFORM crm.check_forecast_args(period, starting, periods, group_by);
    -- The tenant's users and their teams, read first and joined below as a list: the query below then
    -- reads only tables distributed by tenant, which Citus runs on the tenant's node when the job's body
    -- is delegated there (with the reference table crm.users in it, Citus refused: "queries must filter
    -- by the distribution argument in the same colocation group when using the forced function pushdown").
    SELECT array_agg(u.id), array_agg(u.team_id) INTO user_ids, user_teams FROM crm.users u WHERE u.tenant_id = t;
    first_day := date_trunc(period, starting::timestamp)::date;
    last_day := (first_day + step * periods - interval '1 day')::date;
    RETURN QUERY
    -- the rows of every group: overdue, earlier (only when the periods start after today), the
    -- periods, later, no_close_date; n orders them
    WITH um AS (SELECT m.id, m.team_id FROM unnest(user_ids, user_teams) AS m(id, team_id)),
    f AS (
        SELECT 'overdue'::text AS b, NULL::date AS ps, today - 1 AS pe, 0::bigint AS n
        UNION ALL
        SELECT 'earlier', today, first_day - 1, 1 WHERE first_day > today
        UNION ALL
        SELECT 'period', g::date, (g + step - interval '1 day')::date, 1 + row_number() OVER (ORDER BY g)
          FROM generate_series(first_day::timestamp, (first_day + step * (periods - 1))::timestamp, step) g
        UNION ALL
        SELECT 'later', greatest(last_day + 1, today), NULL, periods + 2
        UNION ALL
        SELECT 'no_close_date', NULL, NULL, periods + 3),
    deals AS (
        SELECT o.amount, o.probability, o.forecast_category, s.is_won,
               CASE forecast_of.group_by WHEN 'owner' THEN o.owner_id::text WHEN 'team' THEN u.team_id::text END AS gk,
               CASE WHEN s.is_won THEN 'period'
                    WHEN o.expected_close_date IS NULL THEN 'no_close_date'
                    WHEN o.expected_close_date < today THEN 'overdue'
                    WHEN o.expected_close_date < first_day THEN 'earlier'
                    WHEN o.expected_close_date > last_day THEN 'later'
                    ELSE 'period' END AS b,
               CASE WHEN s.is_won THEN o.closed_at::date ELSE o.expected_close_date END AS d
          FROM crm.opportunities o
          JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
          LEFT JOIN um u ON u.id = o.owner_id
         WHERE o.tenant_id = t
           AND ((s.is_won AND o.closed_at >= first_day::timestamptz AND o.closed_at < (last_day + 1)::timestamptz)
                OR o.closed_at IS NULL)),
    totals AS (
        SELECT f.n, d.gk,
               coalesce(sum(d.amount) FILTER (WHERE d.is_won), 0) AS closed_won,
               coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'commit'), 0) AS commit,
               coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'best_case'), 0) AS best_case,
               coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'pipeline'), 0) AS pipeline,
               coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category NOT IN ('commit', 'best_case', 'pipeline')), 0) AS omitted,
               coalesce(sum(CASE WHEN d.is_won THEN d.amount WHEN d.forecast_category IN ('commit', 'best_case', 'pipeline')
                                 THEN d.amount * d.probability / 100 ELSE 0 END), 0) AS weighted
          FROM f JOIN deals d ON d.b = f.b AND (f.b <> 'period' OR d.d BETWEEN f.ps AND f.pe)
         GROUP BY f.n, d.gk),
    q AS (
        SELECT x.user_id, x.team_id, x.period_start AS ps, x.amount
          FROM crm.quotas x
         WHERE x.tenant_id = t AND x.period = forecast_of.period AND x.period_start BETWEEN first_day AND last_day),
    quotas AS (
        SELECT f.ps, NULL::text AS gk,
               coalesce((SELECT sum(q.amount) FROM q WHERE q.ps = f.ps AND q.user_id IS NOT NULL),
                        (SELECT sum(q.amount) FROM q WHERE q.ps = f.ps AND q.team_id IS NOT NULL)) AS amount
          FROM f WHERE f.b = 'period' AND forecast_of.group_by IS NULL
        UNION ALL
        SELECT q.ps, q.user_id::text, q.amount FROM q WHERE forecast_of.group_by = 'owner' AND q.user_id IS NOT NULL
        UNION ALL
        SELECT k.ps, k.team_id::text,
               coalesce((SELECT sum(q.amount) FROM q WHERE q.ps = k.ps AND q.team_id = k.team_id),
                        (SELECT sum(q.amount) FROM q JOIN um u ON u.id = q.user_id
                          WHERE q.ps = k.ps AND u.team_id = k.team_id))
          FROM (SELECT DISTINCT q.ps, coalesce(q.team_id, u.team_id) AS team_id
                  FROM q LEFT JOIN um u ON u.id = q.user_id) k
         WHERE forecast_of.group_by = 'team' AND k.team_id IS NOT NULL),
    groups AS (
        SELECT NULL::text AS gk WHERE forecast_of.group_by IS NULL
        UNION
        SELECT x.gk FROM totals x WHERE forecast_of.group_by IS NOT NULL
        UNION
        SELECT x.gk FROM quotas x WHERE forecast_of.group_by IS NOT NULL AND x.amount IS NOT NULL)
    SELECT f.b, f.ps, f.pe, g.gk,
           coalesce(x.closed_won, 0), coalesce(x.commit, 0), coalesce(x.best_case, 0), coalesce(x.pipeline, 0),
           coalesce(x.omitted, 0), round(coalesce(x.weighted, 0), 2), y.amount,
           round(100 * coalesce(x.closed_won, 0) / nullif(y.amount, 0), 2)
      FROM f CROSS JOIN groups g
      LEFT JOIN totals x ON x.n = f.n AND x.gk IS NOT DISTINCT FROM g.gk
      LEFT JOIN quotas y ON f.b = 'period' AND y.ps = f.ps AND y.gk IS NOT DISTINCT FROM g.gk
     ORDER BY f.n, g.gk NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.forecast_of(uuid, text, date, integer, text) IS 'Internal to crm.forecast and crm.snapshot_forecast: the forecast of one tenant, as the caller reads it.';

CREATE FUNCTION crm.forecast(period text DEFAULT 'quarter', starting date DEFAULT current_date, periods integer DEFAULT 4,
                             group_by text DEFAULT NULL)
    RETURNS TABLE (bucket text, period_start date, period_end date, group_key text, closed_won numeric, commit numeric,
                   best_case numeric, pipeline numeric, omitted numeric, weighted numeric, quota numeric, attainment numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM crm.forecast_of(crm.current_tenant(), period, starting, periods, group_by)
$$;
COMMENT ON FUNCTION crm.forecast(text, date, integer, text) IS 'The sales forecast of the deals the caller reads, for periods months or quarters from the one containing starting, in total or per owner or team (group_key: the user''s or team''s id; NULL for the total, or for owners without a team). No open deal is left out: each counts once, in one row (bucket) of its group: period (the period of its expected close date, period_start to period_end), overdue (expected close date before today: it should have closed and is still open; period_end is yesterday), earlier (from today to the day before the first period, listed only when the periods start after today), later (after the last period) or no_close_date (none set), so that the open columns (commit, best_case, pipeline, omitted) of all rows of a group add up to its open pipeline (the dashboard''s pipeline_value, sales_metrics'' open_amount). Columns: closed_won (won deals, by close day, in period rows only), commit, best_case and pipeline (open deals of that forecast category), omitted (open deals their owner left out of the forecast: not weighted), weighted (closed_won plus the commit, best_case and pipeline amounts x probability / 100), quota (period rows: the user''s; the team''s own, else its members''; for the total the users'', else the teams''), attainment (closed_won / quota, percent). Every row is listed, empty ones with zeros (grouped: for each owner or team with deals or a quota in the forecast), in the order overdue, earlier, the periods, later, no_close_date. Lost deals and reopened ones (no longer won) never count as won. 22023 for a bad period, periods (1-60) or group_by.';

------------------------------------------------------------------------------------------------------
-- Snapshots
------------------------------------------------------------------------------------------------------

CREATE TABLE crm.forecast_snapshots (
    tenant_id    uuid          NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id           uuid          NOT NULL DEFAULT crm.uuid_v7(),
    taken_on     date          NOT NULL,
    period       text          NOT NULL CHECK (period IN ('month', 'quarter')),
    group_by     text          NOT NULL CHECK (group_by IN ('total', 'owner', 'team')),
    bucket       text          NOT NULL CHECK (bucket IN ('overdue', 'earlier', 'period', 'later', 'no_close_date')),
    period_start date,
    period_end   date,
    group_key    text,
    closed_won   numeric(18,2) NOT NULL,
    commit       numeric(18,2) NOT NULL,
    best_case    numeric(18,2) NOT NULL,
    pipeline     numeric(18,2) NOT NULL,
    omitted      numeric(18,2) NOT NULL,
    weighted     numeric(18,2) NOT NULL,
    quota        numeric(18,2),
    attainment   numeric,
    taken_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT forecast_snapshots_period_dates CHECK (bucket <> 'period' OR (period_start IS NOT NULL AND period_end IS NOT NULL))
);
CREATE INDEX forecast_snapshots_taken ON crm.forecast_snapshots (tenant_id, taken_on, period, group_by);
CREATE INDEX forecast_snapshots_period ON crm.forecast_snapshots (tenant_id, period, period_start, group_by);
COMMENT ON TABLE crm.forecast_snapshots IS 'The forecast as it stood on a day (crm.snapshot_forecast, weekly under crm.schedule_maintenance): in total, per owner and per team, to set later against what was won. Written by the database only; managers and admins read it.';
COMMENT ON COLUMN crm.forecast_snapshots.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.forecast_snapshots.id IS 'The row''s id (uuid_v7).';
COMMENT ON COLUMN crm.forecast_snapshots.taken_on IS 'The day the snapshot was taken (one snapshot per day: taking it again replaces it).';
COMMENT ON COLUMN crm.forecast_snapshots.period IS 'month or quarter.';
COMMENT ON COLUMN crm.forecast_snapshots.group_by IS 'total, owner or team.';
COMMENT ON COLUMN crm.forecast_snapshots.bucket IS 'The row of crm.forecast: period, or the open deals outside the periods: overdue (expected close date passed), earlier, later, no_close_date.';
COMMENT ON COLUMN crm.forecast_snapshots.period_start IS 'The first day of the forecast period (of the bucket; NULL when open-ended).';
COMMENT ON COLUMN crm.forecast_snapshots.period_end IS 'The last day of the forecast period (of the bucket; NULL when open-ended).';
COMMENT ON COLUMN crm.forecast_snapshots.group_key IS 'The user''s or team''s id; NULL for the total (or owners without a team).';
COMMENT ON COLUMN crm.forecast_snapshots.closed_won IS 'Won by then in the period.';
COMMENT ON COLUMN crm.forecast_snapshots.commit IS 'Open deals in the commit category.';
COMMENT ON COLUMN crm.forecast_snapshots.best_case IS 'Open deals in the best_case category.';
COMMENT ON COLUMN crm.forecast_snapshots.pipeline IS 'Open deals in the pipeline category.';
COMMENT ON COLUMN crm.forecast_snapshots.omitted IS 'Open deals left out of the forecast (category omitted): not weighted.';
COMMENT ON COLUMN crm.forecast_snapshots.weighted IS 'closed_won plus the commit, best_case and pipeline deals'' amount x probability / 100.';
COMMENT ON COLUMN crm.forecast_snapshots.quota IS 'The quota of the period, if any.';
COMMENT ON COLUMN crm.forecast_snapshots.attainment IS 'closed_won / quota, percent.';
COMMENT ON COLUMN crm.forecast_snapshots.taken_at IS 'When the snapshot was computed.';
ALTER TABLE crm.forecast_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.forecast_snapshots FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.forecast_snapshots', '');
SELECT crm.secure_table('crm.forecast_snapshots', 'log');

CREATE FUNCTION crm.snapshot_forecast_args(args jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    period text;
    periods integer;
BEGIN
    PERFORM crm.job_check_args('snapshot_forecast', args, '{"period": "string", "periods": "number"}');
    period := CASE WHEN args ? 'period' THEN args->>'period' ELSE 'quarter' END;
    periods := CASE WHEN args ? 'periods' THEN (args->>'periods')::integer ELSE 4 END;
    PERFORM crm.check_forecast_args(period, current_date, periods, NULL);
    RETURN jsonb_build_object('period', period, 'periods', periods);
END
$$;
COMMENT ON FUNCTION crm.snapshot_forecast_args(jsonb) IS 'The arguments of the job snapshot_forecast (crm.run_job): {"period": month or quarter (default), "periods": how many (default 4)}; 22023 for a bad one or another argument.';

-- The job's body (src/jobs.sql, crm.job_tenant): today's snapshot of a tenant's forecast, in one call.
CREATE FUNCTION crm.snapshot_forecast_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    by_period text := args->>'period';
    how_many integer := (args->>'periods')::integer;
    n bigint;
    rows jsonb;
BEGIN
    PERFORM crm.check_job_caller(t);
    PERFORM crm.check_forecast_args(by_period, current_date, how_many, NULL);
    DELETE FROM crm.forecast_snapshots s WHERE s.tenant_id = t AND s.taken_on = current_date AND s.period = by_period;
    -- The forecast first, then the rows: on Citus an INSERT into a distributed table cannot wait on a
    -- function that runs queries of its own for each row it inserts ("another command is already in
    -- progress"), so the rows are gathered (as JSON, exact numbers kept) before they are written.
    SELECT jsonb_agg(to_jsonb(f) || jsonb_build_object('group_by', coalesce(g.by, 'total'))) INTO rows
      FROM (VALUES (NULL::text), ('owner'), ('team')) g(by),
           LATERAL crm.forecast_of(t, by_period, current_date, how_many, g.by) f;
    INSERT INTO crm.forecast_snapshots (tenant_id, taken_on, period, group_by, bucket, period_start, period_end, group_key,
                                        closed_won, commit, best_case, pipeline, omitted, weighted, quota, attainment)
    SELECT t, current_date, by_period, f.group_by, f.bucket, f.period_start, f.period_end,
           f.group_key, f.closed_won, f.commit, f.best_case, f.pipeline, f.omitted, f.weighted, f.quota, f.attainment
      FROM jsonb_populate_recordset(NULL::crm.forecast_snapshots, rows) f;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN jsonb_build_object('processed', n, 'changed', n, 'details', jsonb_build_object('period', by_period, 'periods', how_many),
                              'next', NULL, 'progress', format('crm.snapshot_forecast: tenant %s', t));
END
$$;
COMMENT ON FUNCTION crm.snapshot_forecast_tenant(uuid, jsonb, jsonb) IS 'The body of the job snapshot_forecast (crm.run_job): stores a tenant''s forecast of today (args period and periods) in total, per owner and per team in crm.forecast_snapshots, replacing one taken earlier today; returns {processed, changed: the rows written, details: {period, periods}, next: null}. For managers and admins of the tenant, or the operator.';

CREATE FUNCTION crm.snapshot_forecast(period text DEFAULT 'quarter', periods integer DEFAULT 4) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('snapshot_forecast', crm.current_tenant(), jsonb_build_object('period', period, 'periods', periods))
$$;
COMMENT ON FUNCTION crm.snapshot_forecast(text, integer) IS 'Stores today''s forecast (periods months or quarters from the current one, default 4 quarters, with its overdue, later and no_close_date rows: every open deal) in total, per owner and per team in crm.forecast_snapshots, replacing one taken earlier today, and returns {"tenants", "failed", "processed" and "changed": the rows written, "failures": [...]}: the job snapshot_forecast of crm.run_job, in the caller''s transaction. With a tenant context, that tenant (its managers and admins); without one, the operator''s scheduler does every tenant. One run per tenant at a time (55P03); each run logged in crm.job_runs. In a run for every tenant, a tenant whose snapshot fails is undone and logged as failed (SQLSTATE and message) and the others are still snapshotted; a run for one tenant raises its error.';
REVOKE EXECUTE ON FUNCTION crm.snapshot_forecast(text, integer), crm.snapshot_forecast_args(jsonb),
    crm.snapshot_forecast_tenant(uuid, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.snapshot_forecast(text, integer), crm.snapshot_forecast_tenant(uuid, jsonb, jsonb) TO crm_manager;
-- (a job's arguments are checked before its caller: for anyone who may start the driver)
GRANT EXECUTE ON FUNCTION crm.snapshot_forecast_args(jsonb) TO crm_rep;

CREATE VIEW crm_api.quotas WITH (security_invoker = true) AS
    SELECT tenant_id, id, user_id, team_id, period, period_start, amount, created_at, updated_at FROM crm.quotas;
COMMENT ON VIEW crm_api.quotas IS 'Sales quotas of the tenant''s users and teams; everyone reads them, managers and admins set them.';
CREATE VIEW crm_api.forecast_snapshots WITH (security_invoker = true) AS
    SELECT tenant_id, id, taken_on, period, group_by, bucket, period_start, period_end, group_key, closed_won, commit, best_case,
           pipeline, omitted, weighted, quota, attainment, taken_at
    FROM crm.forecast_snapshots;
COMMENT ON VIEW crm_api.forecast_snapshots IS 'Past forecasts (managers and admins, read only).';
GRANT SELECT ON crm_api.quotas TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.quotas TO crm_manager;
GRANT SELECT ON crm_api.forecast_snapshots TO crm_manager;

CREATE FUNCTION crm_api.forecast(period text DEFAULT 'quarter', starting date DEFAULT current_date, periods integer DEFAULT 4,
                                 group_by text DEFAULT NULL)
    RETURNS TABLE (bucket text, period_start date, period_end date, group_key text, closed_won numeric, commit numeric,
                   best_case numeric, pipeline numeric, omitted numeric, weighted numeric, quota numeric, attainment numeric)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT * FROM crm.forecast(period, starting, periods, group_by)
$$;
COMMENT ON FUNCTION crm_api.forecast(text, date, integer, text) IS 'The sales forecast by month or quarter, in total or per owner or team (GET /rpc/forecast?period=month&periods=3&group_by=owner): one row per bucket (overdue, earlier, period, later, no_close_date) and group, so that every open deal is in it once. 400 for a bad period, periods or group_by.';
CREATE FUNCTION crm_api.snapshot_forecast(period text DEFAULT 'quarter', periods integer DEFAULT 4) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_for_http('snapshot_forecast', jsonb_build_object('period', period, 'periods', periods))
$$;
COMMENT ON FUNCTION crm_api.snapshot_forecast(text, integer) IS 'Stores today''s forecast (POST /rpc/snapshot_forecast; managers and admins): the rows written. 403 for reps, 409 while another run works.';
REVOKE EXECUTE ON FUNCTION crm_api.forecast(text, date, integer, text), crm_api.snapshot_forecast(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.forecast(text, date, integer, text) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm_api.snapshot_forecast(text, integer) TO crm_manager;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.check_forecast_args(text,date,integer,text),
    crm.forecast_of(uuid,text,date,integer,text), crm.forecast(text,date,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.check_forecast_args(text,date,integer,text),
    crm.forecast_of(uuid,text,date,integer,text), crm.forecast(text,date,integer,text) TO crm_rep;
