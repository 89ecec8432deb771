-- health.sql: customer health. Once a day (crm.refresh_health_scores, scheduled or called), every
-- account gets a snapshot: four measures on 0-100 from its activities, opportunities, cases and NPS
-- answers (src/health.c), their weighted mean by the tenant's health_weights (a measure without data
-- left out, its weight spread over the others), a band, a risk level, a trend against the previous
-- snapshot, the factors and plain-words recommendations. An account turning red emits account.at_risk
-- and gives its owner a task, once.

CREATE FUNCTION crm.health_measures(inputs double precision[]) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'crm_health_measures'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_measures(double precision[]) IS 'Internal: an account''s four health measures {engagement, activity, satisfaction, commercial} on 0-100 (NULL where it has no data) from the inputs crm.health_inputs gathers, in their order.';

CREATE FUNCTION crm.health_score(measures double precision[], weights double precision[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'crm_health_score'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_score(double precision[], double precision[]) IS 'The weighted mean of health measures on 0-100, rounded: a NULL measure is left out and its weight spread over the others (never counted as 0); NULL when no measure has data. A measure off 0-100 or a negative weight: 22023.';

CREATE FUNCTION crm.health_factors(inputs double precision[], measures double precision[], weights double precision[]) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'crm_health_factors'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_factors(double precision[], double precision[], double precision[]) IS 'The factors of a health snapshot: {engagement, activity, satisfaction, commercial: {value, weight (0 without data)}, inputs: {activities_30d, activities_90d, days_since_last_activity, open_opportunities, csat, nps, open_cases, overdue_cases, won_last_180d, won_previous_180d, lost_last_180d}}.';

-- The tenant setting health_weights as the weights these take, checked with the C limits:
-- crm.tenant_settings calls it at save (src/tenancy.sql), crm.refresh_health_scores when it reads them.
CREATE FUNCTION crm.health_weights(weights jsonb) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'crm_health_weights'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_weights(jsonb) IS 'The weights of the health measures {engagement, activity, satisfaction, commercial} from the tenant setting health_weights (a missing one 0; NULL: all 0). A key that is no measure, or a weight that is not a number from 0 to 1000000, raises 22023 naming its JSON path, e.g. $.health_weights.engagement.';
REVOKE EXECUTE ON FUNCTION crm.health_weights(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.health_weights(jsonb) TO crm_rep;

CREATE FUNCTION crm.health_band(score integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN score IS NULL THEN NULL WHEN score >= 75 THEN 'green' WHEN score >= 50 THEN 'yellow' ELSE 'red' END
$$;
COMMENT ON FUNCTION crm.health_band(integer) IS 'A health score''s band: green 75-100, yellow 50-74, red below 50.';

CREATE FUNCTION crm.health_risk_level(score integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN score IS NULL THEN NULL WHEN score >= 75 THEN 'low' WHEN score >= 50 THEN 'medium'
                WHEN score >= 25 THEN 'high' ELSE 'critical' END
$$;
COMMENT ON FUNCTION crm.health_risk_level(integer) IS 'The churn risk of a health score: low from 75, medium 50-74, high 25-49, critical below 25.';

CREATE FUNCTION crm.health_trend(score integer, previous integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE WHEN score IS NULL OR previous IS NULL THEN 'stable'
                WHEN score > previous + 3 THEN 'improving' WHEN score < previous - 3 THEN 'declining' ELSE 'stable' END
$$;
COMMENT ON FUNCTION crm.health_trend(integer, integer) IS 'improving or declining when the score moved by more than 3 points since the previous snapshot, else stable (also without a previous one).';

-- The inputs of every account of a tenant, as of on_date (ref: the end of that day, or now for
-- today): one pass over each source for the whole tenant, grouped by account (hashed), rather than an
-- index probe per account. Activities come from their rollup per account and day
-- (crm.account_activity_days, src/account_activity.sql): the windows are whole UTC days, the 30 and 90
-- ending with on_date. Only the rollup's rows of those 90 days are read (an account's days go back
-- years): the latest activity of an account without any there is probed by index.
CREATE FUNCTION crm.health_inputs(t uuid, on_date date, ref timestamptz)
    RETURNS TABLE (account_id uuid, inputs double precision[])
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
-- (PL/pgSQL: Citus plans no SQL function whose parameter names the tenant of a distributed table)
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH b AS MATERIALIZED (SELECT ref - interval '180 days' AS d180, ref - interval '360 days' AS d360, ref - interval '7 days' AS d7,
                                   ref - interval '365 days' AS d365),
    -- only the 90 days' rows: an account without one there is probed for its latest older day below
    a AS (SELECT d.account_id AS acc_id, sum(d.activities) FILTER (WHERE d.day > on_date - 30) AS n30, sum(d.activities) AS n90,
                 max(d.last_at) AS last_at, sum(d.positive) AS pos, sum(d.negative) AS neg, sum(d.rated) AS rated
            FROM crm.account_activity_days d
           WHERE d.tenant_id = t AND d.day > on_date - 90 AND d.day <= on_date
           GROUP BY d.account_id),
    o AS (SELECT o.account_id AS acc_id,
                 count(*) FILTER (WHERE o.closed_at IS NULL) AS open_opps,
                 count(*) FILTER (WHERE o.closed_at <= ref) AS closed,
                 coalesce(sum(o.amount) FILTER (WHERE s.is_won AND o.closed_at > b.d180 AND o.closed_at <= ref), 0) AS won_recent,
                 coalesce(sum(o.amount) FILTER (WHERE s.is_won AND o.closed_at > b.d360 AND o.closed_at <= b.d180), 0) AS won_before,
                 count(*) FILTER (WHERE s.is_lost AND o.closed_at > b.d180 AND o.closed_at <= ref) AS lost_recent
            FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = t AND s.id = o.stage_id CROSS JOIN b
           WHERE o.tenant_id = t AND o.account_id IS NOT NULL
           GROUP BY o.account_id),
    k AS (SELECT c.account_id AS acc_id, avg(c.satisfaction) AS csat, count(*) AS cases,
                 count(*) FILTER (WHERE c.status IN ('open', 'pending')) AS open_cases,
                 count(*) FILTER (WHERE c.status IN ('open', 'pending') AND c.opened_at < b.d7) AS overdue
            FROM crm.cases c CROSS JOIN b WHERE c.tenant_id = t AND c.account_id IS NOT NULL AND c.opened_at <= ref
           GROUP BY c.account_id),
    n AS (SELECT r.account_id AS acc_id, avg(r.score) AS nps
            FROM crm.nps_responses r CROSS JOIN b
           WHERE r.tenant_id = t AND r.account_id IS NOT NULL AND r.responded_at > b.d365 AND r.responded_at <= ref
           GROUP BY r.account_id)
    SELECT acc.id,
           -- (an activity later on_date than ref, logged ahead, makes the last one 0 days ago)
           ARRAY[(l.at IS NOT NULL)::integer, coalesce(a.n30, 0), coalesce(a.n90, 0), greatest(extract(epoch FROM ref - l.at) / 86400, 0),
                 coalesce(a.pos, 0), coalesce(a.neg, 0), coalesce(a.rated, 0), coalesce(o.open_opps, 0), k.csat, n.nps,
                 coalesce(k.cases, 0), coalesce(k.open_cases, 0), coalesce(k.overdue, 0), coalesce(o.closed, 0),
                 coalesce(o.won_recent, 0), coalesce(o.won_before, 0), coalesce(o.lost_recent, 0)]::double precision[]
      FROM crm.accounts acc LEFT JOIN a ON a.acc_id = acc.id LEFT JOIN o ON o.acc_id = acc.id
      LEFT JOIN k ON k.acc_id = acc.id LEFT JOIN n ON n.acc_id = acc.id
      -- the latest activity: of the 90 days, else of the latest day before them (probed only then)
      CROSS JOIN LATERAL (SELECT coalesce(a.last_at, (SELECT d.last_at FROM crm.account_activity_days d
                                                       WHERE d.tenant_id = t AND d.account_id = acc.id AND d.day <= on_date - 90
                                                       ORDER BY d.day DESC LIMIT 1)) AS at) l
     WHERE acc.tenant_id = t;
END
$$;
COMMENT ON FUNCTION crm.health_inputs(uuid, date, timestamptz) IS 'Internal to crm.refresh_health_scores: per account of the tenant, as of on_date (ref: its end, or now), the inputs of crm.health_measures: whether there is any activity up to on_date (1 or 0), how many in the 30 and 90 days ending with it, days since the last, positive, negative and rated ones (90 days), open opportunities, mean CSAT, mean NPS (a year), cases, open and overdue (7 days) cases, closed opportunities, won amount in the last 180 days and the 180 before, deals lost in the last 180 days.';

-- Plain-words advice from the inputs and the measures (in C: a refresh writes it for every account).
CREATE FUNCTION crm.health_recommendations(inputs double precision[], measures double precision[]) RETURNS text[]
    AS 'MODULE_PATHNAME', 'crm_health_recommendations'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_recommendations(double precision[], double precision[]) IS 'What to do about an account, from its health inputs: schedule a check-in after 30 days without contact, escalate overdue cases, call a detractor, and so on.';

CREATE TABLE crm.account_health (
    -- (the tenant is checked through the account: a second key check per snapshot would add nothing,
    -- and a refresh writes one per account and day)
    tenant_id       uuid        NOT NULL DEFAULT crm.current_tenant(),
    id              uuid        NOT NULL DEFAULT crm.uuid_v7(),
    account_id      uuid        NOT NULL,
    scored_on       date        NOT NULL,
    score           integer     CHECK (score BETWEEN 0 AND 100),
    band            text        CHECK (band IN ('green', 'yellow', 'red')),
    risk_level      text        CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    trend           text        NOT NULL CHECK (trend IN ('improving', 'stable', 'declining')),
    factors         jsonb       NOT NULL,
    recommendations text[]      NOT NULL DEFAULT '{}',
    computed_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, account_id, scored_on),
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE crm.account_health IS 'Daily health snapshots of the accounts (one per account per day, written by crm.refresh_health_scores): score, band, risk level, trend, factors and recommendations. Read with the account; written by the database only.';
COMMENT ON COLUMN crm.account_health.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.account_health.id IS 'The snapshot''s id (uuid_v7).';
COMMENT ON COLUMN crm.account_health.account_id IS 'The account.';
COMMENT ON COLUMN crm.account_health.scored_on IS 'The day the snapshot is of.';
COMMENT ON COLUMN crm.account_health.score IS 'Health, 0 to 100 (NULL: no data about the account yet).';
COMMENT ON COLUMN crm.account_health.band IS 'green (75-100), yellow (50-74) or red (below 50).';
COMMENT ON COLUMN crm.account_health.risk_level IS 'Churn risk: low (from 75), medium (50-74), high (25-49), critical (below 25).';
COMMENT ON COLUMN crm.account_health.trend IS 'improving, stable or declining against the previous snapshot (more than 3 points).';
COMMENT ON COLUMN crm.account_health.factors IS 'Each measure (engagement, activity, satisfaction, commercial) with its value and the weight it had (0 when it had no data), and the inputs behind them.';
COMMENT ON COLUMN crm.account_health.recommendations IS 'What to do, in plain words ("no contact in 45 days: schedule a check-in").';
COMMENT ON COLUMN crm.account_health.computed_at IS 'When the snapshot was computed.';
ALTER TABLE crm.account_health ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.account_health FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.account_health', '');
SELECT crm.secure_table('crm.account_health', 'child', 'crm.accounts', 'account_id');
REVOKE INSERT, UPDATE, DELETE ON crm.account_health FROM crm_rep;

-- Each account's latest snapshot in a narrow table of its own: the daily refresh rewrites a short row
-- per account here (in place: no index covers what changes), not the account's wide row with its
-- search document, eight indexes, audit and updated_at, which are the user's data.
CREATE TABLE crm.account_health_latest (
    tenant_id  uuid    NOT NULL DEFAULT crm.current_tenant(),
    id         uuid    NOT NULL DEFAULT crm.uuid_v7(),
    account_id uuid    NOT NULL,
    scored_on  date    NOT NULL,
    score      integer CHECK (score BETWEEN 0 AND 100),
    band       text    CHECK (band IN ('green', 'yellow', 'red')),
    trend      text    NOT NULL CHECK (trend IN ('improving', 'stable', 'declining')),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, account_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE
) WITH (fillfactor = 50);
COMMENT ON TABLE crm.account_health_latest IS 'Each account''s latest health snapshot (crm.account_health) in short: its day, score, band and trend, shown on the accounts (GET /accounts?health_band=eq.red) and read by segments and the dashboard. Written by crm.refresh_health_scores only.';
COMMENT ON COLUMN crm.account_health_latest.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.account_health_latest.id IS 'The row''s id (uuid_v7).';
COMMENT ON COLUMN crm.account_health_latest.account_id IS 'The account.';
COMMENT ON COLUMN crm.account_health_latest.scored_on IS 'The day of the account''s latest snapshot.';
COMMENT ON COLUMN crm.account_health_latest.score IS 'Its score, 0 to 100 (NULL: no data about the account).';
COMMENT ON COLUMN crm.account_health_latest.band IS 'Its band: green, yellow or red.';
COMMENT ON COLUMN crm.account_health_latest.trend IS 'Its trend: improving, stable or declining.';
ALTER TABLE crm.account_health_latest ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.account_health_latest FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.account_health_latest', '');
SELECT crm.secure_table('crm.account_health_latest', 'child', 'crm.accounts', 'account_id');
REVOKE INSERT, UPDATE, DELETE ON crm.account_health_latest FROM crm_rep;

-- On the accounts view as columns computed from it (the view stays a plain, writable view of
-- crm.accounts: PostgREST inserts, updates and upserts through it).
CREATE OR REPLACE VIEW crm_api.accounts WITH (security_invoker = true) AS
    SELECT a.tenant_id, a.id, a.name, a.domain, a.industry, a.employee_count, a.annual_revenue, a.country, a.parent_account_id,
           a.lifecycle_stage, a.owner_id, a.custom, a.created_at, a.updated_at, a.search,
           (SELECT l.score FROM crm.account_health_latest l WHERE l.tenant_id = a.tenant_id AND l.account_id = a.id) AS health_score,
           (SELECT l.band FROM crm.account_health_latest l WHERE l.tenant_id = a.tenant_id AND l.account_id = a.id) AS health_band,
           (SELECT l.trend FROM crm.account_health_latest l WHERE l.tenant_id = a.tenant_id AND l.account_id = a.id) AS health_trend,
           (SELECT l.scored_on FROM crm.account_health_latest l WHERE l.tenant_id = a.tenant_id AND l.account_id = a.id) AS health_scored_on
    FROM crm.accounts a;
COMMENT ON COLUMN crm_api.accounts.health_score IS 'The latest health score (GET /account_health for the snapshots), 0 to 100; read only.';
COMMENT ON COLUMN crm_api.accounts.health_band IS 'The latest health band: green, yellow or red; read only.';
COMMENT ON COLUMN crm_api.accounts.health_trend IS 'The latest health trend: improving, stable or declining; read only.';
COMMENT ON COLUMN crm_api.accounts.health_scored_on IS 'The day of the latest health snapshot; read only.';

CREATE FUNCTION crm.refresh_health_scores_args(args jsonb) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    on_date date;
BEGIN
    PERFORM crm.job_check_args('refresh_health_scores', args, '{"on_date": "string"}');
    -- (today's UTC date unless given, as the activity days are UTC days: fixed for the whole run, also one that goes on past midnight)
    on_date := CASE WHEN args ? 'on_date' THEN (args->>'on_date')::date ELSE (now() AT TIME ZONE 'UTC')::date END;
    IF on_date IS NULL OR on_date > (now() AT TIME ZONE 'UTC')::date THEN
        RAISE EXCEPTION 'on_date must be a day up to today, not %', coalesce(on_date::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    RETURN jsonb_build_object('on_date', on_date);
END
$$;
COMMENT ON FUNCTION crm.refresh_health_scores_args(jsonb) IS 'The arguments of the job refresh_health_scores (crm.run_job): {"on_date": a day up to today (default today''s UTC date)}; 22023 for a later day, NULL or another argument.';

-- The job's body (src/jobs.sql, crm.job_tenant): one batch of a tenant's accounts. The first call gathers
-- the inputs of every account in one pass per source, into a temporary table that lasts the tenant's run
-- (across its commits; dropped after its last batch, or by the next run when a run fails), and the
-- batches' bounds, every batch-th account in order; each call then judges and writes the next batch.
CREATE FUNCTION crm.refresh_health_scores_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    c jsonb := cursor;
    on_date date := (args->>'on_date')::date;
    -- as of the end of on_date, or now for today
    ref timestamptz := least(now(), ((on_date + 1)::timestamp AT TIME ZONE 'UTC'));
    weights double precision[];
    batch integer;
    lo uuid;
    hi uuid;
    n bigint;
    red uuid[];
    reds bigint := 0;
    r record;
    -- whether the writes below may skip their per-row foreign-key checks (see below): this runs as
    -- the extension's owner, a superuser unless a DBA changed that
    skip_row_checks boolean := (SELECT x.rolsuper FROM pg_catalog.pg_roles x WHERE x.rolname = current_user)
                           AND pg_catalog.current_setting('session_replication_role') = 'origin';
BEGIN
    PERFORM crm.check_job_caller(t);
    IF on_date IS NULL OR on_date > (now() AT TIME ZONE 'UTC')::date THEN
        RAISE EXCEPTION 'on_date must be a day up to today, not %', coalesce(on_date::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    -- (read at each batch: the tenant's setting as it is; 22023 when it is one the C code cannot use)
    weights := crm.health_weights((SELECT x.settings->'health_weights' FROM crm.tenants x WHERE x.id = t));
    IF c IS NULL THEN
        batch := coalesce(nullif(current_setting('crm.batch_size', true), '')::integer, 10000);
        -- A fresh table each time: one the caller made under this name (with triggers of its own, say)
        -- is dropped, never written by this SECURITY DEFINER function.
        IF to_regclass('pg_temp.crm_health_inputs') IS NOT NULL THEN
            DROP TABLE pg_temp.crm_health_inputs;
        END IF;
        CREATE TEMP TABLE crm_health_inputs (account_id uuid PRIMARY KEY, inputs double precision[]);
        INSERT INTO pg_temp.crm_health_inputs SELECT i.account_id, i.inputs FROM crm.health_inputs(t, on_date, ref) i;
        ANALYZE pg_temp.crm_health_inputs;
        c := jsonb_build_object(
            'inputs', 'pg_temp.crm_health_inputs'::regclass::oid, 'batch', batch, 'nb', 0, 'done', 0, 'turned_red', 0,
            'total', (SELECT count(*) FROM pg_temp.crm_health_inputs),
            'bounds', to_jsonb(ARRAY(SELECT b.account_id FROM (SELECT i.account_id, row_number() OVER (ORDER BY i.account_id) AS k
                                                                 FROM pg_temp.crm_health_inputs i) b
                                     WHERE b.k % batch = 0 ORDER BY b.account_id)),
            'lo', '00000000-0000-0000-0000-000000000000');
    ELSIF to_regclass('pg_temp.crm_health_inputs') IS DISTINCT FROM (c->>'inputs')::oid::regclass THEN
        RAISE EXCEPTION 'the inputs of this health refresh are gone' USING ERRCODE = '55000',
            HINT = 'A refresh''s batches run in the session that started it: start a new refresh.';
    END IF;
    lo := (c->>'lo')::uuid;
    hi := coalesce((c->'bounds'->>((c->>'nb')::integer))::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
    -- The foreign keys of the snapshots and the latest rows would check each row's account with
    -- an executor run of its own (a fifth of the whole refresh). Instead the batch's accounts
    -- are locked in one pass below, FOR KEY SHARE as those checks lock them (no one deletes one
    -- or changes its key before this commits; one deleted since the inputs were gathered is
    -- not locked, so not written), and the writes run with session_replication_role = replica,
    -- which skips the per-row checks; also the tenant guard, which a definer writing tenant t
    -- does not need (the two tables have no other triggers). Back to origin right after.
    IF skip_row_checks THEN
        PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
    END IF;
    WITH locked AS (
        SELECT a.id FROM crm.accounts a WHERE a.tenant_id = t AND a.id > lo AND a.id <= hi FOR KEY SHARE OF a),
    fresh AS (
        SELECT i.account_id, i.inputs, m.measures, crm.health_score(m.measures, weights) AS score
          FROM crm_health_inputs i JOIN locked a ON a.id = i.account_id,
               LATERAL (SELECT crm.health_measures(i.inputs) AS measures) m
         WHERE i.account_id > lo AND i.account_id <= hi),
    judged AS (
        SELECT f.*, crm.health_band(f.score) AS band, crm.health_risk_level(f.score) AS risk_level,
               crm.health_trend(f.score, CASE WHEN l.scored_on < on_date THEN l.score ELSE p.score END) AS trend,
               CASE WHEN l.scored_on < on_date THEN l.band ELSE p.band END AS previous_band,
               CASE WHEN l.scored_on = on_date THEN l.band ELSE s.band END AS same_day_band, l.scored_on AS latest_on
          FROM fresh f
          -- the latest snapshot: on a day's first run, the previous one
          LEFT JOIN crm.account_health_latest l ON l.tenant_id = t AND l.account_id = f.account_id AND l.account_id > lo AND l.account_id <= hi
          -- again on the latest day, or a past day: the one before on_date, and on_date's, probed
          -- account by account (LIMIT 1: without it the planner turns the probe into a join, and
          -- hashes every snapshot of the tenant for each batch)
          LEFT JOIN LATERAL (SELECT h.score, h.band FROM crm.account_health h
                              WHERE l.scored_on >= on_date AND h.tenant_id = t AND h.account_id = f.account_id AND h.scored_on < on_date
                              ORDER BY h.scored_on DESC LIMIT 1) p ON true
          LEFT JOIN LATERAL (SELECT x.band FROM crm.account_health x
                              WHERE l.scored_on > on_date AND x.tenant_id = t AND x.account_id = f.account_id AND x.scored_on = on_date
                              LIMIT 1) s ON true),
    -- where the latest snapshot is older than on_date (a day's first run), there is none of
    -- on_date to replace: a plain insert (no conflict check, no speculative insertion)
    added AS (
        INSERT INTO crm.account_health (tenant_id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations)
        SELECT t, j.account_id, on_date, j.score, j.band, j.risk_level, j.trend,
               crm.health_factors(j.inputs, j.measures, weights),
               crm.health_recommendations(j.inputs, j.measures)
          FROM judged j
         WHERE j.latest_on < on_date),
    -- again on a day, a past day or an account's first: replaced where it comes out different
    replaced AS (
        INSERT INTO crm.account_health AS h (tenant_id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations)
        SELECT t, j.account_id, on_date, j.score, j.band, j.risk_level, j.trend,
               crm.health_factors(j.inputs, j.measures, weights),
               crm.health_recommendations(j.inputs, j.measures)
          FROM judged j
         WHERE j.latest_on IS NULL OR j.latest_on >= on_date
        ON CONFLICT (tenant_id, account_id, scored_on) DO UPDATE
           SET score = excluded.score, band = excluded.band, risk_level = excluded.risk_level, trend = excluded.trend,
               factors = excluded.factors, recommendations = excluded.recommendations, computed_at = excluded.computed_at
         -- a snapshot that comes out the same is left as it is
         WHERE (h.score, h.band, h.risk_level, h.trend, h.factors, h.recommendations)
               IS DISTINCT FROM (excluded.score, excluded.band, excluded.risk_level, excluded.trend, excluded.factors, excluded.recommendations)),
    -- each account's latest: moved to on_date unless a later snapshot exists; unchanged rows
    -- left as they are (an update of the row judged read, by its key, not an upsert: it is known to be
    -- there; by key rather than ctid, which Citus cannot send to a shard)
    moved AS (
        UPDATE crm.account_health_latest l
           SET scored_on = on_date, score = j.score, band = j.band, trend = j.trend
          FROM judged j
         WHERE l.tenant_id = t AND l.account_id = j.account_id AND j.latest_on <= on_date
           AND (l.scored_on, l.score, l.band, l.trend) IS DISTINCT FROM (on_date, j.score, j.band, j.trend)),
    first_latest AS (
        INSERT INTO crm.account_health_latest AS l (tenant_id, account_id, scored_on, score, band, trend)
        SELECT t, j.account_id, on_date, j.score, j.band, j.trend FROM judged j
         WHERE j.latest_on IS NULL
        ON CONFLICT (tenant_id, account_id) DO UPDATE
           SET scored_on = excluded.scored_on, score = excluded.score, band = excluded.band, trend = excluded.trend)
    SELECT count(*),
           array_agg(j.account_id) FILTER (WHERE j.band = 'red' AND j.previous_band IS DISTINCT FROM 'red'
                                           AND j.same_day_band IS DISTINCT FROM 'red')
      INTO n, red FROM judged j;
    IF skip_row_checks THEN
        PERFORM pg_catalog.set_config('session_replication_role', 'origin', true);
    END IF;
    -- accounts that just turned red: a task for the owner and an event, once; in bulk (one
    -- statement each: a daily run after an import may turn thousands red at once)
    IF red IS NOT NULL THEN
        INSERT INTO crm.tasks (tenant_id, title, description, type, priority, due_at, assignee_id, account_id)
        SELECT t, format('Check in with %s', a.name),
               format('Its health fell to %s (red): %s.', h.score, array_to_string(h.recommendations, '; ')),
               'call', 'high', now() + interval '2 days', a.owner_id, a.id
          FROM crm.accounts a
          JOIN crm.account_health h ON h.tenant_id = t AND h.account_id = a.id AND h.scored_on = on_date
         WHERE a.tenant_id = t AND a.id = ANY (red);
        FOR r IN
            INSERT INTO crm.events (tenant_id, type, entity_type, entity_id, payload, actor_id)
            SELECT t, 'account.at_risk', 'account', a.id,
                   jsonb_build_object('score', h.score, 'scored_on', on_date, 'owner_id', a.owner_id), crm.current_user_id()
              FROM crm.accounts a
              JOIN crm.account_health h ON h.tenant_id = t AND h.account_id = a.id AND h.scored_on = on_date
             WHERE a.tenant_id = t AND a.id = ANY (red)
            RETURNING id
        LOOP
            -- announced as crm.emit_event announces every event: on the tenant's own channel
            PERFORM pg_notify((SELECT x.events_channel FROM crm.tenants x WHERE x.id = t), r.id::text);
            reds := reds + 1;
        END LOOP;
    END IF;
    c := c || jsonb_build_object('nb', (c->>'nb')::integer + 1, 'lo', hi, 'done', (c->>'done')::bigint + n,
                                 'turned_red', (c->>'turned_red')::bigint + reds);
    IF hi = 'ffffffff-ffff-ffff-ffff-ffffffffffff' THEN
        DROP TABLE pg_temp.crm_health_inputs;
    END IF;
    RETURN jsonb_build_object(
        'processed', n, 'changed', n,
        'details', jsonb_build_object('on_date', on_date, 'turned_red', (c->>'turned_red')::bigint, 'batch_size', (c->>'batch')::integer),
        'next', CASE WHEN hi <> 'ffffffff-ffff-ffff-ffff-ffffffffffff' THEN c END,
        'progress', format('crm.refresh_health_scores: tenant %s: %s of %s accounts scored', t, c->>'done', c->>'total'));
END
$$;
COMMENT ON FUNCTION crm.refresh_health_scores_tenant(uuid, jsonb, jsonb) IS 'The body of the job refresh_health_scores (crm.run_job): for the first call (cursor NULL) gathers a tenant''s health inputs as of on_date in one pass per source (into a temporary table that lasts the tenant''s run); each call judges and writes the next batch of crm.batch_size accounts (locked FOR KEY SHARE, as the snapshots'' foreign keys would lock them, until the batch commits), emits account.at_risk and gives a task to the owner of each account turning red, and returns {processed, changed: snapshots written, details: {on_date, turned_red, batch_size}, next, progress}. For managers and admins of the tenant, or the operator.';

-- The job as a function, as it always was: it runs in the caller's transaction (CALL crm.run_job
-- outside a transaction block commits batch by batch instead).
CREATE FUNCTION crm.refresh_health_scores(on_date date DEFAULT (pg_catalog.now() AT TIME ZONE 'UTC')::date) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('refresh_health_scores', crm.current_tenant(), jsonb_build_object('on_date', on_date))
$$;
COMMENT ON FUNCTION crm.refresh_health_scores(date) IS 'Writes one health snapshot per account for on_date (default today''s UTC date, as the activity days are UTC days; again on the same day replaces it) and returns {"tenants", "failed", "processed" and "changed": the snapshots written, "failures": [...]}: the tenant of the request context (its managers and admins), or every tenant for the operator without a context; the job refresh_health_scores of crm.run_job, in the caller''s transaction (CALL crm.run_job(''refresh_health_scores'') on its own commits batch by batch). The inputs are gathered in one pass per source (into a temporary table), then judged and written in batches of crm.batch_size accounts (each batch''s accounts locked FOR KEY SHARE, as the snapshots'' foreign keys would lock them, until the transaction ends), one run per tenant at a time (55P03), progress in pg_stat_activity, logged in crm.job_runs. Accounts turning red emit account.at_risk and get a task for their owner, once. In a run for every tenant, a tenant whose refresh fails is undone and logged as failed in crm.job_runs (SQLSTATE and message) and the others are still refreshed; a run for one tenant raises its error.';

CREATE FUNCTION crm.account_health_history(account_id uuid) RETURNS SETOF crm.account_health
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM 1 FROM crm.accounts a WHERE a.tenant_id = crm.current_tenant() AND a.id = account_health_history.account_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('account', account_id);
    END IF;
    RETURN QUERY SELECT h.* FROM crm.account_health h
                  WHERE h.tenant_id = crm.current_tenant() AND h.account_id = account_health_history.account_id
                  ORDER BY h.scored_on;
END
$$;
COMMENT ON FUNCTION crm.account_health_history(uuid) IS 'An account''s health snapshots, oldest first. Not visible: PT404.';

CREATE VIEW crm_api.account_health WITH (security_invoker = true) AS
    SELECT tenant_id, id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations, computed_at
    FROM crm.account_health;
COMMENT ON VIEW crm_api.account_health IS 'Health snapshots of the accounts the caller reads (read only): GET /account_health?band=eq.red&scored_on=eq.2026-11-23.';
GRANT SELECT ON crm_api.account_health TO crm_rep;

CREATE FUNCTION crm_api.account_health_history(account_id uuid) RETURNS SETOF crm_api.account_health
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT h.tenant_id, h.id, h.account_id, h.scored_on, h.score, h.band, h.risk_level, h.trend, h.factors, h.recommendations,
           h.computed_at
    FROM crm.account_health_history(account_id) h
$$;
COMMENT ON FUNCTION crm_api.account_health_history(uuid) IS 'An account''s health snapshots, oldest first (GET /rpc/account_health_history?account_id=...). 404 when the account is not visible.';
CREATE FUNCTION crm_api.refresh_health_scores(on_date date DEFAULT (pg_catalog.now() AT TIME ZONE 'UTC')::date) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_for_http('refresh_health_scores', jsonb_build_object('on_date', on_date))
$$;
COMMENT ON FUNCTION crm_api.refresh_health_scores(date) IS 'Writes today''s (or on_date''s) health snapshots of the tenant''s accounts and returns how many (POST /rpc/refresh_health_scores; managers and admins, 403 for reps; 409 while another run works).';
REVOKE EXECUTE ON FUNCTION crm_api.account_health_history(uuid), crm_api.refresh_health_scores(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.account_health_history(uuid), crm_api.refresh_health_scores(date) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.health_measures(float8[]), crm.health_score(float8[],float8[]),
    crm.health_factors(float8[],float8[],float8[]), crm.health_band(integer), crm.health_risk_level(integer),
    crm.health_trend(integer,integer), crm.health_inputs(uuid,date,timestamptz),
    crm.health_recommendations(float8[],float8[]), crm.refresh_health_scores(date),
    crm.refresh_health_scores_args(jsonb), crm.refresh_health_scores_tenant(uuid,jsonb,jsonb),
    crm.account_health_history(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.health_measures(float8[]), crm.health_score(float8[],float8[]),
    crm.health_factors(float8[],float8[],float8[]), crm.health_band(integer), crm.health_risk_level(integer),
    crm.health_trend(integer,integer), crm.health_inputs(uuid,date,timestamptz),
    crm.health_recommendations(float8[],float8[]), crm.account_health_history(uuid) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.refresh_health_scores(date), crm.refresh_health_scores_tenant(uuid,jsonb,jsonb) TO crm_manager;
-- (a job's arguments are checked before its caller: for anyone who may start the driver)
GRANT EXECUTE ON FUNCTION crm.refresh_health_scores_args(jsonb) TO crm_rep;
