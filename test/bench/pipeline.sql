-- pipeline.sql: crm.pipeline_summary (the C aggregate crm.pipeline_totals in one pass) on one tenant's
-- PIPELINE_OPPORTUNITIES opportunities (default 1 000 000) against the same summary in plain SQL (a
-- GROUP BY stage with count, sum and FILTER, joined to the stages), with 0 and with 2 parallel workers:
-- target not slower. Both give the same rows (checked first). Also the aggregate alone against GROUP BY,
-- and the backend's memory across the 1M-row scan. Issue 6.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?pipeline_opportunities}
\else
\set pipeline_opportunities 1000000
\endif
SELECT md5('crm bench:pipeline')::uuid AS pt, md5('crm bench:pipeline:user')::uuid AS pu \gset
SELECT NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = :'pt') AS need_data \gset
\if :need_data
SELECT crm.create_tenant('Bench pipeline', '{}', :'pt') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES (:'pt', :'pu', 'sales@pipeline.example', 'Sales manager', 'manager');
SET session_replication_role = replica;
-- deals over the six stages, amounts from 0.01 to 10 million (every magnitude), probabilities the
-- stage's or overridden, in their stage for up to 120 days
INSERT INTO crm.opportunities (tenant_id, name, pipeline_id, stage_id, amount, currency, probability, forecast_category, closed_at,
                               stage_changed_at, lost_reason, owner_id)
SELECT :'pt', 'Deal ' || n, s.pipeline_id, s.id, round((((n::bigint * 7919) % 1000003) / 1000003.0) ^ 3 * 10::numeric ^ (n % 8), 2),
       'USD', CASE WHEN s.is_won OR s.is_lost OR n % 3 > 0 THEN s.probability ELSE (n * 13) % 101 END, s.forecast_category,
       CASE WHEN s.is_won OR s.is_lost THEN now() - ((n * 31) % 360) * interval '1 day' END,
       now() - ((n * 17) % (120 * 24)) * interval '1 hour', CASE WHEN s.is_lost THEN 'price' END, :'pu'
FROM generate_series(1, :pipeline_opportunities) n
JOIN crm.pipeline_stages s ON s.tenant_id = :'pt' AND s.position = (n * 7) % 6;
RESET session_replication_role;
VACUUM ANALYZE crm.opportunities;
\endif

-- the same summary in plain SQL: every stage of the default pipeline, with its deals' count, amount,
-- weighted amount and mean days in stage (open stages)
CREATE OR REPLACE FUNCTION bench.pipeline_summary_sql(t uuid) RETURNS TABLE (stage text, "position" integer, deal_count bigint, amount numeric,
                                                                             weighted_amount numeric, probability numeric, avg_days_in_stage numeric)
LANGUAGE sql STABLE AS $$
    -- (the weighted amount shown as crm's: exact, trailing zeros dropped down to cents)
    SELECT s.name, s.position, coalesce(g.n, 0), coalesce(g.amount, 0.00),
           coalesce(round(g.weighted, greatest(2, scale(trim_scale(g.weighted)))), 0.00), s.probability::numeric,
           CASE WHEN NOT (s.is_won OR s.is_lost) THEN g.days END
      FROM crm.pipeline_stages s
      JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default
      LEFT JOIN (SELECT o.stage_id, count(*) AS n, sum(o.amount) AS amount, sum(o.amount * o.probability / 100) AS weighted,
                        round(avg(extract(epoch FROM now() - o.stage_changed_at)) FILTER (WHERE o.stage_changed_at IS NOT NULL) / 86400, 1) AS days
                   FROM crm.opportunities o
                  WHERE o.tenant_id = t AND o.pipeline_id = (SELECT x.id FROM crm.pipelines x WHERE x.tenant_id = t AND x.is_default)
                  GROUP BY o.stage_id) g ON g.stage_id = s.id
     WHERE s.tenant_id = t
     ORDER BY s.position
$$;

SELECT bench.same_answer('pipeline_summary',
    'SELECT * FROM crm.pipeline_summary()', format('SELECT crm.set_context(%L, %L)', :'pt', :'pu'),
    format('SELECT * FROM bench.pipeline_summary_sql(%L)', :'pt'), format('SELECT crm.set_context(%L, %L)', :'pt', :'pu'));

-- with no parallel worker, then with two (each side sets the same limit)
SELECT bench.compare(format('pipeline_summary, %s deals, %s workers', :pipeline_opportunities, w),
    'crm.pipeline_summary()', 'SELECT * FROM crm.pipeline_summary()', setup,
    'plain SQL GROUP BY stage', format('SELECT * FROM bench.pipeline_summary_sql(%L)', :'pt'), setup,
    'not slower (ratio <= 1)', 11, 2)
FROM unnest(ARRAY[0, 2]) w,
     LATERAL (SELECT format('SELECT crm.set_context(%L, %L), set_config(''max_parallel_workers_per_gather'', %L, true)', :'pt', :'pu', w) AS setup) x;
-- the aggregate alone against GROUP BY with the same sums, over the whole table (as the operator)
SELECT bench.compare(format('pipeline_totals aggregate, %s deals', :pipeline_opportunities),
    'crm.pipeline_totals(...)',
    format('SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities WHERE tenant_id = %L', :'pt'), '',
    'GROUP BY stage_id: count, sum, sum(amount * probability / 100), avg',
    format('SELECT stage_id, count(*), sum(amount), sum(amount * probability / 100), avg(extract(epoch FROM now() - stage_changed_at))'
           ' FROM crm.opportunities WHERE tenant_id = %L GROUP BY stage_id', :'pt'), '',
    'faster', 11, 2);

-- memory: the backend's resident set across scans of every deal (bench.backend_rss_kb): flat if nothing leaks per row
-- (the first scan maps the table's shared buffers into the backend, so the figures are taken after it)
SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities WHERE tenant_id = :'pt' \g /dev/null
SELECT bench.backend_rss_kb() AS rss_before \gset
SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities WHERE tenant_id = :'pt' \g /dev/null
SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities WHERE tenant_id = :'pt' \g /dev/null
SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities WHERE tenant_id = :'pt' \g /dev/null
SELECT bench.backend_rss_kb() AS rss_after \gset
UPDATE bench.results SET note = format('backend RSS %s kB after a first scan of every deal, %s kB after three more', :rss_before, :rss_after)
 WHERE name = format('pipeline_totals aggregate, %s deals', :pipeline_opportunities);
