-- scoring.sql: crm.lead_score (C) on every lead against the same default model written as a PL/pgSQL
-- function (target >= 20x faster) and as a plain SQL CASE expression (target: faster), and against
-- the floor of reading one column of every lead (target <= 2x). Issue 4.
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

\set q_c 'SELECT sum(crm.lead_score(l)) FROM crm.leads l'
\set q_plpgsql 'SELECT sum(bench.lead_score_plpgsql(l)) FROM crm.leads l'
\set q_case 'SELECT sum(least(100, CASE WHEN employee_count >= 1000 THEN 25 WHEN employee_count >= 200 THEN 20 WHEN employee_count >= 50 THEN 15 WHEN employee_count >= 10 THEN 8 WHEN employee_count >= 1 THEN 3 ELSE 0 END + CASE WHEN lower(industry) IN (''software'', ''technology'', ''financial_services'', ''healthcare'', ''manufacturing'') THEN 15 WHEN industry <> '''' THEN 5 ELSE 0 END + CASE WHEN budget >= 100000 THEN 20 WHEN budget >= 25000 THEN 15 WHEN budget >= 5000 THEN 8 WHEN budget > 0 THEN 3 ELSE 0 END + CASE purchase_timeline WHEN ''immediate'' THEN 15 WHEN ''this_quarter'' THEN 12 WHEN ''next_quarter'' THEN 8 WHEN ''this_year'' THEN 4 ELSE 0 END + CASE WHEN is_decision_maker THEN 25 ELSE 0 END)) FROM crm.leads'
\set q_floor 'SELECT sum(employee_count) FROM crm.leads'

BEGIN;
SELECT bench.same_answer('scoring vs plpgsql', :'q_c', '', :'q_plpgsql', '');
SELECT bench.same_answer('scoring vs case', :'q_c', '', :'q_case', '');
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'the same rules in PL/pgSQL', :'q_plpgsql', '', '>= 20x faster (ratio <= 0.05)', reps => 5, warmup => 1);
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'the same rules as a SQL CASE expression', :'q_case', '', 'faster (ratio < 1)', reps => 5, warmup => 1);
SELECT bench.compare('scoring: default model over every lead', 'crm.lead_score(l), C', :'q_c', '',
    'floor: sum(employee_count)', :'q_floor', '', '<= 2x', reps => 5, warmup => 1);
COMMIT;

-- Rescoring: after a bulk import without triggers left 1% (then 10%) of the leads unscored, the batch
-- job's incremental pass (it reads only leads whose score can be stale) against the obvious one-statement
-- UPDATE over every lead, against itself at 10%, and against its own full pass (what it does after a
-- model change). A full pass first records the model the incremental passes start from.
CREATE OR REPLACE FUNCTION bench.unscore(percent integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    UPDATE crm.leads SET score = NULL, grade = NULL WHERE abs(hashtext(id::text)) % 100 < percent;
    PERFORM set_config('session_replication_role', 'origin', true);
END
$$;
SELECT crm.rescore_leads(NULL, full_pass => true) AS changed_by_first_full_pass;
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
