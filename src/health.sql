-- health.sql: customer health. Once a day (crm.refresh_health_scores, scheduled or called), every
-- account gets a snapshot: four measures on 0-100 from its activities, opportunities, cases and NPS
-- answers (src/health.c), their weighted mean by the tenant's health_weights (a measure without data
-- left out, its weight spread over the others), a band, a risk level, a trend against the previous
-- snapshot, the factors and plain-words recommendations. An account turning red emits account.at_risk
-- and gives its owner a task, once.

CREATE FUNCTION crm.health_measures(inputs double precision[]) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'crm_health_measures'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.health_measures(double precision[]) IS 'Internal: an account''s four health measures {engagement, activity, satisfaction, commercial} on 0-100 (NULL where it has no data) from the inputs crm.refresh_health_scores_tenant gathers, in their order.';

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

-- The job's body (src/jobs.sql, crm.job_tenant): one batch of a tenant's accounts. The first call finds
-- the batches' bounds, every batch-th account in order; each call then gathers the inputs of the next
-- batch's accounts (one pass per source over their range), judges and writes them.
-- Nothing lasts between calls but the cursor: on Citus each call runs on the tenant's node, in a
-- transaction of its own under CALL crm.run_job (and a temporary table there would keep a transaction
-- that spans nodes from committing: "cannot PREPARE a transaction that has operated on temporary objects").
-- (Custom plans: the planner sees each batch's bounds, which decide between the sources' indexes and a
-- scan of the tenant.)
CREATE FUNCTION crm.refresh_health_scores_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan
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
    bounds uuid[];
    -- the batch's snapshots, judged (in the same order in each array)
    ids uuid[];
    scores integer[];
    bands text[];
    risks text[];
    trends text[];
    factors jsonb[];
    advice jsonb[];
    latest date[];
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
        SELECT count(*), coalesce(array_agg(b.id ORDER BY b.id) FILTER (WHERE b.k % batch = 0), '{}') INTO n, bounds
          FROM (SELECT a.id, row_number() OVER (ORDER BY a.id) AS k FROM crm.accounts a WHERE a.tenant_id = t) b;
        c := jsonb_build_object('batch', batch, 'nb', 0, 'done', 0, 'turned_red', 0, 'total', n, 'bounds', to_jsonb(bounds),
                                'lo', '00000000-0000-0000-0000-000000000000');
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
    -- The batch's inputs, as of on_date (ref: the end of that day, or now for today): one pass over
    -- each source for the batch's range of accounts (through each source's index on the tenant and
    -- account), grouped by account (hashed), rather than an index probe per account. Activities come
    -- from their rollup per account and day (crm.account_activity_days, src/account_activity.sql): the
    -- windows are whole UTC days, the 30 and 90 ending with on_date; only the rollup's rows of those
    -- 90 days are read (an account's days go back years): the latest activity of an account without
    -- any there is probed by index. (In this one statement: on Citus a function that queries shards,
    -- called in a query over them, cannot run there.)
    b AS MATERIALIZED (SELECT ref - interval '180 days' AS d180, ref - interval '360 days' AS d360, ref - interval '7 days' AS d7,
                              ref - interval '365 days' AS d365),
    -- only the 90 days' rows: an account without one there is probed for its latest older day below
    act AS (SELECT d.account_id AS acc_id, sum(d.activities) FILTER (WHERE d.day > on_date - 30) AS n30, sum(d.activities) AS n90,
                 max(d.last_at) AS last_at, sum(d.positive) AS pos, sum(d.negative) AS neg, sum(d.rated) AS rated
            FROM crm.account_activity_days d
           WHERE d.tenant_id = t AND d.account_id > lo AND d.account_id <= hi AND d.day > on_date - 90 AND d.day <= on_date
           GROUP BY d.account_id),
    opp AS (SELECT o.account_id AS acc_id,
                 count(*) FILTER (WHERE o.closed_at IS NULL) AS open_opps,
                 count(*) FILTER (WHERE o.closed_at <= ref) AS closed,
                 coalesce(sum(o.amount) FILTER (WHERE s.is_won AND o.closed_at > b.d180 AND o.closed_at <= ref), 0) AS won_recent,
                 coalesce(sum(o.amount) FILTER (WHERE s.is_won AND o.closed_at > b.d360 AND o.closed_at <= b.d180), 0) AS won_before,
                 count(*) FILTER (WHERE s.is_lost AND o.closed_at > b.d180 AND o.closed_at <= ref) AS lost_recent
            FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = t AND s.id = o.stage_id CROSS JOIN b
           WHERE o.tenant_id = t AND o.account_id > lo AND o.account_id <= hi
           GROUP BY o.account_id),
    cas AS (SELECT cs.account_id AS acc_id, avg(cs.satisfaction) AS csat, count(*) AS cases,
                 count(*) FILTER (WHERE cs.status IN ('open', 'pending')) AS open_cases,
                 count(*) FILTER (WHERE cs.status IN ('open', 'pending') AND cs.opened_at < b.d7) AS overdue
            FROM crm.cases cs CROSS JOIN b WHERE cs.tenant_id = t AND cs.account_id > lo AND cs.account_id <= hi AND cs.opened_at <= ref
           GROUP BY cs.account_id),
    nps AS (SELECT nr.account_id AS acc_id, avg(nr.score) AS nps
            FROM crm.nps_responses nr CROSS JOIN b
           WHERE nr.tenant_id = t AND nr.account_id > lo AND nr.account_id <= hi AND nr.responded_at > b.d365 AND nr.responded_at <= ref
           GROUP BY nr.account_id),
    inputs AS (
        SELECT acc.id AS account_id,
           -- (an activity later on_date than ref, logged ahead, makes the last one 0 days ago)
           ARRAY[(l.at IS NOT NULL)::integer, coalesce(a.n30, 0), coalesce(a.n90, 0), greatest(extract(epoch FROM ref - l.at) / 86400, 0),
                 coalesce(a.pos, 0), coalesce(a.neg, 0), coalesce(a.rated, 0), coalesce(o.open_opps, 0), k.csat, np.nps,
                 coalesce(k.cases, 0), coalesce(k.open_cases, 0), coalesce(k.overdue, 0), coalesce(o.closed, 0),
                 coalesce(o.won_recent, 0), coalesce(o.won_before, 0), coalesce(o.lost_recent, 0)]::double precision[] AS inputs
      FROM locked acc LEFT JOIN act a ON a.acc_id = acc.id LEFT JOIN opp o ON o.acc_id = acc.id
      LEFT JOIN cas k ON k.acc_id = acc.id LEFT JOIN nps np ON np.acc_id = acc.id
      -- the latest activity: of the 90 days, else of the latest day before them (probed only then)
      CROSS JOIN LATERAL (SELECT coalesce(a.last_at, (SELECT d.last_at FROM crm.account_activity_days d
                                                       WHERE d.tenant_id = t AND d.account_id = acc.id AND d.day <= on_date - 90
                                                       ORDER BY d.day DESC LIMIT 1)) AS at) l),
    fresh AS (
        SELECT i.account_id, i.inputs, m.measures, crm.health_score(m.measures, weights) AS score
          FROM inputs i, LATERAL (SELECT crm.health_measures(i.inputs) AS measures) m),
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
                              LIMIT 1) s ON true)
    -- judged into arrays (in one order): on Citus the writes below go to the shards each on its own (a
    -- statement that reads some tables and writes others, modifying CTEs, is planned in parts, through
    -- the coordinator, which a call delegated to the tenant's node cannot do)
    SELECT count(*), array_agg(j.account_id) FILTER (WHERE j.band = 'red' AND j.previous_band IS DISTINCT FROM 'red'
                                                     AND j.same_day_band IS DISTINCT FROM 'red'),
           array_agg(j.account_id), array_agg(j.score), array_agg(j.band), array_agg(j.risk_level), array_agg(j.trend),
           array_agg(crm.health_factors(j.inputs, j.measures, weights)), array_agg(to_jsonb(crm.health_recommendations(j.inputs, j.measures))),
           array_agg(j.latest_on)
      INTO n, red, ids, scores, bands, risks, trends, factors, advice, latest
      FROM judged j;
    -- where the latest snapshot is older than on_date (a day's first run), there is none of on_date to
    -- replace: a plain insert (no conflict check, no speculative insertion)
    INSERT INTO crm.account_health (tenant_id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations)
    SELECT t, u.account_id, on_date, u.score, u.band, u.risk_level, u.trend, u.factors, ARRAY(SELECT jsonb_array_elements_text(u.advice))
      FROM unnest(ids, scores, bands, risks, trends, factors, advice, latest) u (account_id, score, band, risk_level, trend, factors, advice, latest_on)
     WHERE u.latest_on < on_date;
    -- again on a day, a past day or an account's first: replaced where it comes out different
    INSERT INTO crm.account_health AS h (tenant_id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations)
    SELECT t, u.account_id, on_date, u.score, u.band, u.risk_level, u.trend, u.factors, ARRAY(SELECT jsonb_array_elements_text(u.advice))
      FROM unnest(ids, scores, bands, risks, trends, factors, advice, latest) u (account_id, score, band, risk_level, trend, factors, advice, latest_on)
     WHERE u.latest_on IS NULL OR u.latest_on >= on_date
    ON CONFLICT (tenant_id, account_id, scored_on) DO UPDATE
       SET score = excluded.score, band = excluded.band, risk_level = excluded.risk_level, trend = excluded.trend,
           factors = excluded.factors, recommendations = excluded.recommendations, computed_at = excluded.computed_at
     -- a snapshot that comes out the same is left as it is
     WHERE (h.score, h.band, h.risk_level, h.trend, h.factors, h.recommendations)
           IS DISTINCT FROM (excluded.score, excluded.band, excluded.risk_level, excluded.trend, excluded.factors, excluded.recommendations);
    -- each account's latest: moved to on_date unless a later snapshot exists; unchanged rows left as they
    -- are (an update of the row judged read, by its key, not an upsert: it is known to be there; by key
    -- rather than ctid, which Citus cannot send to a shard)
    UPDATE crm.account_health_latest l
       SET scored_on = on_date, score = u.score, band = u.band, trend = u.trend
      FROM unnest(ids, scores, bands, trends, latest) u (account_id, score, band, trend, latest_on)
     WHERE l.tenant_id = t AND l.account_id = u.account_id AND u.latest_on <= on_date
       AND (l.scored_on, l.score, l.band, l.trend) IS DISTINCT FROM (on_date, u.score, u.band, u.trend);
    INSERT INTO crm.account_health_latest AS l (tenant_id, account_id, scored_on, score, band, trend)
    SELECT t, u.account_id, on_date, u.score, u.band, u.trend
      FROM unnest(ids, scores, bands, trends, latest) u (account_id, score, band, trend, latest_on)
     WHERE u.latest_on IS NULL
    ON CONFLICT (tenant_id, account_id) DO UPDATE
       SET scored_on = excluded.scored_on, score = excluded.score, band = excluded.band, trend = excluded.trend;
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
            -- announced as crm.emit_event announces every event: on the tenant's own channel, but not
            -- on a Citus worker (no listener there, and NOTIFY forbids the two-phase commit)
            IF pg_catalog.current_setting('application_name') NOT LIKE 'citus_internal%' THEN
                PERFORM pg_notify((SELECT x.events_channel FROM crm.tenants x WHERE x.id = t), r.id::text);
            END IF;
            reds := reds + 1;
        END LOOP;
    END IF;
    c := c || jsonb_build_object('nb', (c->>'nb')::integer + 1, 'lo', hi, 'done', (c->>'done')::bigint + n,
                                 'turned_red', (c->>'turned_red')::bigint + reds);
    RETURN jsonb_build_object(
        'processed', n, 'changed', n,
        'details', jsonb_build_object('on_date', on_date, 'turned_red', (c->>'turned_red')::bigint, 'batch_size', (c->>'batch')::integer),
        'next', CASE WHEN hi <> 'ffffffff-ffff-ffff-ffff-ffffffffffff' THEN c END,
        'progress', format('crm.refresh_health_scores: tenant %s: %s of %s accounts scored', t, c->>'done', c->>'total'));
END
$$;
COMMENT ON FUNCTION crm.refresh_health_scores_tenant(uuid, jsonb, jsonb) IS 'The body of the job refresh_health_scores (crm.run_job): the first call (cursor NULL) finds the bounds of a tenant''s batches of crm.batch_size accounts; each call gathers the health inputs of the next batch as of on_date (one pass per source over the batch''s accounts), judges and writes them (locked FOR KEY SHARE, as the snapshots'' foreign keys would lock them, until the batch commits), emits account.at_risk and gives a task to the owner of each account turning red, and returns {processed, changed: snapshots written, details: {on_date, turned_red, batch_size}, next, progress}. For managers and admins of the tenant, or the operator.';

-- The job as a function, as it always was: it runs in the caller's transaction (CALL crm.run_job
-- outside a transaction block commits batch by batch instead).
CREATE FUNCTION crm.refresh_health_scores(on_date date DEFAULT (pg_catalog.now() AT TIME ZONE 'UTC')::date) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('refresh_health_scores', crm.current_tenant(), jsonb_build_object('on_date', on_date))
$$;
COMMENT ON FUNCTION crm.refresh_health_scores(date) IS 'Writes one health snapshot per account for on_date (default today''s UTC date, as the activity days are UTC days; again on the same day replaces it) and returns {"tenants", "failed", "processed" and "changed": the snapshots written, "failures": [...]}: the tenant of the request context (its managers and admins), or every tenant for the operator without a context; the job refresh_health_scores of crm.run_job, in the caller''s transaction (CALL crm.run_job(''refresh_health_scores'') on its own commits batch by batch). The accounts are taken in batches of crm.batch_size, each batch''s inputs gathered in one pass per source, judged and written (each batch''s accounts locked FOR KEY SHARE, as the snapshots'' foreign keys would lock them, until the transaction ends), one run per tenant at a time (55P03), progress in pg_stat_activity, logged in crm.job_runs. Accounts turning red emit account.at_risk and get a task for their owner, once. In a run for every tenant, a tenant whose refresh fails is undone and logged as failed in crm.job_runs (SQLSTATE and message) and the others are still refreshed; a run for one tenant raises its error.';

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
    crm.health_trend(integer,integer), 
    crm.health_recommendations(float8[],float8[]), crm.refresh_health_scores(date),
    crm.refresh_health_scores_args(jsonb), crm.refresh_health_scores_tenant(uuid,jsonb,jsonb),
    crm.account_health_history(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.health_measures(float8[]), crm.health_score(float8[],float8[]),
    crm.health_factors(float8[],float8[],float8[]), crm.health_band(integer), crm.health_risk_level(integer),
    crm.health_trend(integer,integer), 
    crm.health_recommendations(float8[],float8[]), crm.account_health_history(uuid) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.refresh_health_scores(date), crm.refresh_health_scores_tenant(uuid,jsonb,jsonb) TO crm_manager;
-- (a job's arguments are checked before its caller: for anyone who may start the driver)
GRANT EXECUTE ON FUNCTION crm.refresh_health_scores_args(jsonb) TO crm_rep;
