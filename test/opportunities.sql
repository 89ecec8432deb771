-- opportunities.sql (pgTAP): defaults from the pipeline and stage, moves, probability overrides,
-- closing, the stage history, bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(45);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
CREATE FUNCTION pg_temp.stage(o text) RETURNS text LANGUAGE sql AS $$
    SELECT s.name FROM crm.opportunities x JOIN crm.pipeline_stages s ON s.tenant_id = x.tenant_id AND s.id = x.stage_id WHERE x.name = o
$$;
CREATE FUNCTION pg_temp.stage_id(n text) RETURNS uuid LANGUAGE sql AS $$
    SELECT s.id FROM crm.pipeline_stages s JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default
    WHERE s.name = n
$$;

-- the issue's one-liner
SELECT lives_ok($$INSERT INTO crm.opportunities (name, account_id, amount, currency)
                  VALUES ('Initech: 50 seats', 'a0000000-0000-7000-8000-000000000ac1', 50000, 'usd')$$,
    'INSERT INTO crm.opportunities(name, account_id, amount, currency) is enough');
SELECT row_eq($$SELECT (SELECT p.is_default FROM crm.pipelines p WHERE p.id = o.pipeline_id), pg_temp.stage(o.name), probability,
                       forecast_category::text, currency::text, owner_id, closed_at
                FROM crm.opportunities o WHERE name = 'Initech: 50 seats'$$,
    ROW(true, 'prospecting'::text, 10, 'pipeline'::text, 'USD'::text, 'a0000000-0000-7000-8000-0000000000a3'::uuid, NULL::timestamptz),
    'default pipeline, its first stage, the stage''s probability and category, the caller as owner, open');
SELECT lives_ok($$INSERT INTO crm.opportunities (name, amount) VALUES ('No currency', 10)$$, 'the currency can be left out');
SELECT is((SELECT currency::text FROM crm.opportunities WHERE name = 'No currency'), 'USD', 'it defaults to the tenant''s');
SELECT results_eq($$SELECT h.from_stage_id IS NULL, (SELECT name FROM crm.pipeline_stages WHERE id = h.to_stage_id), h.changed_by
                    FROM crm.opportunity_stage_history h JOIN crm.opportunities o ON o.id = h.opportunity_id WHERE o.name = 'Initech: 50 seats'$$,
    $$VALUES (true, 'prospecting', 'a0000000-0000-7000-8000-0000000000a3'::uuid)$$, 'creation is the first entry of the stage history');

-- moves
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L, stage_reason = 'demo went well' WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('proposal')),
    'move to proposal');
SELECT row_eq($$SELECT probability, forecast_category::text FROM crm.opportunities WHERE name = 'Initech: 50 seats'$$, ROW(50, 'best_case'::text),
    'the new stage''s probability and category');
SELECT is((SELECT reason FROM crm.opportunity_stage_history h JOIN crm.opportunities o ON o.id = h.opportunity_id
           WHERE o.name = 'Initech: 50 seats' AND h.from_stage_id IS NOT NULL), 'demo went well', 'the history has the move and its reason');
SELECT lives_ok($$UPDATE crm.opportunities SET probability = 65 WHERE name = 'Initech: 50 seats'$$, 'override the probability');
SELECT is((SELECT probability FROM crm.opportunities WHERE name = 'Initech: 50 seats'), 65, 'the override holds');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('negotiation')),
    'move to negotiation');
SELECT row_eq($$SELECT probability, forecast_category::text, stage_reason FROM crm.opportunities WHERE name = 'Initech: 50 seats'$$,
    ROW(75, 'commit'::text, NULL::text), 'a move resets the override to the new stage''s probability, and the reason');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L, probability = 90 WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('proposal')),
    'a move that sets the probability');
SELECT is((SELECT probability FROM crm.opportunities WHERE name = 'Initech: 50 seats'), 90, 'keeps the probability it sets');
SELECT is((SELECT count(*) FROM crm.opportunity_stage_history h JOIN crm.opportunities o ON o.id = h.opportunity_id
           WHERE o.name = 'Initech: 50 seats'), 4::bigint, 'four stages entered, four history rows');
SELECT ok((SELECT bool_and(time_in_previous_stage IS NOT NULL) FROM crm.opportunity_stage_history h JOIN crm.opportunities o ON o.id = h.opportunity_id
           WHERE o.name = 'Initech: 50 seats' AND h.from_stage_id IS NOT NULL), 'each move records the time spent in the stage left');

-- closing
SELECT throws_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('closed_lost')),
    '23514', 'a lost opportunity needs a lost reason', 'a lost stage needs a reason');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'No currency'$$, pg_temp.stage_id('closed_won')), 'win one');
SELECT row_eq($$SELECT probability, forecast_category::text, closed_at IS NOT NULL FROM crm.opportunities WHERE name = 'No currency'$$,
    ROW(100, 'closed'::text, true), 'won: probability 100, closed, closed_at set');
SELECT throws_ok($$UPDATE crm.opportunities SET probability = 50 WHERE name = 'No currency'$$, '23514', NULL,
    'a closed opportunity keeps its probability');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L, lost_reason = 'went with Initrode' WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('closed_lost')),
    'lose one, with a reason');
SELECT row_eq($$SELECT probability, forecast_category::text, closed_at IS NOT NULL FROM crm.opportunities WHERE name = 'Initech: 50 seats'$$,
    ROW(0, 'omitted'::text, true), 'lost: probability 0, omitted, closed_at set');
SELECT throws_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('negotiation')),
    '22023', 'reopening a won or lost opportunity needs a reason', 'reopening without a reason: 22023, also by a plain UPDATE');
SELECT throws_ok(format($$UPDATE crm.opportunities SET stage_id = %L, stage_reason = '  ' WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('negotiation')),
    '22023', 'reopening a won or lost opportunity needs a reason', '    a blank reason is none');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L, stage_reason = 'they came back' WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('negotiation')),
    'reopen it, with a reason');
SELECT row_eq($$SELECT closed_at, lost_reason, probability, forecast_category::text FROM crm.opportunities WHERE name = 'Initech: 50 seats'$$,
    ROW(NULL::timestamptz, NULL::text, 75, 'commit'::text), 'reopened: no longer closed, no lost reason, the open stage''s probability and category');
SELECT lives_ok($$UPDATE crm.opportunities SET closed_at = now() WHERE name = 'Initech: 50 seats'$$, 'closing an open deal by its closed_at alone');
SELECT is((SELECT closed_at FROM crm.opportunities WHERE name = 'Initech: 50 seats'), NULL::timestamptz,
    '    leaves it open: closed_at is set in a won or lost stage only');
SELECT lives_ok($$UPDATE crm.opportunities SET closed_at = NULL WHERE name = 'No currency'$$, 'clearing a won deal''s closed_at');
SELECT isnt((SELECT closed_at FROM crm.opportunities WHERE name = 'No currency'), NULL::timestamptz, '    leaves it closed');

-- winning by a plain UPDATE makes the account a customer, once
SELECT is((SELECT lifecycle_stage::text FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac1'), 'lead', 'Initech is a lead');
SELECT lives_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'Initech: 50 seats'$$, pg_temp.stage_id('closed_won')), 'win the Initech deal');
SELECT is((SELECT lifecycle_stage::text FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac1'), 'customer', '    Initech is a customer');
SELECT lives_ok($$INSERT INTO crm.opportunities (name, account_id, stage_id, amount)
                  SELECT 'Initech: 10 more seats', 'a0000000-0000-7000-8000-000000000ac1', id, 10000 FROM crm.pipeline_stages WHERE name = 'closed_won'$$,
    'a second deal of Initech, inserted won');
RESET ROLE;
SELECT results_eq($$SELECT type, payload->>'from_stage', payload->>'opportunity_id' FROM crm.events
                     WHERE entity_type = 'account' AND entity_id = 'a0000000-0000-7000-8000-000000000ac1' ORDER BY id$$,
    $$SELECT 'account.became_customer', 'lead', id::text FROM crm.opportunities WHERE name = 'Initech: 50 seats'$$,
    'account.became_customer once, naming the deal and the stage it left: not again for the second win');
SELECT results_eq($$SELECT e.type, e.payload->>'was', e.payload->>'reason' FROM crm.events e JOIN crm.opportunities o ON o.id = e.entity_id
                     WHERE o.name = 'Initech: 50 seats' AND e.type = 'opportunity.reopened'$$,
    $$VALUES ('opportunity.reopened', 'lost', 'they came back')$$, 'the reopening emitted opportunity.reopened, with what it was and why');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');

-- bad input
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
INSERT INTO crm.pipelines (id, name) VALUES ('a0000000-0000-7000-8000-000000000a90', 'Renewals');
INSERT INTO crm.pipeline_stages (id, pipeline_id, name, position, probability) VALUES
    ('a0000000-0000-7000-8000-000000000a91', 'a0000000-0000-7000-8000-000000000a90', 'due', 0, 60);
SELECT throws_ok(format($$UPDATE crm.opportunities SET stage_id = %L WHERE name = 'Initech: 50 seats'$$, 'a0000000-0000-7000-8000-000000000a91'),
    '22023', NULL, 'a stage of another pipeline is refused (22023, listing the valid stages)');
SELECT lives_ok($$INSERT INTO crm.opportunities (name, stage_id) VALUES ('Renewal 2027', 'a0000000-0000-7000-8000-000000000a91')$$,
    'given a stage only, the opportunity goes to that stage''s pipeline');
SELECT is((SELECT pipeline_id FROM crm.opportunities WHERE name = 'Renewal 2027'), 'a0000000-0000-7000-8000-000000000a90'::uuid, 'the Renewals pipeline');
SELECT throws_ok($$INSERT INTO crm.opportunities (name, amount) VALUES ('Negative', -1)$$, '23514', NULL, 'an amount is not negative');
SELECT throws_ok($$INSERT INTO crm.opportunities (name, account_id) VALUES ('Foreign', 'b0000000-0000-7000-8000-000000000bc1')$$, '23503', NULL,
    'an account of another tenant does not exist here');
SELECT throws_ok($$INSERT INTO crm.opportunity_stage_history (opportunity_id, to_stage_id) SELECT id, stage_id FROM crm.opportunities LIMIT 1$$,
    '42501', NULL, 'nobody writes the stage history by hand');
RESET ROLE;


-- Deleting an opportunity clears leads.converted_opportunity_id (a plain key and its delete path,
-- docs/design.md §12): also the manager's lead the deleting rep may not change, and only in its tenant
-- (tenant B has an opportunity of the same id, named by its lead).
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.opportunities (tenant_id, id, name, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ae8', 'Going away', 'a0000000-0000-7000-8000-0000000000a3'),
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000ae8', 'Same id in B', 'b0000000-0000-7000-8000-0000000000b3');
UPDATE crm.leads SET converted_opportunity_id = 'a0000000-0000-7000-8000-000000000ae8'
 WHERE id IN ('a0000000-0000-7000-8000-000000000ab2', 'b0000000-0000-7000-8000-000000000bb1');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT lives_ok($$DELETE FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae8'$$, 'the rep deletes its opportunity');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is((SELECT converted_opportunity_id FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab2'), NULL,
    'the manager''s lead converted into it loses its converted_opportunity_id');
SELECT is((SELECT converted_opportunity_id FROM crm.leads WHERE id = 'b0000000-0000-7000-8000-000000000bb1'),
    'a0000000-0000-7000-8000-000000000ae8'::uuid, 'tenant B''s lead naming its own opportunity of the same id keeps it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
