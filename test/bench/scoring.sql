-- scoring.sql: crm.lead_score (C) on every lead against the same default model written as a PL/pgSQL
-- function (target >= 20x faster) and as a plain SQL CASE expression (target: faster), and against
-- the floor of reading one column of every lead (target <= 2x); against a PL/pgSQL function that does
-- what crm.lead_score does (reads the tenant's model and applies it) on 10% of the leads; the backend's
-- memory across repeated scans; rescoring with 1% and 10% of the leads stale. Issue 4.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;

CREATE OR REPLACE FUNCTION bench.lead_score_plpgsql(l crm.leads) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s integer := 0;
BEGIN
    IF l.employee_count >= 1000 THEN s := s + 25;
    ELSIF l.employee_count >= 200 THEN s := s + 20;
    ELSIF l.employee_count >= 50 THEN s := s + 15;
    ELSIF l.employee_count >= 10 THEN s := s + 8;
    ELSIF l.employee_count >= 1 THEN s := s + 3;
    END IF;
    IF lower(l.industry) IN ('software', 'technology', 'financial_services', 'healthcare', 'manufacturing') THEN s := s + 15;
    ELSIF l.industry <> '' THEN s := s + 5;
    END IF;
    IF l.budget >= 100000 THEN s := s + 20;
    ELSIF l.budget >= 25000 THEN s := s + 15;
    ELSIF l.budget >= 5000 THEN s := s + 8;
    ELSIF l.budget > 0 THEN s := s + 3;
    END IF;
    s := s + CASE l.purchase_timeline WHEN 'immediate' THEN 15 WHEN 'this_quarter' THEN 12 WHEN 'next_quarter' THEN 8
                                      WHEN 'this_year' THEN 4 ELSE 0 END;
    IF l.is_decision_maker THEN s := s + 25; END IF;
    RETURN least(s, 100);
END
$$;

-- What crm.lead_score does, in PL/pgSQL: read the tenant's active model and apply its fit rules (ranges,
-- sets, values, equals), group caps and the total cap, to the lead (as jsonb). The bench's model is the
-- default one, which has no engagement rules, so none are applied here.
CREATE OR REPLACE FUNCTION bench.lead_score_model_plpgsql(l crm.leads) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    model jsonb;
    lead jsonb := to_jsonb(l);
    r jsonb;
    rg jsonb;
    v jsonb;
    p integer;
    grp text;
    groups jsonb := '{}';
    g record;
    total integer := 0;
BEGIN
    SELECT m.rules INTO model FROM crm.scoring_models m WHERE m.tenant_id = l.tenant_id AND m.is_active;
    IF model IS NULL THEN
        RETURN NULL;
    END IF;
    FOR r IN SELECT x.value FROM jsonb_array_elements(model->'fit') x LOOP
        v := lead -> (r->>'field');
        p := 0;
        IF v IS NOT NULL AND v <> 'null' THEN
            IF r ? 'ranges' THEN
                FOR rg IN SELECT x.value FROM jsonb_array_elements(r->'ranges') x LOOP
                    IF (NOT rg ? 'min' OR v::numeric >= (rg->'min')::numeric) AND (NOT rg ? 'above' OR v::numeric > (rg->'above')::numeric)
                       AND (NOT rg ? 'max' OR v::numeric <= (rg->'max')::numeric) AND (NOT rg ? 'below' OR v::numeric < (rg->'below')::numeric) THEN
                        p := (rg->>'points')::integer;
                        EXIT;
                    END IF;
                END LOOP;
            ELSIF r ? 'in' THEN
                IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(r->'in') x WHERE lower(x.value) = lower(rtrim(v #>> '{}'))) THEN
                    p := (r->>'points')::integer;
                ELSIF (v #>> '{}') <> '' THEN
                    p := coalesce((r->>'else')::integer, 0);
                END IF;
            ELSIF r ? 'values' THEN
                p := coalesce((SELECT x.value::integer FROM jsonb_each_text(r->'values') x WHERE lower(x.key) = lower(rtrim(v #>> '{}'))), 0);
            ELSIF r ? 'equals' THEN
                IF v = r->'equals' THEN
                    p := (r->>'points')::integer;
                END IF;
            END IF;
        END IF;
        grp := coalesce(r->>'group', r->>'name');
        groups := jsonb_set(groups, ARRAY[grp], to_jsonb(coalesce((groups->>grp)::integer, 0) + p));
    END LOOP;
    FOR g IN SELECT x.key, x.value::integer AS points FROM jsonb_each_text(groups) x LOOP
        total := total + least(g.points, coalesce((model->'caps'->>g.key)::integer, g.points));
    END LOOP;
    RETURN least(total, coalesce((model->>'total_cap')::integer, 100), 100);
END
$$;

\set q_c 'SELECT sum(crm.lead_score(l)) FROM crm.leads l'
\set q_plpgsql 'SELECT sum(bench.lead_score_plpgsql(l)) FROM crm.leads l'
\set q_case 'SELECT sum(least(100, CASE WHEN employee_count >= 1000 THEN 25 WHEN employee_count >= 200 THEN 20 WHEN employee_count >= 50 THEN 15 WHEN employee_count >= 10 THEN 8 WHEN employee_count >= 1 THEN 3 ELSE 0 END + CASE WHEN lower(industry) IN (''software'', ''technology'', ''financial_services'', ''healthcare'', ''manufacturing'') THEN 15 WHEN industry <> '''' THEN 5 ELSE 0 END + CASE WHEN budget >= 100000 THEN 20 WHEN budget >= 25000 THEN 15 WHEN budget >= 5000 THEN 8 WHEN budget > 0 THEN 3 ELSE 0 END + CASE purchase_timeline WHEN ''immediate'' THEN 15 WHEN ''this_quarter'' THEN 12 WHEN ''next_quarter'' THEN 8 WHEN ''this_year'' THEN 4 ELSE 0 END + CASE WHEN is_decision_maker THEN 25 ELSE 0 END)) FROM crm.leads'
\set q_floor 'SELECT sum(employee_count) FROM crm.leads'

BEGIN;
SELECT bench.same_answer('scoring vs plpgsql', :'q_c', '', :'q_plpgsql', '');
SELECT bench.same_answer('scoring vs case', :'q_c', '', :'q_case', '');
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'the default model''s rules hard-coded in PL/pgSQL', :'q_plpgsql', '', '>= 20x faster (ratio <= 0.05)', reps => 5, warmup => 1);
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'the same rules as a SQL CASE expression', :'q_case', '', 'faster (ratio < 1)', reps => 5, warmup => 1);
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'floor: sum(employee_count)', :'q_floor', '', '<= 2x', reps => 5, warmup => 1);
-- the model interpreted in PL/pgSQL takes ~0.1 ms a lead: compared on the leads of 10 tenants (10%)
SELECT format('SELECT sum(crm.lead_score(l)) FROM crm.leads l WHERE l.tenant_id IN (%s)', string_agg(format('%L::uuid', id), ', ')) AS q_c10,
       format('SELECT sum(bench.lead_score_model_plpgsql(l)) FROM crm.leads l WHERE l.tenant_id IN (%s)', string_agg(format('%L::uuid', id), ', ')) AS q_model10
FROM (SELECT md5('crm bench:tenant:' || t)::uuid AS id FROM generate_series(1, 10) t) x \gset
SELECT bench.same_answer('scoring vs the model in plpgsql', :'q_c10', '', :'q_model10', '');
-- memory: the backend's resident set after a first scan of every lead (scored from the columns, and as
-- whole rows from a subquery), then after three more of each: flat if nothing leaks per row
\set q_rows 'SELECT sum(crm.lead_score(x)) FROM (SELECT * FROM crm.leads OFFSET 0) x'
:q_c \g /dev/null
:q_rows \g /dev/null
SELECT bench.backend_rss_kb() AS rss_before \gset
:q_c \g /dev/null
:q_rows \g /dev/null
:q_c \g /dev/null
:q_rows \g /dev/null
:q_c \g /dev/null
:q_rows \g /dev/null
SELECT bench.backend_rss_kb() AS rss_after \gset
UPDATE bench.results SET note = format('backend RSS %s kB after a first scan of every lead (columns and whole rows), %s kB after three more of each',
                                       :rss_before, :rss_after)
 WHERE name = 'scoring: default model over every lead' AND alternative = 'floor: sum(employee_count)';
SELECT bench.compare('scoring: default model over the leads of 10 tenants', 'crm.lead_score(l), C', :'q_c10', '',
    'the tenant''s active model read and applied by a PL/pgSQL function (what crm.lead_score does)', :'q_model10', '',
    '>= 20x faster (ratio <= 0.05)', reps => 3, warmup => 0);
COMMIT;

-- Rescoring: after a bulk import without triggers left 1% (then 10%) of the leads unscored, the batch
-- job's incremental pass (it reads only leads whose score can be stale) against the obvious one-statement
-- UPDATE over every lead, against itself at 10%, and against its own full pass (what it does after a
-- model change). A full pass first records the model the incremental passes start from.
SELECT crm.rescore_leads(NULL, full_pass => true)->>'changed' AS changed_by_first_full_pass;
\set q_rescore 'SELECT crm.rescore_leads(NULL)'
\set q_full 'SELECT crm.rescore_leads(NULL, full_pass => true)'
\set q_update 'UPDATE crm.leads l SET score = crm.lead_score(l) WHERE l.score IS DISTINCT FROM crm.lead_score(l)'
BEGIN;
SELECT bench.compare('rescoring: every lead, 1% unscored', 'crm.rescore_leads, incremental pass', :'q_rescore', 'SELECT bench.unscore(1)',
    'one UPDATE ... WHERE score IS DISTINCT FROM crm.lead_score(l)', :'q_update', 'SELECT bench.unscore(1)',
    'time ~ the stale rows', reps => 3, warmup => 1);
SELECT bench.compare('rescoring: every lead, 10% unscored vs 1%', 'crm.rescore_leads, incremental, 10%', :'q_rescore', 'SELECT bench.unscore(10)',
    'crm.rescore_leads, incremental, 1%', :'q_rescore', 'SELECT bench.unscore(1)', '~ 10x', reps => 3, warmup => 0);
SELECT bench.compare('rescoring: every lead, 1% unscored, full pass', 'crm.rescore_leads, incremental pass', :'q_rescore', 'SELECT bench.unscore(1)',
    'crm.rescore_leads, full pass (as after a model change)', :'q_full', 'SELECT bench.unscore(1)', '', reps => 3, warmup => 0);
COMMIT;
