-- Customer health (src/health.c, src/health.sql): the weighted mean with missing measures, the bands
-- and risk levels at their edges, the trend, the measures from their inputs, and bad input.
SET client_min_messages = warning;

-- the weighted mean: a measure without data is left out and its weight spread over the others
SELECT label, measures, weights, crm.health_score(measures, weights) AS score
FROM (VALUES
    ('all four',                   ARRAY[80, 60, 90, 70]::float8[],       ARRAY[30, 20, 30, 20]::float8[]),
    ('satisfaction missing',       ARRAY[80, 60, NULL, 70]::float8[],     ARRAY[30, 20, 30, 20]::float8[]),
    ('only satisfaction',          ARRAY[NULL, NULL, 40, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('missing is not zero',        ARRAY[100, NULL, NULL, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('no data at all',             ARRAY[NULL, NULL, NULL, NULL]::float8[], ARRAY[30, 20, 30, 20]::float8[]),
    ('only a measure weighing 0',  ARRAY[50, NULL, NULL, NULL]::float8[], ARRAY[0, 20, 30, 20]::float8[]),
    ('half rounds up',             ARRAY[75, 74, NULL, NULL]::float8[],   ARRAY[1, 1, 0, 0]::float8[]),
    ('the extremes',               ARRAY[0, 100, 0, 100]::float8[],       ARRAY[1, 1, 1, 1]::float8[])
) v(label, measures, weights);

-- bands and risk levels at every edge
SELECT s AS score, crm.health_band(s) AS band, crm.health_risk_level(s) AS risk_level
FROM unnest(ARRAY[100, 75, 74, 50, 49, 25, 24, 0, NULL]) s;

-- the trend against the previous snapshot (more than 3 points)
SELECT score, previous, crm.health_trend(score, previous) AS trend
FROM (VALUES (80, 77), (81, 77), (74, 77), (73, 77), (80, NULL), (NULL, 80)) v(score, previous);

-- measures from inputs: activities ever, 30 d, 90 d, days since the last, positive, negative, rated,
-- open opportunities, CSAT, NPS, cases, open cases, overdue cases, closed deals, won 180 d, won the
-- 180 d before, lost 180 d
CREATE TEMP TABLE examples (n, label, inputs) AS
SELECT row_number() OVER (), label, inputs FROM (VALUES
    ('a new account, nothing yet',       ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('busy and happy',                   ARRAY[40, 6, 12, 1, 5, 0, 5, 2, 4.8, 9.5, 3, 0, 0, 4, 90000, 60000, 0]::float8[]),
    ('quiet for 60 days',                ARRAY[10, 0, 1, 60, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('cases only, two of them overdue',  ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, NULL, 4, 3, 2, 0, 0, 0, 0]::float8[]),
    ('a detractor',                      ARRAY[0, 0, 0, NULL, 0, 0, 0, 0, NULL, 3, 0, 0, 0, 0, 0, 0, 0]::float8[]),
    ('revenue halved, a deal lost',      ARRAY[5, 1, 2, 10, 0, 1, 1, 1, NULL, NULL, 0, 0, 0, 3, 30000, 60000, 1]::float8[]),
    ('first win',                        ARRAY[5, 1, 2, 10, 1, 0, 1, 0, NULL, NULL, 0, 0, 0, 1, 10000, 0, 0]::float8[])
) v(label, inputs);
SELECT label, crm.health_measures(inputs) AS "engagement, activity, satisfaction, commercial"
FROM examples ORDER BY n;

-- the same accounts, scored with the default weights, banded, with advice
SELECT label, crm.health_score(crm.health_measures(inputs), ARRAY[30, 20, 30, 20]) AS score,
       crm.health_band(crm.health_score(crm.health_measures(inputs), ARRAY[30, 20, 30, 20])) AS band,
       crm.health_recommendations(inputs, crm.health_measures(inputs)) AS recommendations
FROM examples ORDER BY n;

-- bad input: 22023
CREATE FUNCTION pg_temp.try(f text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE f;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT f AS call, pg_temp.try(f) AS result FROM (VALUES
    ('SELECT crm.health_score(ARRAY[101, 50]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[-1, 50]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1, -1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1, NULL]::float8[])'),
    ('SELECT crm.health_score(ARRAY[50, 50]::float8[], ARRAY[1]::float8[])'),
    ('SELECT crm.health_score(ARRAY[[50], [50]]::float8[], ARRAY[1, 1]::float8[])'),
    ('SELECT crm.health_measures(ARRAY[1, 2, 3]::float8[])'),
    ('SELECT crm.health_score(NULL, ARRAY[1]::float8[]) IS NULL'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"engagement": -1}}'')'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"loyalty": 10}}'')'),
    ('SELECT crm.tenant_settings(''{"health_weights": {"engagement": 0}}'')'),
    ('SELECT crm.refresh_health_scores(''2999-01-01'')')
) v(f);

-- the activity figures in one pass (crm.activity_stats): all, after since_30, after since_90, the latest
-- (Unix epoch), positive, negative and rated ones after since_90; a row at a boundary is not after it
SELECT crm.activity_stats(at, s::crm.sentiment, '2026-01-31 00:00+00', '2025-11-02 00:00+00') AS stats
FROM (VALUES ('2026-02-10 00:00+00'::timestamptz, 'positive'), ('2026-01-31 00:00+00', 'negative'), ('2026-01-15 00:00+00', NULL),
             ('2025-12-01 00:00+00', 'neutral'), ('2025-11-02 00:00+00', 'positive'), ('2024-01-01 00:00+00', 'negative'),
             (NULL, 'positive')) v(at, s);
SELECT crm.activity_stats(at, NULL, now(), now()) AS no_activities FROM (SELECT now() AS at WHERE false) v;
-- parallel: partial states combined give the same figures
SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
CREATE TABLE acts AS SELECT timestamptz '2026-01-01' + (i % 400) * interval '1 day' AS at,
                            (ARRAY['positive', 'neutral', 'negative', NULL])[1 + i % 4]::crm.sentiment AS s
                     FROM generate_series(1, 50000) i;
ANALYZE acts;
EXPLAIN (COSTS OFF) SELECT crm.activity_stats(at, s, '2026-10-01', '2026-08-01') FROM acts;
SELECT crm.activity_stats(at, s, '2026-10-01', '2026-08-01') =
       ARRAY[count(*), count(*) FILTER (WHERE at > '2026-10-01'), count(*) FILTER (WHERE at > '2026-08-01'),
             extract(epoch FROM max(at)), count(*) FILTER (WHERE at > '2026-08-01' AND s = 'positive'),
             count(*) FILTER (WHERE at > '2026-08-01' AND s = 'negative'), count(*) FILTER (WHERE at > '2026-08-01' AND s IS NOT NULL)]::float8[]
       AS same_as_filtered_counts
FROM acts;
RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
DROP TABLE acts;
-- its support functions are for the aggregate only, with a state of its shape
SELECT f AS call, pg_temp.try(f) AS result FROM (VALUES
    ('SELECT crm.activity_stats_add(''{0,0,0,0,0,0,0}'', now(), NULL, now(), now())'),
    ('SELECT crm.activity_stats_merge(''{0,0,0,0,0,0,0}'', ''{0,0,0,0,0,0,0}'')')
) v(f);
CREATE AGGREGATE pg_temp.bad_stats(float8[]) (SFUNC = crm.activity_stats_merge, STYPE = float8[], INITCOND = '{1,2}');
SELECT pg_temp.bad_stats('{0,0,0,0,0,0,0}');
