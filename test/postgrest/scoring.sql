-- scoring.sql (pgTAP, PostgREST replay): lead scoring over HTTP: scores and grades on /leads, the score
-- history, the RPCs score_lead, explain_lead_score, lead_win_probability, rescore_leads and
-- rebuild_win_model, model management for admins only, with the HTTP status of each refusal.
\ir ../lib/preamble.psql

BEGIN;
\ir replay.psql
SELECT plan(16);
\ir ../lib/two_tenants.psql

-- a rep makes Joanna a strong lead: the response carries her new score and grade
SELECT is((SELECT jsonb_build_object('score', body->0->'score', 'grade', body->0->'grade', 'status', body->0->'status')
             FROM pg_temp.pgrst_patch(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'id=eq.a0000000-0000-7000-8000-000000000ab1',
              '{"employee_count": 1500, "industry": "software", "is_decision_maker": true, "purchase_timeline": "this_quarter"}')),
    '{"grade": "B", "score": 77, "status": "qualified"}'::jsonb,
    'PATCH /leads?id=eq...: the representation has the new score (25 + 15 + 12 + 25), its grade, and the qualification');
SELECT is((SELECT body FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'leads', 'select=company,score,grade&order=score.desc.nullslast')),
    '[{"grade": "B", "score": 77, "company": "Chotchkies"}, {"grade": "D", "score": 0, "company": "Construction Co"}]'::jsonb,
    'GET /leads?select=company,score,grade&order=score.desc: scores and grades on the API');
SELECT is((SELECT body->0->'score' FROM pg_temp.pgrst_get(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'lead_score_history',
              'lead_id=eq.a0000000-0000-7000-8000-000000000ab1&select=score')), '77'::jsonb, 'GET /lead_score_history: today''s score');

-- the RPCs
CREATE TEMP TABLE r AS SELECT * FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'explain_lead_score',
    '{"lead_id": "a0000000-0000-7000-8000-000000000ab1"}', 'GET');
SELECT is((SELECT status FROM r), 200, 'GET /rpc/explain_lead_score: 200');
SELECT is((SELECT body->'top_reasons' FROM r), '["company size (+25)", "decision maker (+25)", "target industry (+15)"]'::jsonb,
    '    with the top reasons in words');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('b_rep'), pg_temp.tok('b_rep'), 'explain_lead_score',
    '{"lead_id": "a0000000-0000-7000-8000-000000000ab1"}', 'GET')), 404, 'another tenant''s lead: 404');
SELECT is((SELECT body - 'top_reasons' FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'score_lead',
    '{"lead_id": "a0000000-0000-7000-8000-000000000ab1"}')),
    '{"grade": "B", "score": 77, "status": "qualified", "changed": false, "lead_id": "a0000000-0000-7000-8000-000000000ab1", "qualified_now": false, "score_dropped": false, "previous_score": 77}'::jsonb,
    'POST /rpc/score_lead: the stored score, unchanged');
SELECT is((SELECT body->>'reason' FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'lead_win_probability',
    '{"lead_id": "a0000000-0000-7000-8000-000000000ab1"}', 'GET')), 'not enough history: 1 won and 0 lost leads, 50 needed',
    'GET /rpc/lead_win_probability: no probability yet, and why');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'rescore_leads')), 403,
    'POST /rpc/rescore_leads as a rep: 403');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'rescore_leads')), '0'::jsonb,
    'as a manager: 200, nothing to change');
SELECT is((SELECT status FROM pg_temp.pgrst_rpc(pg_temp.role('a_rep'), pg_temp.tok('a_rep'), 'rebuild_win_model')), 403,
    'POST /rpc/rebuild_win_model as a rep: 403');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_admin'), pg_temp.tok('a_admin'), 'rebuild_win_model')), '0'::jsonb,
    'as an admin: 200, no decided lead to count yet');

-- model management: admins only, and a bad model is a 400 naming the bad element
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_manager'), pg_temp.tok('a_manager'), 'scoring_models',
    '{"name": "Mine", "rules": {"fit": [{"name": "dm", "field": "is_decision_maker", "equals": true, "points": 50}]}}')), 403,
    'POST /scoring_models as a manager: 403');
CREATE TEMP TABLE bad AS SELECT * FROM pg_temp.pgrst_post(pg_temp.role('a_admin'), pg_temp.tok('a_admin'), 'scoring_models',
    '{"name": "Broken", "rules": {"fit": [{"name": "dm", "field": "is_decision_maker", "equals": true, "points": 500}]}}');
SELECT is((SELECT status::text || ' ' || message FROM bad),
    '400 invalid scoring rules at $.fit[0].points: a whole number of points from 0 to 100 is expected', 'a bad model: 400 with its JSON path');
SELECT is((SELECT status FROM pg_temp.pgrst_post(pg_temp.role('a_admin'), pg_temp.tok('a_admin'), 'scoring_models',
    '{"name": "Deciders", "rules": {"fit": [{"name": "dm", "field": "is_decision_maker", "equals": true, "points": 50}]}, "is_active": true}')), 201,
    'POST /scoring_models as an admin: 201');
SELECT is((SELECT body FROM pg_temp.pgrst_rpc(pg_temp.role('a_admin'), pg_temp.tok('a_admin'), 'rescore_leads')), '1'::jsonb,
    'POST /rpc/rescore_leads after the new model: Joanna''s score changed (77 -> 50)');

SELECT * FROM finish();
ROLLBACK;
