-- scoring.sql (pgTAP): who reads and who changes scoring models; scores through RLS and the API.
\ir lib/preamble.psql

BEGIN;
SELECT plan(12);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT is((SELECT count(*) FROM crm.scoring_models WHERE is_active), 2::bigint, 'each tenant starts with an active model');
SELECT is((SELECT rules FROM crm.scoring_models WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'), crm.default_scoring_rules(),
    'the default model');

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
UPDATE crm.leads SET employee_count = 250, industry = 'software', is_decision_maker = true WHERE id = 'a0000000-0000-7000-8000-000000000ab1';
SELECT is((SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'a0000000-0000-7000-8000-000000000ab1'), 60, 'a rep scores a lead it reads: 20 + 15 + 25');
SELECT is((SELECT count(*) FROM crm_api.scoring_models), 1::bigint, 'a rep reads its tenant''s model');
SELECT throws_ok($$UPDATE crm.scoring_models SET is_active = false$$, '42501', NULL, 'a rep does not change models');
SELECT throws_ok($$INSERT INTO crm.scoring_models (name, rules) VALUES ('Mine', crm.default_scoring_rules())$$, '42501', NULL, 'nor adds one');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$INSERT INTO crm.scoring_models (name, rules) VALUES ('Mine', crm.default_scoring_rules())$$, '42501', NULL, 'nor does a manager');

SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT lives_ok($$INSERT INTO crm.scoring_models (name, rules, is_active) VALUES ('Decision makers only',
    '{"fit": [{"name": "dm", "field": "is_decision_maker", "equals": true, "points": 90}]}', true)$$, 'an admin adds and activates a model');
SELECT results_eq($$SELECT name FROM crm.scoring_models WHERE is_active$$, ARRAY['Decision makers only'], 'the old model is no longer active');
SELECT is((SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'a0000000-0000-7000-8000-000000000ab1'), 90, 'scores follow the active model');
SELECT throws_ok($$UPDATE crm.scoring_models SET rules = '{"fit": []}' WHERE is_active$$, '22023', NULL, 'invalid rules are refused');
SELECT pg_temp.become('crm_rep', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'guc');
SELECT is((SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'b0000000-0000-7000-8000-000000000bb1'), 0,
    'tenant B still scores with its own default model');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
