-- pipelines.sql (pgTAP): the default pipeline every tenant gets, one default per tenant, stages.
\ir lib/preamble.psql

BEGIN;
SELECT plan(17);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT results_eq($$SELECT name, position, probability, is_won, is_lost, forecast_category::text FROM crm.pipeline_stages
                   WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' ORDER BY position$$,
    $$VALUES ('prospecting', 0, 10, false, false, 'pipeline'), ('qualification', 1, 25, false, false, 'pipeline'),
             ('proposal', 2, 50, false, false, 'best_case'), ('negotiation', 3, 75, false, false, 'commit'),
             ('closed_won', 4, 100, true, false, 'closed'), ('closed_lost', 5, 0, false, true, 'omitted')$$,
    'a new tenant gets the default pipeline with its six stages');
SELECT is((SELECT count(*) FROM crm.pipelines WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_default), 1::bigint,
    'and it is the default');
SELECT is((SELECT count(*) FROM crm.pipelines p JOIN crm.tenants t ON t.id = p.tenant_id AND p.is_default), (SELECT count(*) FROM crm.tenants),
    'every tenant has exactly one default pipeline');

-- reps read, admins write
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT is((SELECT count(*) FROM crm_api.pipeline_stages), 6::bigint, 'a rep reads the stages');
SELECT throws_ok($$INSERT INTO crm.pipelines (name) VALUES ('Mine')$$, '42501', NULL, 'a rep cannot create a pipeline');
SELECT throws_ok($$UPDATE crm.pipeline_stages SET probability = 99 WHERE name = 'proposal'$$, '42501', NULL, 'a rep cannot change a stage');

SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'claims');
SELECT lives_ok($$INSERT INTO crm.pipelines (id, name) VALUES ('a0000000-0000-7000-8000-000000000a90', 'Renewals')$$, 'an admin creates a pipeline');
SELECT lives_ok($$INSERT INTO crm.pipeline_stages (pipeline_id, name, position, probability, is_won, is_lost) VALUES
    ('a0000000-0000-7000-8000-000000000a90', 'due', 0, 60, false, false),
    ('a0000000-0000-7000-8000-000000000a90', 'renewed', 1, 100, true, false),
    ('a0000000-0000-7000-8000-000000000a90', 'churned', 2, 0, false, true)$$, 'and its stages');
SELECT is((SELECT forecast_category::text FROM crm.pipeline_stages WHERE name = 'due'), 'best_case', 'a stage''s forecast category defaults from its probability');
SELECT lives_ok($$UPDATE crm.pipeline_stages SET position = 2 - position WHERE pipeline_id = 'a0000000-0000-7000-8000-000000000a90'$$,
    'stages can be reordered in one statement (the position constraint is checked at its end)');
SELECT throws_ok($$INSERT INTO crm.pipeline_stages (pipeline_id, name, position, probability, is_won) VALUES
    ('a0000000-0000-7000-8000-000000000a90', 'half_won', 3, 50, true)$$, '23514', NULL, 'a won stage has probability 100');
SELECT throws_ok($$INSERT INTO crm.pipeline_stages (pipeline_id, name, position, probability) VALUES
    ('a0000000-0000-7000-8000-000000000a90', 'Bad Name', 3, 50)$$, '23514', NULL, 'stage names are lowercase identifiers');
SELECT throws_ok($$INSERT INTO crm.pipeline_stages (pipeline_id, name, position, probability) VALUES
    ('a0000000-0000-7000-8000-000000000a90', 'due', 3, 50)$$, '23505', NULL, 'stage names are unique in a pipeline');
SELECT lives_ok($$UPDATE crm.pipelines SET is_default = true WHERE name = 'Renewals'$$, 'make another pipeline the default');
SELECT results_eq($$SELECT name FROM crm.pipelines WHERE is_default$$, ARRAY['Renewals'], 'the old default is unset');
SELECT throws_ok($$UPDATE crm.pipelines SET is_default = false WHERE name = 'Renewals'$$, '23514', NULL, 'the default is not unset by itself');
SELECT throws_ok($$DELETE FROM crm.pipelines WHERE name = 'Renewals'$$, '23514', NULL, 'the default pipeline is not deleted');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
