-- The pipeline aggregate (src/pipeline.c, src/pipeline.sql): equal to a plain GROUP BY to the cent on
-- 100k random opportunities, parallel (Partial Aggregate under Gather) with the same answer, empty
-- inputs and empty partial states, and bad input.
SET client_min_messages = warning;
SET timezone = 'UTC';

-- 100k opportunities over 7 stages, amounts from 0.01 to about 10^12 (every magnitude mixed) and a few
-- negative ones, every probability 0-100, a few without a stage, amount or probability
SELECT setseed(0.42);
CREATE TABLE opps AS
SELECT CASE WHEN i % 997 = 0 THEN NULL ELSE ('00000000-0000-4000-8000-00000000000' || (i % 7))::uuid END AS stage_id,
       CASE WHEN i % 991 = 0 THEN NULL
            ELSE round((random() ^ 3 * 10 ^ (i % 13))::numeric, 2) * CASE WHEN i % 101 = 0 THEN -1 ELSE 1 END END AS amount,
       CASE WHEN i % 983 = 0 THEN NULL ELSE (i * 37) % 101 END AS probability,
       timestamptz '2026-01-01' - (i % 5000) * interval '1 hour' AS entered_at
FROM generate_series(1, 100000) i;
ANALYZE opps;

CREATE VIEW by_aggregate AS
SELECT t.* FROM unnest((SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) FROM opps)) t;
CREATE VIEW by_group_by AS
SELECT stage_id, count(*) AS deal_count, coalesce(sum(amount), 0) AS amount,
       coalesce(sum(amount * probability / 100), 0) AS weighted_amount,
       round(avg(extract(epoch FROM now() - entered_at) / 86400), 1) AS avg_days_in_stage
FROM opps WHERE stage_id IS NOT NULL GROUP BY stage_id;

-- the same stages, counts and sums to the cent (and the weighted ones exactly: amount x probability / 100)
SELECT count(*) AS stages,
       count(*) FILTER (WHERE a.deal_count = g.deal_count) AS same_count,
       count(*) FILTER (WHERE a.amount = g.amount) AS same_amount,
       count(*) FILTER (WHERE a.weighted_amount = g.weighted_amount) AS same_weighted,
       count(*) FILTER (WHERE a.avg_days_in_stage = g.avg_days_in_stage) AS same_days,
       sum(a.deal_count) AS deals
FROM by_aggregate a FULL JOIN by_group_by g USING (stage_id);

-- parallel: the plan has a Partial Aggregate under a Gather, and the answer is the same
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) FROM opps;
CREATE TEMP TABLE parallel_answer AS SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) AS t FROM opps;
SET max_parallel_workers_per_gather = 0;
SELECT (SELECT t FROM parallel_answer)::text = (SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) FROM opps)::text
       AS parallel_equals_serial;

-- empty partial states: rows in one corner of the table only, or none at all, under the parallel plan
SET max_parallel_workers_per_gather = 2;
SELECT crm.pipeline_totals(stage_id, amount, probability, NULL) FROM opps WHERE amount = 0.01 AND stage_id IS NOT NULL AND probability = 50;
SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) FROM opps WHERE false;
SELECT crm.pipeline_totals(stage_id, amount, probability, entered_at) FROM opps WHERE stage_id IS NULL;
RESET max_parallel_workers_per_gather;

-- by hand: one stage, the weighted amount exact to 1/10000, days to one decimal
SELECT * FROM unnest((SELECT crm.pipeline_totals(s, a, p, e)
                      FROM (VALUES ('00000000-0000-4000-8000-000000000001'::uuid, 0.01, 33, now() - interval '36 hours'),
                                   ('00000000-0000-4000-8000-000000000001', 1000.00, 50, now()),
                                   ('00000000-0000-4000-8000-000000000002', 333.33, 75, NULL),
                                   ('00000000-0000-4000-8000-000000000002', NULL, 75, NULL),
                                   ('00000000-0000-4000-8000-000000000002', 1, NULL, NULL),
                                   (NULL, 5, 5, NULL)) v(s, a, p, e)));
SELECT crm.pipeline_totals(s, a, 100, NULL) FROM (VALUES ('00000000-0000-4000-8000-000000000001'::uuid, 99999999999999999.99::numeric),
                                                         ('00000000-0000-4000-8000-000000000001', 99999999999999999.99)) v(s, a);

-- bad input: an error naming the problem, never a silently rounded sum
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 1.005, 50, NULL);
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 'NaN', 50, NULL);
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 'Infinity', 50, NULL);
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 1e20, 50, NULL);
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 1, 101, NULL);
SELECT crm.pipeline_totals('00000000-0000-4000-8000-000000000001', 1, -1, NULL);
-- the support functions are not for direct calls, and a forged state is refused
SELECT crm.pipeline_totals_add(NULL, '00000000-0000-4000-8000-000000000001', 1, 1, NULL);
SELECT crm.pipeline_totals_merge(NULL, NULL);
SELECT crm.pipeline_totals_result('\x00010203'::bytea);
SELECT crm.pipeline_totals_result(NULL);

DROP VIEW by_aggregate, by_group_by;
DROP TABLE opps;

-- infinite entry times leave a deal out of the mean days (they say nothing about time in stage)
SELECT * FROM unnest((SELECT crm.pipeline_totals(s, 10, 10, e)
                      FROM (VALUES ('00000000-0000-4000-8000-000000000001'::uuid, now() - interval '2 days'),
                                   ('00000000-0000-4000-8000-000000000001', 'infinity'::timestamptz),
                                   ('00000000-0000-4000-8000-000000000001', '-infinity'::timestamptz)) v(s, e)));
-- an aggregate of one's own around the support functions cannot feed them a forged state
CREATE AGGREGATE pg_temp.forged(uuid, numeric, integer, timestamptz)
    (SFUNC = crm.pipeline_totals_add, STYPE = bytea, INITCOND = '\x000000000a00000000000000');
SELECT pg_temp.forged('00000000-0000-4000-8000-000000000001', 1, 1, NULL);
CREATE AGGREGATE pg_temp.forged_merge(bytea) (SFUNC = crm.pipeline_totals_merge, STYPE = bytea, INITCOND = '\x000000000a00000000000000');
SELECT pg_temp.forged_merge(NULL::bytea);
-- and only the aggregate's owner may call them at all
SELECT has_function_privilege('crm_rep', 'crm.pipeline_totals_add(bytea, uuid, numeric, integer, timestamptz)', 'EXECUTE') AS rep_calls_add,
       has_function_privilege('crm_rep', 'crm.pipeline_totals(uuid, numeric, integer, timestamptz)', 'EXECUTE') AS rep_calls_aggregate;
