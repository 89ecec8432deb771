-- actions.sql (pgTAP): convert_lead, move_opportunity, complete_task, reassign_owner, close_lead,
-- log_activity and timeline: happy paths, edge cases, bad input, visibility.
\ir lib/preamble.psql

BEGIN;
SELECT plan(122);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');

-- convert_lead: a new company: account, contact and opportunity are created
CREATE TEMP TABLE conv AS SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1', amount => 12000) AS r;
SELECT is((SELECT r->>'account_created' FROM conv), 'true', 'convert_lead creates the account of a new company');
SELECT is((SELECT name || '/' || domain || '/' || lifecycle_stage FROM crm.accounts WHERE id = (SELECT (r->>'account_id')::uuid FROM conv)),
    'Chotchkies/chotchkies.test/prospect', 'named after the company, with the email''s domain, as a prospect');
SELECT is((SELECT first_name || ' ' || last_name || '/' || email::text || '/' || account_id::text FROM crm.contacts WHERE id = (SELECT (r->>'contact_id')::uuid FROM conv)),
    'Joanna Smith/joanna@chotchkies.test/' || (SELECT r->>'account_id' FROM conv), 'the contact, at the account');
SELECT row_eq($$SELECT amount, lead_id, owner_id, (SELECT name FROM crm.pipeline_stages s WHERE s.id = o.stage_id)
                FROM crm.opportunities o WHERE o.id = (SELECT (r->>'opportunity_id')::uuid FROM conv)$$,
    ROW(12000.00::numeric(18,2), 'a0000000-0000-7000-8000-000000000ab1'::uuid, 'a0000000-0000-7000-8000-0000000000a3'::uuid, 'prospecting'::text),
    'the opportunity: the amount given, linked to the lead, owned by the lead''s owner, first stage');
SELECT row_eq($$SELECT status::text, converted_at IS NOT NULL, converted_account_id::text, converted_contact_id::text, converted_opportunity_id::text
                FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab1'$$,
    (SELECT ROW('converted'::text, true, r->>'account_id', r->>'contact_id', r->>'opportunity_id') FROM conv),
    'the lead is converted and points at what it became');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1')$$, '23505', NULL,
    'converting a converted lead: 23505');
CREATE FUNCTION pg_temp.error_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d;
END
$$;
SELECT is((pg_temp.error_detail($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1')$$)::jsonb)->>'opportunity_id',
    (SELECT r->>'opportunity_id' FROM conv), 'and the error names the earlier result');
SELECT throws_ok($$SELECT count(*) FROM crm.events$$, '42501', NULL, 'a rep does not read the outbox');
RESET ROLE;
SELECT is((SELECT payload->>'account_id' FROM crm.events WHERE type = 'lead.converted' AND entity_id = 'a0000000-0000-7000-8000-000000000ab1'),
    (SELECT r->>'account_id' FROM conv), 'lead.converted is in the outbox with the ids');

-- convert_lead: an existing account and contact are reused
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'claims');
INSERT INTO crm.leads (id, first_name, email, company, owner_id) VALUES
    ('a0000000-0000-7000-8000-000000000ab3', 'Pete', 'PETER@initech.test', 'Whatever Inc', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-000000000ab4', 'Tom', 'tom@gmail.com', 'initrode', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-000000000ab5', NULL, 'sam@gmail.com', NULL, 'a0000000-0000-7000-8000-0000000000a2');
CREATE TEMP TABLE conv2 AS SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab3', create_opportunity => false) AS r;
SELECT row_eq($$SELECT (r->>'account_id')::uuid, (r->>'account_created')::boolean, (r->>'contact_id')::uuid, (r->>'contact_created')::boolean, r->'opportunity_id' FROM conv2$$,
    ROW('a0000000-0000-7000-8000-000000000ac1'::uuid, false, 'a0000000-0000-7000-8000-000000000ad1'::uuid, false, 'null'::jsonb),
    'the email''s domain matches Initech and the email matches Peter: nothing is duplicated, no opportunity when asked');
SELECT is((SELECT (crm.convert_lead('a0000000-0000-7000-8000-000000000ab4', create_opportunity => false)->>'account_id')::uuid),
    'a0000000-0000-7000-8000-000000000ac2'::uuid, 'a free mail domain matches no account: the company name does (case-insensitively)');
CREATE TEMP TABLE conv3 AS SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab5', create_opportunity => false) AS r;
SELECT is((SELECT name FROM crm.accounts a WHERE a.id = (SELECT (r->>'account_id')::uuid FROM conv3)),
    'sam@gmail.com', 'a lead with no company and a free mail address gets an account named after it');
SELECT is((SELECT domain FROM crm.accounts WHERE name = 'sam@gmail.com'), NULL, 'without the free mail domain');

-- convert_lead: bad input and visibility
SELECT throws_ok($$SELECT crm.convert_lead(NULL)$$, '22023', 'lead_id is required', 'a NULL lead id: 22023, naming the parameter');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab2', amount => -5)$$, '22023', NULL, 'a negative amount: 22023');
SELECT throws_ok($$SELECT crm.convert_lead('b0000000-0000-7000-8000-000000000bb1')$$, 'PT404', NULL, 'another tenant''s lead: PT404');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-0000000000ff')$$, 'PT404', NULL, 'a lead that does not exist: PT404');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab2')$$, '42501', NULL, 'a rep converting another rep''s lead: 42501');
SELECT is((SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab2'), 'new', 'and nothing changed');
RESET ROLE;
UPDATE crm.leads SET status = 'lost', lost_reason = 'gone' WHERE id = 'a0000000-0000-7000-8000-000000000ab2';
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab2')$$, '23514', NULL, 'a lost lead is not converted');
SELECT is((SELECT count(*) FROM crm.accounts WHERE name = 'Construction Co'), 0::bigint, 'and no partial data was left');

-- convert_lead: the opportunity's expected close date
SELECT is((SELECT expected_close_date FROM crm.opportunities WHERE id = (SELECT (r->>'opportunity_id')::uuid FROM conv)), current_date + 63,
    'by default: today plus the expected days of the default pipeline''s open stages (14 + 14 + 21 + 14)');
INSERT INTO crm.leads (id, first_name, email, company, owner_id) VALUES
    ('a0000000-0000-7000-8000-000000000ab8', 'Ann', 'ann@hooli.test', 'Hooli', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-000000000ab9', 'Bob', 'bob@piedpiper.test', 'Pied Piper', 'a0000000-0000-7000-8000-0000000000a2');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab8', expected_close_date => current_date - 1)$$, '22023',
    'expected_close_date must be a day from today on, not ' || (current_date - 1), 'a close date in the past: 22023');
SELECT throws_ok($$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab8', expected_close_date => 'infinity')$$, '22023', NULL,
    'an infinite close date: 22023');
SELECT is((SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab8'), 'new', '    and the lead is not converted');
CREATE TEMP TABLE conv4 AS SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab8', expected_close_date => current_date) AS r;
SELECT is((SELECT expected_close_date FROM crm.opportunities WHERE id = (SELECT (r->>'opportunity_id')::uuid FROM conv4)), current_date,
    'a given close date (today) is kept');
RESET ROLE;
UPDATE crm.pipeline_stages SET expected_days = NULL WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a';
UPDATE crm.tenants SET settings = settings || '{"default_close_days": 45}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
CREATE TEMP TABLE conv5 AS SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab9') AS r;
SELECT is((SELECT expected_close_date FROM crm.opportunities WHERE id = (SELECT (r->>'opportunity_id')::uuid FROM conv5)), current_date + 45,
    'stages without expected days: today plus the tenant''s default_close_days');

-- move_opportunity
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'qualification', 'budget confirmed')).probability, 25,
    'move_opportunity by stage name returns the moved opportunity');
SELECT is((crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', ' Proposal ')).forecast_category::text, 'best_case',
    'the stage name is trimmed and case-insensitive');
SELECT throws_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'won')$$, '22023',
    'stage "won" is not a stage of the opportunity''s pipeline', 'an unknown stage: 22023');
SELECT is(pg_temp.error_detail($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'won')$$),
    'Valid stages: prospecting, qualification, proposal, negotiation, closed_won, closed_lost.', 'listing the valid stages');
SELECT throws_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'closed_lost')$$, '23514', NULL,
    'a lost stage without a reason: 23514');
SELECT throws_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'closed_lost', '  ')$$, '23514', NULL,
    'a blank reason is no reason');
SELECT is((SELECT count(*) FROM crm.opportunity_stage_history WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae1'), 3::bigint,
    'created + two moves: three history rows');
SELECT is((crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'proposal')).stage_changed_at < now() + interval '1 day', true,
    'moving to the stage it is in returns the opportunity');
SELECT is((SELECT count(*) FROM crm.opportunity_stage_history WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae1'), 3::bigint,
    'and records nothing');
SELECT row_eq($$SELECT (m).probability, (m).closed_at IS NOT NULL, (m).lost_reason FROM (SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'closed_lost', 'too expensive') AS m) x$$,
    ROW(0, true, 'too expensive'::text), 'lost: probability 0, closed, the reason kept');
SELECT is((SELECT reason FROM crm.opportunity_stage_history WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae1' ORDER BY changed_at DESC, id DESC LIMIT 1),
    'too expensive', 'the history has the reason');
SELECT throws_ok($$SELECT crm.move_opportunity('b0000000-0000-7000-8000-000000000be1', 'proposal')$$, 'PT404', NULL, 'another tenant''s opportunity: PT404');
RESET ROLE;
SELECT results_eq($$SELECT type FROM crm.events WHERE entity_id = 'a0000000-0000-7000-8000-000000000ae1' ORDER BY id$$,
    ARRAY['opportunity.created', 'opportunity.stage_changed', 'opportunity.stage_changed', 'opportunity.stage_changed', 'opportunity.lost'],
    'the outbox has created, each stage change, and lost');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'claims');
SELECT throws_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'negotiation', 'back on')$$, '42501', NULL,
    'a rep moving another rep''s opportunity: 42501');

-- move_opportunity: reopening a lost or won deal needs a reason; the account's lifecycle follows its
-- wins (Hooli's deal, converted above: Hooli is a prospect)
CREATE FUNCTION pg_temp.hooli_deal() RETURNS uuid LANGUAGE sql AS $$ SELECT (r->>'opportunity_id')::uuid FROM conv4 $$;
CREATE FUNCTION pg_temp.hooli() RETURNS text LANGUAGE sql AS $$
    SELECT a.lifecycle_stage::text FROM crm.accounts a WHERE a.id = (SELECT (r->>'account_id')::uuid FROM conv4)
$$;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT lives_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'closed_lost', 'no budget')$$, 'Hooli''s deal is lost');
SELECT throws_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'negotiation')$$, '22023',
    'reopening a won or lost opportunity needs a reason', 'reopening a lost deal without a reason: 22023');
SELECT is(pg_temp.error_detail($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'negotiation', ' ')$$),
    'The opportunity is in stage closed_lost (lost); moving it to negotiation reopens it: pass reason.', '    a blank reason is none; the detail says why');
SELECT row_eq($$SELECT (m).closed_at, (m).lost_reason, (m).stage_reason, (m).probability
                FROM (SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'negotiation', 'budget found') AS m) x$$,
    ROW(NULL::timestamptz, NULL::text, 'budget found'::text, 75), 'reopened with a reason: open, the reason kept, the stage''s probability');
SELECT is(pg_temp.hooli(), 'prospect', 'Hooli is a prospect');
SELECT is((crm.move_opportunity(pg_temp.hooli_deal(), 'closed_won')).closed_at IS NOT NULL, true, 'won');
SELECT is(pg_temp.hooli(), 'customer', '    Hooli is a customer');
SELECT throws_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'proposal')$$, '22023', NULL,
    'reopening a won deal without a reason: 22023');
SELECT lives_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'proposal', 'purchase order withdrawn')$$,
    'reopening it with a reason');
SELECT is(pg_temp.hooli(), 'prospect', '    its only won deal reopened: Hooli is back to the stage it had before the win');
SELECT lives_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'closed_won')$$, 'won again');
SELECT is(pg_temp.hooli(), 'customer', '    a customer again');
INSERT INTO crm.opportunities (id, name, account_id, amount)
SELECT 'a0000000-0000-7000-8000-000000000ae2', 'Hooli: support', (r->>'account_id')::uuid, 500 FROM conv4;
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae2', 'closed_won')$$, 'a second deal of Hooli won');
SELECT lives_ok($$SELECT crm.move_opportunity(pg_temp.hooli_deal(), 'negotiation', 'scope change')$$, 'the first reopened');
SELECT is(pg_temp.hooli(), 'customer', '    another won deal remains: still a customer');
-- a rep's win on an account it does not own still makes it a customer; one made a customer by hand
-- before the win stays one when the deal is reopened
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
INSERT INTO crm.opportunities (id, name, account_id, amount) VALUES ('a0000000-0000-7000-8000-000000000ae3', 'Initrode: pilot', 'a0000000-0000-7000-8000-000000000ac2', 900);
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'closed_won')$$, 'a rep wins a deal of the manager''s account');
RESET ROLE;
SELECT is((SELECT lifecycle_stage::text FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac2'), 'customer', '    Initrode is a customer');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'proposal', 'pilot cancelled')$$, '    and reopens it');
RESET ROLE;
SELECT is((SELECT lifecycle_stage::text FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac2'), 'lead', '    Initrode is a lead again');
UPDATE crm.accounts SET lifecycle_stage = 'customer' WHERE id = 'a0000000-0000-7000-8000-000000000ac2';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'closed_won')$$, 'Initrode, made a customer by hand, wins the deal');
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'proposal', 'pilot cancelled again')$$, '    which is reopened');
RESET ROLE;
SELECT is((SELECT lifecycle_stage::text FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac2'), 'customer',
    '    Initrode stays a customer: the win did not make it one');
SELECT is((SELECT count(*) FROM crm.events WHERE entity_id = 'a0000000-0000-7000-8000-000000000ac2' AND type LIKE 'account.%customer%'), 2::bigint,
    '    and no event says it was (became_customer and customer_reverted of the first win only)');
SELECT results_eq($$SELECT type, payload->>'from_stage', payload->>'to_stage', payload->>'opportunity_id' FROM crm.events
                     WHERE entity_type = 'account' AND entity_id = (SELECT (r->>'account_id')::uuid FROM conv4) ORDER BY id$$,
    $$VALUES ('account.became_customer', 'prospect', NULL, pg_temp.hooli_deal()::text),
             ('account.customer_reverted', NULL, 'prospect', pg_temp.hooli_deal()::text),
             ('account.became_customer', 'prospect', NULL, pg_temp.hooli_deal()::text)$$,
    'Hooli''s events: became_customer at each win that made it one (not for the second deal), customer_reverted when it stopped being one');
SELECT results_eq($$SELECT payload->>'was', payload->>'reason' FROM crm.events
                     WHERE type = 'opportunity.reopened' AND entity_id = pg_temp.hooli_deal() ORDER BY id$$,
    $$VALUES ('lost', 'budget found'), ('won', 'purchase order withdrawn'), ('won', 'scope change')$$,
    'opportunity.reopened at each reopening, with what the deal was and why');

-- complete_task
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT row_eq($$SELECT (t).status::text, (t).completed_at IS NOT NULL, (t).outcome FROM (SELECT crm.complete_task('a0000000-0000-7000-8000-000000000a51', 'quote sent') AS t) x$$,
    ROW('completed'::text, true, 'quote sent'::text), 'complete_task completes, with its outcome');
SELECT is((SELECT (crm.complete_task('a0000000-0000-7000-8000-000000000a51', 'again')).outcome), 'quote sent',
    'completing a completed task returns it unchanged');
SELECT is((SELECT count(*) FROM crm.tasks WHERE id = 'a0000000-0000-7000-8000-000000000a51' AND updated_at = now()), 1::bigint, 'it is still there');
INSERT INTO crm.tasks (id, title, status) VALUES ('a0000000-0000-7000-8000-000000000a52', 'Old idea', 'cancelled');
SELECT throws_ok($$SELECT crm.complete_task('a0000000-0000-7000-8000-000000000a52')$$, '23514', NULL, 'a cancelled task is not completed');
SELECT throws_ok($$SELECT crm.complete_task('b0000000-0000-7000-8000-000000000b51')$$, 'PT404', NULL, 'another tenant''s task: PT404');
SELECT throws_ok($$SELECT crm.complete_task(NULL)$$, '22023', 'task_id is required', 'a NULL task id: 22023, not a 404 (crm.not_found)');
SELECT throws_ok($$SELECT crm.move_opportunity(NULL, 'proposal')$$, '22023', 'opportunity_id is required', '    nor for move_opportunity');
RESET ROLE;
SELECT is((SELECT count(*) FROM crm.events WHERE type = 'task.completed' AND entity_id = 'a0000000-0000-7000-8000-000000000a51'), 1::bigint,
    'task.completed is emitted once');

-- reassign_owner
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$SELECT crm.reassign_owner('contact', 'a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-0000000000a2')$$, '42501', NULL,
    'a rep cannot hand its contact over');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is(crm.reassign_owner('contact', 'a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-0000000000a1'),
    '{"entity": "contact", "id": "a0000000-0000-7000-8000-000000000ad1", "owner_id": "a0000000-0000-7000-8000-0000000000a1",
      "previous_owner_id": "a0000000-0000-7000-8000-0000000000a3", "changed": true}'::jsonb,
    'a manager reassigns a contact: the new and the previous owner');
CREATE TEMP TABLE audited AS
SELECT count(*) AS n FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 'a0000000-0000-7000-8000-000000000ad1';
SELECT is(crm.reassign_owner('contact', 'a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-0000000000a1')->'changed', 'false'::jsonb,
    'given to its owner again: nothing changes');
SELECT is((SELECT count(*) FROM crm.audit_log WHERE table_name = 'contacts' AND row_id = 'a0000000-0000-7000-8000-000000000ad1'),
    (SELECT n FROM audited), '    and nothing is written');
SELECT throws_ok($$SELECT crm.reassign_owner('lead', 'a0000000-0000-7000-8000-000000000ab2', NULL)$$, '22023', 'owner_id is required',
    'a missing owner_id: 22023 naming it');
SELECT throws_ok($$SELECT crm.reassign_owner('segment', 'a0000000-0000-7000-8000-000000000ab2', 'a0000000-0000-7000-8000-0000000000a2')$$, '22023', NULL,
    'a segment has no owner');
SELECT is((SELECT owner_id FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad1'), 'a0000000-0000-7000-8000-0000000000a1'::uuid, 'to the admin');
SELECT lives_ok($$SELECT crm.reassign_owner('task', 'a0000000-0000-7000-8000-000000000a51', 'a0000000-0000-7000-8000-0000000000a2')$$,
    'a task is reassigned by its assignee');
SELECT throws_ok($$SELECT crm.reassign_owner('lead', 'a0000000-0000-7000-8000-000000000ab2', 'b0000000-0000-7000-8000-0000000000b3')$$, '22023', NULL,
    'a user of another tenant cannot own a record');
SELECT throws_ok($$SELECT crm.reassign_owner('lead', 'b0000000-0000-7000-8000-000000000bb1', 'a0000000-0000-7000-8000-0000000000a2')$$, 'PT404', NULL,
    'another tenant''s lead: PT404');

-- close_lead
SELECT throws_ok($$SELECT crm.close_lead('a0000000-0000-7000-8000-000000000ab3', 'whatever')$$, '23514', NULL, 'a converted lead cannot be lost');
INSERT INTO crm.leads (id, company, owner_id) VALUES ('a0000000-0000-7000-8000-000000000ab6', 'Penetrode', 'a0000000-0000-7000-8000-0000000000a2');
SELECT throws_ok($$SELECT crm.close_lead('a0000000-0000-7000-8000-000000000ab6', NULL)$$, '23514', NULL, 'closing needs a reason');
SELECT is((crm.close_lead('a0000000-0000-7000-8000-000000000ab6', ' no fit ')).lost_reason, 'no fit', 'close_lead loses the lead with its reason');

-- log_activity: about records the caller reads, bad input said as such
SELECT is((crm.log_activity('call', 'Follow-up', lead_id => 'a0000000-0000-7000-8000-000000000ab6', outcome => 'no_answer')).owner_id,
    'a0000000-0000-7000-8000-0000000000a2'::uuid, 'log_activity logs as the caller');
SELECT row_eq($$SELECT (a).type::text, (a).contact_id, (a).occurred_at FROM (SELECT crm.log_activity('email', 'Old email',
                    contact_id => 'a0000000-0000-7000-8000-000000000ad1', occurred_at => '2020-01-02 10:00+00') AS a) x$$,
    ROW('email'::text, 'a0000000-0000-7000-8000-000000000ad1'::uuid, '2020-01-02 10:00+00'::timestamptz),
    'log_activity returns the activity as a row of crm.activities');
SELECT throws_ok($$SELECT crm.log_activity('call')$$, '22023', 'an activity must be about a lead, a contact, an account or an opportunity',
    'an activity about nothing: 22023 saying what it must be about (not the CHECK constraint''s name)');
SELECT throws_ok($$SELECT crm.log_activity('call', lead_id => 'b0000000-0000-7000-8000-000000000bb1')$$, 'PT404',
    'lead b0000000-0000-7000-8000-000000000bb1 not found', 'another tenant''s lead: PT404 (was 23503, a 409 over HTTP)');
SELECT throws_ok($$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab6', opportunity_id => 'a0000000-0000-7000-8000-0000000000ff')$$,
    'PT404', 'opportunity a0000000-0000-7000-8000-0000000000ff not found', 'an opportunity that does not exist: PT404, even with a good lead');
SELECT throws_ok($$SELECT crm.log_activity('call', account_id => 'b0000000-0000-7000-8000-000000000bc1')$$, 'PT404', NULL,
    'another tenant''s account: PT404');
SELECT throws_ok($$SELECT crm.log_activity('call', contact_id => 'b0000000-0000-7000-8000-000000000bd1')$$, 'PT404', NULL,
    'another tenant''s contact: PT404');
SELECT throws_ok($$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab6', outcome => 'No Answer')$$, '22023',
    'outcome must be a lowercase word, not ''No Answer''', 'an outcome that is not a lowercase word: 22023');
SELECT throws_ok($$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab6', duration_minutes => -1)$$, '22023',
    'duration_minutes must not be negative', 'a negative duration: 22023');
SELECT throws_ok($$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab6', occurred_at => 'infinity')$$, '22023', NULL,
    'an infinite time: 22023');
SELECT throws_ok($$SELECT crm.log_activity(NULL, lead_id => 'a0000000-0000-7000-8000-000000000ab6')$$, '22023', 'type is required', 'no type: 22023');
SELECT is((SELECT count(*) FROM crm.activities WHERE lead_id = 'a0000000-0000-7000-8000-000000000ab6'), 1::bigint, 'the refused ones logged nothing');

-- timeline: pinned notes first, then newest first; an account's includes its contacts' activities and its cases
INSERT INTO crm.notes (id, body, contact_id, is_pinned, created_at) VALUES
    ('a0000000-0000-7000-8000-000000000a62', 'Call on Tuesdays', 'a0000000-0000-7000-8000-000000000ad1', true, '2019-05-01 09:00+00');
SELECT results_eq($$SELECT kind, title, is_pinned FROM crm.timeline('contact', 'a0000000-0000-7000-8000-000000000ad1')$$,
    $$VALUES ('note', 'Call on Tuesdays', true), ('case', 'TPS reports fail to print', false), ('activity', 'Intro call', false),
             ('activity', 'Old email', false)$$,
    'a contact''s timeline: its pinned note first however old, then its case and activities newest first (at a tie, by kind)');
SELECT lives_ok($$SELECT crm.log_activity('meeting', 'Negotiation', opportunity_id => 'a0000000-0000-7000-8000-000000000ae1', occurred_at => '2020-02-01 10:00+00')$$,
    'a meeting about the account''s opportunity');
INSERT INTO crm.notes (id, body, account_id, is_pinned, created_at) VALUES
    ('a0000000-0000-7000-8000-000000000a63', 'Key account', 'a0000000-0000-7000-8000-000000000ac1', true, '2019-01-01 09:00+00');
CREATE TEMP TABLE tl AS SELECT row_number() OVER () AS n, * FROM crm.timeline('account', 'a0000000-0000-7000-8000-000000000ac1');
SELECT results_eq($$SELECT kind, title FROM tl WHERE n <= 2 ORDER BY n$$,
    $$VALUES ('note', 'Key account'), ('stage_change', 'proposal -> closed_lost')$$,
    'an account''s timeline: its pinned note first, then the newest (at a tie, by kind then id, newest id first)');
SELECT set_eq($$SELECT kind, item_id FROM tl$$,
    $$SELECT 'activity', a.id FROM crm.activities a
       WHERE a.account_id = 'a0000000-0000-7000-8000-000000000ac1'
          OR a.contact_id IN (SELECT id FROM crm.contacts WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1')
          OR a.opportunity_id IN (SELECT id FROM crm.opportunities WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1')
      UNION ALL SELECT 'task', id FROM crm.tasks WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1'
      UNION ALL SELECT 'note', id FROM crm.notes WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1'
      UNION ALL SELECT 'case', id FROM crm.cases WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1'
      UNION ALL SELECT 'stage_change', h.id FROM crm.opportunity_stage_history h
                 JOIN crm.opportunities o ON o.id = h.opportunity_id WHERE o.account_id = 'a0000000-0000-7000-8000-000000000ac1'$$,
    '    with its activities, its contacts'' and its opportunities'' activities, its tasks, notes, cases and stage changes, each once');
SELECT ok((SELECT count(*) FROM tl WHERE (kind, item_id) IN (('activity', 'a0000000-0000-7000-8000-000000000aa1'::uuid), ('case', 'a0000000-0000-7000-8000-000000000a91'::uuid))) = 2,
    '    among them the call with its contact Peter and the support case');
SELECT is((SELECT count(*) FROM tl a JOIN tl b ON b.n = a.n + 1
            WHERE (a.is_pinned::int, a.at, a.kind, a.item_id) <= (b.is_pinned::int, b.at, b.kind, b.item_id)), 0::bigint,
    '    in the order pinned, time, kind, id, all descending, no two rows equal');
SELECT is((SELECT count(*) FROM tl WHERE kind = 'activity' AND title = 'Negotiation'), 1::bigint, '    the meeting about its opportunity is there once');

-- timeline pages: page after page with the last row's cursor gives every row once, in order, ties included
CREATE FUNCTION pg_temp.walk(entity text, id uuid, size int) RETURNS TABLE (n bigint, kind text, item_id uuid, pages int)
LANGUAGE plpgsql AS $$
DECLARE
    c text;
    got int;
    k bigint := 0;
    p int := 0;
    r record;
BEGIN
    LOOP
        got := 0;
        p := p + 1;
        FOR r IN SELECT * FROM crm_api.timeline(entity, id, size, c) LOOP
            got := got + 1; k := k + 1;
            n := k; kind := r.kind; item_id := r.item_id; pages := p; c := r.cursor;
            RETURN NEXT;
        END LOOP;
        EXIT WHEN got < size;
    END LOOP;
END $$;
SELECT results_eq($$SELECT kind, item_id FROM pg_temp.walk('account', 'a0000000-0000-7000-8000-000000000ac1', 2) ORDER BY n$$,
    $$SELECT kind, item_id FROM tl ORDER BY n$$, 'an account''s timeline two rows a page: the same rows in the same order as in one page');
SELECT is((SELECT max(pages) FROM pg_temp.walk('account', 'a0000000-0000-7000-8000-000000000ac1', 2)), ceil((SELECT count(*) FROM tl) / 2.0)::int,
    '    in as many pages as it takes (of rows: a last page that would be empty says the end)');
INSERT INTO crm.activities (type, subject, lead_id, occurred_at)
SELECT 'call', format('Call %s', i), 'a0000000-0000-7000-8000-000000000ab6', '2020-06-01 12:00+00' FROM generate_series(1, 5) i;
SELECT results_eq($$SELECT item_id FROM pg_temp.walk('lead', 'a0000000-0000-7000-8000-000000000ab6', 2) ORDER BY n$$,
    $$SELECT id FROM crm.activities WHERE lead_id = 'a0000000-0000-7000-8000-000000000ab6' ORDER BY occurred_at DESC, id DESC$$,
    'five calls at the same time, two a page: each once, newest id first, the page boundary inside the tie');
SELECT is((SELECT count(*) FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', page_size => 3)), 3::bigint, 'page_size rows at most');
SELECT is((SELECT count(*) FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6')), 6::bigint, 'and 50 by default');
SELECT is((SELECT count(*) FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', 500,
            (SELECT cursor FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6') ORDER BY at, item_id LIMIT 1))), 0::bigint,
    'after the last row: an empty page');
SELECT throws_ok($$SELECT * FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', 0)$$, '22023', 'page_size must be from 1 to 500, not 0',
    'page_size 0: 22023');
SELECT throws_ok($$SELECT * FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', 501)$$, '22023', NULL, 'page_size 501: 22023');
SELECT throws_ok($$SELECT * FROM crm_api.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', NULL)$$, '22023', NULL, 'page_size NULL: 22023');
SELECT throws_ok($$SELECT * FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab6', after => '2020-06-01')$$, '22023',
    'after must be a cursor returned by crm.timeline, not ''2020-06-01''', 'a text that is not a cursor: 22023');
SELECT throws_ok($$SELECT * FROM crm.timeline('lead', NULL)$$, '22023', 'id is required', 'no id: 22023');
SELECT throws_ok($$SELECT * FROM crm.timeline('lead', 'b0000000-0000-7000-8000-000000000bb1')$$, 'PT404', NULL, 'another tenant''s lead: PT404');
SELECT throws_ok($$SELECT * FROM crm.timeline('task', 'a0000000-0000-7000-8000-000000000a51')$$, '22023', NULL, 'no timeline for a task');
SELECT throws_ok($$SELECT * FROM crm_api.timeline('invoice', 'a0000000-0000-7000-8000-000000000a51')$$, '22023', NULL, 'nor for an unknown entity');

-- a private tenant: a rep logs nothing about, and reads no timeline of, a record it does not see
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$SELECT crm.log_activity('call', contact_id => 'a0000000-0000-7000-8000-000000000ad2')$$, 'PT404',
    'contact a0000000-0000-7000-8000-000000000ad2 not found', 'private tenant: another rep''s contact is PT404 to a rep');
SELECT throws_ok($$SELECT * FROM crm.timeline('contact', 'a0000000-0000-7000-8000-000000000ad2')$$, 'PT404', NULL, '    and so is its timeline');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
