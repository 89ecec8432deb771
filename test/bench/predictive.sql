-- predictive.sql: the quality of the naive Bayes win probability on the demo data, on held-out leads.
-- The demo data is loaded into a database of its own; one in five of its decided past leads is held
-- out (taken out of the model's counts by reopening it, inside a transaction rolled back at the end),
-- and the model's probabilities for them are compared with what happened: AUC (the chance that a won
-- lead ranks above a lost one) and Brier score (mean squared error of the probability), against the
-- rule-based score as a ranking and the base rate as a forecast. The times are those of computing
-- the held-out probabilities and scores; the quality is in the note.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT current_database() AS bench_db \gset
DROP DATABASE IF EXISTS crm_bench_demo;
CREATE DATABASE crm_bench_demo;
\c crm_bench_demo
SET client_min_messages = warning;
CREATE EXTENSION crm;
\ir ../demo/data.sql
\o /dev/null
BEGIN;
CREATE TEMP TABLE holdout AS
SELECT l.tenant_id, l.id, crm.lead_outcome(l) = 'won' AS won, l.converted_opportunity_id
FROM crm.leads l WHERE l.first_name = 'Past' AND abs(hashtext(l.id::text)) % 5 = 0;
-- out of the counts: lost leads reopened, won leads' deals back in negotiation
UPDATE crm.leads SET status = 'contacted' WHERE id IN (SELECT id FROM holdout WHERE NOT won);
UPDATE crm.opportunities o SET stage_id = s.id, stage_reason = 'held out of the model'
  FROM crm.pipeline_stages s
 WHERE s.tenant_id = o.tenant_id AND s.pipeline_id = o.pipeline_id AND s.name = 'negotiation'
   AND o.id IN (SELECT converted_opportunity_id FROM holdout WHERE won);
CREATE TEMP TABLE predicted AS SELECT h.won, crm.lead_win_probability(l) / 100 AS p FROM holdout h JOIN crm.leads l ON l.id = h.id;
CREATE TEMP TABLE scored AS SELECT h.won, crm.lead_score(l) / 100.0 AS s FROM holdout h JOIN crm.leads l ON l.id = h.id;
CREATE FUNCTION pg_temp.auc(p double precision[], won boolean[]) RETURNS numeric LANGUAGE sql AS $$
    -- Mann-Whitney: average ranks for ties
    WITH x AS (SELECT u.p, u.won FROM unnest(p, won) u(p, won)),
    r AS (SELECT x.won, rank() OVER (ORDER BY x.p) + (count(*) OVER (PARTITION BY x.p) - 1) / 2.0 AS rk FROM x)
    SELECT round(((sum(rk) FILTER (WHERE won) - count(*) FILTER (WHERE won) * (count(*) FILTER (WHERE won) + 1) / 2.0)
                  / (count(*) FILTER (WHERE won) * count(*) FILTER (WHERE NOT won)))::numeric, 3) FROM r
$$;
\o
SELECT count(*) AS held_out, count(*) FILTER (WHERE won) AS won,
       pg_temp.auc(array_agg(p::float8), array_agg(won)) AS auc_bayes,
       round(avg((p - won::int) ^ 2)::numeric, 3) AS brier_bayes,
       (SELECT pg_temp.auc(array_agg(s::float8), array_agg(won)) FROM scored) AS auc_rule_score,
       -- forecasting every held-out lead at the base rate b scores b (1 - b)
       round(avg(won::int)::numeric * (1 - avg(won::int)::numeric), 3) AS brier_base_rate
FROM predicted \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(crm.lead_win_probability(l)) FROM holdout h JOIN crm.leads l ON l.id = h.id \gset
SELECT (extract(epoch FROM clock_timestamp()) - :t0) * 1000 AS ms_bayes \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(crm.lead_score(l)) FROM holdout h JOIN crm.leads l ON l.id = h.id \gset
SELECT (extract(epoch FROM clock_timestamp()) - :t0) * 1000 AS ms_score \gset
ROLLBACK;
\c :bench_db
DROP DATABASE crm_bench_demo;
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
VALUES (format('predictive: %s held-out demo leads (%s won)', :held_out, :won), 'naive Bayes win probability', 'rule-based score (ranking only)',
        :ms_bayes, :ms_score, 1, 'AUC above the rule score''s; Brier below the base rate''s',
        format('AUC %s vs %s; Brier %s vs base rate %s', :'auc_bayes', :'auc_rule_score', :'brier_bayes', :'brier_base_rate'));
