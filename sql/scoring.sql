-- Lead scoring (src/scoring.c, src/scoring.sql): the default model at every band boundary, grades,
-- the explanation, and invalid models.
SET client_min_messages = warning;
SELECT crm.create_tenant('Scoring', id => 'e0000000-0000-7000-8000-00000000000e') IS NOT NULL AS tenant;
INSERT INTO crm.users (tenant_id, id, email, name) VALUES
    ('e0000000-0000-7000-8000-00000000000e', 'e0000000-0000-7000-8000-0000000000e1', 'rep@scoring.test', 'Rep');
SELECT name, is_active FROM crm.scoring_models WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e';

-- one lead per boundary of each band, the other fields left unknown (0 points)
CREATE TEMP TABLE cases (label text, employee_count int, industry text, budget numeric, purchase_timeline crm.purchase_timeline,
                         is_decision_maker boolean, expected int);
INSERT INTO cases VALUES
    ('nothing known',            NULL, NULL, NULL, 'unknown', false, 0),
    ('0 employees',              0,    NULL, NULL, 'unknown', false, 0),
    ('1 employee',               1,    NULL, NULL, 'unknown', false, 3),
    ('9 employees',              9,    NULL, NULL, 'unknown', false, 3),
    ('10 employees',             10,   NULL, NULL, 'unknown', false, 8),
    ('49 employees',             49,   NULL, NULL, 'unknown', false, 8),
    ('50 employees',             50,   NULL, NULL, 'unknown', false, 15),
    ('199 employees',            199,  NULL, NULL, 'unknown', false, 15),
    ('200 employees',            200,  NULL, NULL, 'unknown', false, 20),
    ('999 employees',            999,  NULL, NULL, 'unknown', false, 20),
    ('1000 employees',           1000, NULL, NULL, 'unknown', false, 25),
    ('50000 employees',          50000, NULL, NULL, 'unknown', false, 25),
    ('software',                 NULL, 'software', NULL, 'unknown', false, 15),
    ('Healthcare (case)',        NULL, 'Healthcare', NULL, 'unknown', false, 15),
    ('financial_services',       NULL, 'financial_services', NULL, 'unknown', false, 15),
    ('retail (other known)',     NULL, 'retail', NULL, 'unknown', false, 5),
    ('empty industry',           NULL, '', NULL, 'unknown', false, 0),
    ('budget 0',                 NULL, NULL, 0, 'unknown', false, 0),
    ('budget 0.01',              NULL, NULL, 0.01, 'unknown', false, 3),
    ('budget 4999.99',           NULL, NULL, 4999.99, 'unknown', false, 3),
    ('budget 5000',              NULL, NULL, 5000, 'unknown', false, 8),
    ('budget 24999.99',          NULL, NULL, 24999.99, 'unknown', false, 8),
    ('budget 25000',             NULL, NULL, 25000, 'unknown', false, 15),
    ('budget 99999.99',          NULL, NULL, 99999.99, 'unknown', false, 15),
    ('budget 100000',            NULL, NULL, 100000, 'unknown', false, 20),
    ('immediate',                NULL, NULL, NULL, 'immediate', false, 15),
    ('this_quarter',             NULL, NULL, NULL, 'this_quarter', false, 12),
    ('next_quarter',             NULL, NULL, NULL, 'next_quarter', false, 8),
    ('this_year',                NULL, NULL, NULL, 'this_year', false, 4),
    ('decision maker',           NULL, NULL, NULL, 'unknown', true, 25),
    ('everything at the top',    5000, 'technology', 250000, 'immediate', true, 100),
    ('a typical good lead',      300, 'manufacturing', 30000, 'this_quarter', false, 62),
    ('a small one',              12, 'retail', 2000, 'this_year', false, 20);
INSERT INTO crm.leads (tenant_id, first_name, company, employee_count, industry, budget, purchase_timeline, is_decision_maker, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', label, 'Co', employee_count, industry, budget, purchase_timeline, is_decision_maker,
       'e0000000-0000-7000-8000-0000000000e1'
FROM cases;

SELECT c.label, crm.lead_score(l) AS score, c.expected, crm.lead_score(l) = c.expected AS ok, crm.lead_grade(crm.lead_score(l)) AS grade
FROM cases c JOIN crm.leads l ON l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = c.label
ORDER BY c.expected, c.label;

-- on a table scan the planner scores from the columns (no whole rows are built); a row from a subquery
-- is scored whole; both give the same scores
EXPLAIN (VERBOSE, COSTS OFF) SELECT crm.lead_score(l) FROM crm.leads l;
SELECT count(*) AS scored, count(*) FILTER (WHERE a.s IS DISTINCT FROM b.s) AS disagreements
FROM (SELECT l.id, crm.lead_score(l) AS s FROM crm.leads l WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e') a
JOIN (SELECT x.id, crm.lead_score(x) AS s FROM (SELECT * FROM crm.leads OFFSET 0) x WHERE x.tenant_id = 'e0000000-0000-7000-8000-00000000000e') b USING (id);

-- grades at their boundaries
SELECT s AS score, crm.lead_grade(s) AS grade FROM unnest(ARRAY[0, 39, 40, 59, 60, 79, 80, 100, NULL]) s;

-- the explanation
SELECT jsonb_pretty(crm.explain_lead_score(l)) FROM crm.leads l
WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'a typical good lead';
SELECT crm.lead_score_parts(l) FROM crm.leads l
WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'everything at the top';

-- group caps and the total cap
UPDATE crm.scoring_models SET rules = jsonb_set(jsonb_set(rules, '{caps}', '{"company_size": 10}'), '{total_cap}', '50')
WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e';
SELECT c.label, crm.lead_score(l) AS capped
FROM cases c JOIN crm.leads l ON l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = c.label
WHERE c.label IN ('1000 employees', 'everything at the top', 'a typical good lead') ORDER BY c.label;

-- a tenant without an active model: NULL
UPDATE crm.scoring_models SET is_active = false WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e';
SELECT crm.lead_score(l) IS NULL AS no_model, crm.explain_lead_score(l) FROM crm.leads l
WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'software';

-- engagement: each activity is worth the rule's points halved every half_life_days (here: a connected
-- call 12 points, halving every 10 days; any email 4 points, halving every 5 days; the group capped at 30)
INSERT INTO crm.scoring_models (tenant_id, name, rules, is_active) VALUES ('e0000000-0000-7000-8000-00000000000e', 'Engaged', '{
    "fit": [{"name": "decision_maker", "field": "is_decision_maker", "reason": "decision maker", "equals": true, "points": 25}],
    "engagement": [{"name": "calls", "type": "call", "outcome": "connected", "points": 12, "half_life_days": 10, "reason": "calls that connected"},
                   {"name": "emails", "type": "email", "points": 4, "half_life_days": 5, "reason": "emails"}],
    "caps": {"engagement": 30}}', true);
CREATE FUNCTION pg_temp.engaged() RETURNS crm.leads LANGUAGE sql AS $$
    SELECT l FROM crm.leads l WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'decision maker' $$;
SELECT 'no activity' AS step, (pg_temp.engaged()).score, crm.lead_score_parts(pg_temp.engaged()) AS parts;
-- a connected call today, 10 and 20 days ago: 12 + 6 + 3; a call nobody answered counts for nothing
INSERT INTO crm.activities (tenant_id, type, outcome, occurred_at, lead_id, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', 'call', o, now() - d * interval '1 day', (pg_temp.engaged()).id, 'e0000000-0000-7000-8000-0000000000e1'
FROM (VALUES ('connected', 0), ('connected', 10), ('connected', 20), ('no_answer', 0)) v(o, d);
SELECT 'three calls' AS step, (pg_temp.engaged()).score, crm.lead_score_parts(pg_temp.engaged()) AS parts;
-- the summary the lead carries: per type and outcome, the times of the latest activities
SELECT t.key AS type, o.key AS outcome, jsonb_array_length(o.value) AS activities
FROM jsonb_each((pg_temp.engaged()).engagement) t, jsonb_each(t.value) o ORDER BY 1, 2;
-- two emails (today and 5 days ago: 4 + 2), then three more today: the engagement group stops at 30
INSERT INTO crm.activities (tenant_id, type, occurred_at, lead_id, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', 'email', now() - d * interval '1 day', (pg_temp.engaged()).id, 'e0000000-0000-7000-8000-0000000000e1'
FROM unnest(ARRAY[0, 5]) d;
SELECT 'and two emails' AS step, (pg_temp.engaged()).score, crm.lead_score_parts(pg_temp.engaged()) AS parts;
INSERT INTO crm.activities (tenant_id, type, lead_id, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', 'email', (pg_temp.engaged()).id, 'e0000000-0000-7000-8000-0000000000e1'
FROM generate_series(1, 3);
SELECT 'and three more' AS step, (pg_temp.engaged()).score, crm.lead_score_parts(pg_temp.engaged()) AS parts;
SELECT jsonb_pretty(crm.explain_lead_score(pg_temp.engaged()) #- '{rules,0,value}');
-- deleting the activities takes their points back
DELETE FROM crm.activities WHERE lead_id = (pg_temp.engaged()).id;
SELECT 'activities deleted' AS step, (pg_temp.engaged()).score, (pg_temp.engaged()).engagement;

-- numeric fields are compared with range bounds exactly: as fixed-point integers where value and bound
-- fit (up to 16 decimals, below 10^20), else as numerics; the first range that holds gives the points
UPDATE crm.scoring_models SET is_active = false WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e';
INSERT INTO crm.scoring_models (tenant_id, name, rules, is_active) VALUES ('e0000000-0000-7000-8000-00000000000e', 'Revenue', '{
    "fit": [{"name": "revenue", "field": "annual_revenue", "reason": "revenue", "ranges": [
        {"min": 100000000000000000000, "points": 50},
        {"above": 9999999999999999.98, "points": 40},
        {"min": 1000000.005, "points": 30},
        {"above": 0.000000000000000001, "below": 1000000, "points": 20},
        {"max": 0, "points": 10}]}]}', true);
CREATE TEMP TABLE revenues (revenue numeric(18,2), expected int);
INSERT INTO revenues VALUES (NULL, 0), (0, 10), (0.01, 20), (999999.99, 20), (1000000, 0), (1000000.01, 30),
    (9999999999999999.98, 30), (9999999999999999.99, 40);
INSERT INTO crm.leads (tenant_id, first_name, company, annual_revenue, owner_id)
SELECT 'e0000000-0000-7000-8000-00000000000e', 'revenue ' || coalesce(revenue::text, 'unknown'), 'Co', revenue, 'e0000000-0000-7000-8000-0000000000e1'
FROM revenues;
SELECT r.revenue, crm.lead_score(l) AS score, r.expected, crm.lead_score(l) = r.expected AS ok
FROM revenues r JOIN crm.leads l ON l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.annual_revenue IS NOT DISTINCT FROM r.revenue
 AND l.first_name LIKE 'revenue %'
ORDER BY r.revenue NULLS FIRST;
DELETE FROM crm.scoring_models WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND name = 'Revenue';

-- invalid models: 22023 with the JSON path of the bad element
CREATE FUNCTION pg_temp.try_model(rules jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crm.validate_scoring_rules(rules);
    RETURN 'valid';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT m AS model, pg_temp.try_model(m::jsonb) AS verdict FROM (VALUES
    ('[]'),
    ('{"fit": []}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "points": 5}]}], "extra": 1}'),
    ('{"fit": [{"name": "X", "field": "employee_count", "ranges": [{"min": 1, "points": 5}]}]}'),
    ('{"fit": [{"name": "x", "field": "salary", "ranges": [{"min": 1, "points": 5}]}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count"}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "points": 5}], "equals": true}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "points": 101}]}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "points": 2.5}]}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "points": 5}, {"min": "ten", "points": 3}]}]}'),
    ('{"fit": [{"name": "x", "field": "employee_count", "ranges": [{"min": 1, "above": 2, "points": 5}]}]}'),
    ('{"fit": [{"name": "x", "field": "industry", "ranges": [{"min": 1, "points": 5}]}]}'),
    ('{"fit": [{"name": "x", "field": "industry", "in": ["a", 3], "points": 5}]}'),
    ('{"fit": [{"name": "x", "field": "purchase_timeline", "values": {"soon": 5}}]}'),
    ('{"fit": [{"name": "x", "field": "is_decision_maker", "equals": "yes", "points": 5}]}'),
    ('{"fit": [{"name": "x", "field": "budget", "ranges": [{"min": 1, "points": 5}]}, {"name": "x", "field": "budget", "ranges": [{"min": 1, "points": 5}]}]}'),
    ('{"fit": [{"name": "x", "field": "budget", "ranges": [{"min": 1, "points": 5}]}], "caps": {"y": 10}}'),
    ('{"fit": [{"name": "x", "field": "budget", "ranges": [{"min": 1, "points": 5}]}], "total_cap": 120}'),
    ('{"fit": [{"name": "x", "field": "budget", "ranges": [{"min": 1, "points": 5}]}], "caps": {"x": 3}, "total_cap": 100}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 5, "half_life_days": 30}]}'),
    ('{"engagement": {"name": "calls"}}'),
    ('{"engagement": [{"name": "calls", "type": "fax", "points": 5, "half_life_days": 30}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "outcome": "Connected!", "points": 5, "half_life_days": 30}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 5}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 5, "half_life_days": 0}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 500, "half_life_days": 7}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 5, "half_life_days": 7, "decay": "fast"}]}'),
    ('{"fit": [{"name": "calls", "field": "budget", "ranges": [{"min": 1, "points": 5}]}], "engagement": [{"name": "calls", "type": "call", "points": 5, "half_life_days": 7}]}'),
    ('{"engagement": [{"name": "calls", "type": "call", "points": 5, "half_life_days": 7}], "caps": {"engagement": 20}}')
) v(m);

-- an admin's bad model is refused when saved, and nothing is left behind
INSERT INTO crm.scoring_models (tenant_id, name, rules) VALUES ('e0000000-0000-7000-8000-00000000000e', 'Broken',
    '{"fit": [{"name": "x", "field": "budget", "ranges": [{"min": 1, "points": -1}]}]}');
SELECT count(*) AS broken_models FROM crm.scoring_models WHERE name = 'Broken';
-- the engine's limits (src/crm.h), enforced at save: exactly at each limit a model is saved and scores,
-- one past it is refused with 22023 naming the JSON path of the first part too many
SELECT crm.scoring_limits();
CREATE FUNCTION pg_temp.fit_rules(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object('name', 'r' || i, 'field', 'is_decision_maker', 'equals', true, 'points', 1) ORDER BY i)
    FROM generate_series(1, n) i $$;
CREATE FUNCTION pg_temp.engagement_rules(n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_object('name', 'e' || i, 'type', 'call', 'points', 1, 'half_life_days', 3650) ORDER BY i)
    FROM generate_series(1, n) i $$;
CREATE FUNCTION pg_temp.one_rule(rule jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('fit', jsonb_build_array(jsonb_build_object('name', 'x') || rule)) $$;
SELECT label, pg_temp.try_model(m) AS verdict FROM (VALUES
    ('64 fit rules', jsonb_build_object('fit', pg_temp.fit_rules(64))),
    ('65 fit rules', jsonb_build_object('fit', pg_temp.fit_rules(65))),
    ('64 engagement rules', jsonb_build_object('engagement', pg_temp.engagement_rules(64))),
    ('65 engagement rules', jsonb_build_object('engagement', pg_temp.engagement_rules(65))),
    ('60 fit and 4 engagement rules', jsonb_build_object('fit', pg_temp.fit_rules(60), 'engagement', pg_temp.engagement_rules(4))),
    ('60 fit and 5 engagement rules', jsonb_build_object('fit', pg_temp.fit_rules(60), 'engagement', pg_temp.engagement_rules(5))),
    ('1000 ranges', pg_temp.one_rule(jsonb_build_object('field', 'budget',
        'ranges', (SELECT jsonb_agg(jsonb_build_object('min', i, 'points', 1) ORDER BY i DESC) FROM generate_series(1, 1000) i)))),
    ('1001 ranges', pg_temp.one_rule(jsonb_build_object('field', 'budget',
        'ranges', (SELECT jsonb_agg(jsonb_build_object('min', i, 'points', 1) ORDER BY i DESC) FROM generate_series(1, 1001) i)))),
    ('1000 in values', pg_temp.one_rule(jsonb_build_object('field', 'industry', 'points', 5,
        'in', (SELECT jsonb_agg('i' || i ORDER BY i) FROM generate_series(1, 1000) i)))),
    ('1001 in values', pg_temp.one_rule(jsonb_build_object('field', 'industry', 'points', 5,
        'in', (SELECT jsonb_agg('i' || i ORDER BY i) FROM generate_series(1, 1001) i)))),
    ('1000 values', pg_temp.one_rule(jsonb_build_object('field', 'title',
        'values', (SELECT jsonb_object_agg('v' || lpad(i::text, 4, '0'), 1) FROM generate_series(1, 1000) i)))),
    ('1001 values', pg_temp.one_rule(jsonb_build_object('field', 'title',
        'values', (SELECT jsonb_object_agg('v' || lpad(i::text, 4, '0'), 1) FROM generate_series(1, 1001) i)))),
    ('100 points', pg_temp.one_rule('{"field": "is_decision_maker", "equals": true, "points": 100}')),
    ('101 points', pg_temp.one_rule('{"field": "is_decision_maker", "equals": true, "points": 101}')),
    ('a half-life of 3650 days', '{"engagement": [{"name": "e", "type": "call", "points": 1, "half_life_days": 3650}]}'),
    ('a half-life of 3650.5 days', '{"engagement": [{"name": "e", "type": "call", "points": 1, "half_life_days": 3650.5}]}')
) v(label, m);

-- at the limit, saved and scored: 60 fit and 4 engagement rules, each worth 1 (the decision maker gets 60)
UPDATE crm.scoring_models SET is_active = false WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e';
INSERT INTO crm.scoring_models (tenant_id, name, rules, is_active) VALUES ('e0000000-0000-7000-8000-00000000000e', 'At the limit',
    jsonb_build_object('fit', pg_temp.fit_rules(60), 'engagement', pg_temp.engagement_rules(4)), true);
SELECT crm.lead_score(l) AS score, cardinality(crm.lead_score_parts(l)) AS rules FROM crm.leads l
WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'decision maker';
-- one past it, refused whole: the active model stays the one at the limit, no other is saved
\set VERBOSITY terse
INSERT INTO crm.scoring_models (tenant_id, name, rules, is_active) VALUES ('e0000000-0000-7000-8000-00000000000e', 'Past the limit',
    jsonb_build_object('fit', pg_temp.fit_rules(60), 'engagement', pg_temp.engagement_rules(5)), true);
UPDATE crm.scoring_models SET rules = jsonb_build_object('fit', pg_temp.fit_rules(65))
WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND name = 'At the limit';
\set VERBOSITY default
SELECT name, is_active, jsonb_array_length(rules->'fit') AS fit, jsonb_array_length(rules->'engagement') AS engagement
FROM crm.scoring_models WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND name LIKE '%limit' ORDER BY name;
-- and every lead write of the tenant still scores
UPDATE crm.leads SET title = 'CEO' WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND first_name = 'decision maker'
RETURNING score;

-- a lead's engagement summary (what engagement rules read) is the database's, but a direct write of it
-- is checked as it is saved: at most 50 whole epoch seconds within bigint per type and outcome
CREATE FUNCTION pg_temp.try_engagement(e jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE crm.leads SET engagement = e WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND first_name = 'decision maker';
    RETURN 'saved';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT label, pg_temp.try_engagement(e) AS verdict FROM (VALUES
    ('50 times', jsonb_build_object('call', jsonb_build_object('connected', (SELECT jsonb_agg(1700000000 - i) FROM generate_series(1, 50) i)))),
    ('51 times', jsonb_build_object('call', jsonb_build_object('connected', (SELECT jsonb_agg(1700000000 - i) FROM generate_series(1, 51) i)))),
    ('the greatest bigint', '{"email": {"": [9223372036854775807]}}'),
    ('past bigint', '{"email": {"": [9223372036854775808]}}'),
    ('a fraction', '{"email": {"": [1700000000.5]}}'),
    ('a string', '{"email": {"replied": ["yesterday"]}}'),
    ('no outcomes', '{"email": [1700000000]}'),
    ('not an array', '{"meeting": {"held": 1700000000}}'),
    ('an odd outcome', '{"meeting": {"no show": {}}}'),
    ('not an object', '[1700000000]')
) v(label, e);
SELECT engagement FROM crm.leads WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND first_name = 'decision maker';
SELECT crm.lead_score(l) AS still_scored FROM crm.leads l
WHERE l.tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND l.first_name = 'decision maker';
DELETE FROM crm.tenants WHERE id = 'e0000000-0000-7000-8000-00000000000e';
