-- scenario.sql (pgTAP): one deal from first touch to signature, as a rep does it, checking the events,
-- the stage history and the audit log it leaves behind.
\ir lib/preamble.psql

BEGIN;
SELECT plan(16);
\ir lib/two_tenants.psql
\ir lib/become.psql
-- pg_temp.v(q): the value a query returns, read apart from the pgTAP call (on Citus a query over one
-- tenant's shard is sent to the worker whole, pgTAP's calls included, where there is no plan)
\ir citus/lib.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');

-- a web form brings a lead
INSERT INTO crm.leads (id, first_name, last_name, email, phone, company, title, source, budget, purchase_timeline, is_decision_maker)
VALUES ('a0000000-0000-7000-8000-0000000005c1', 'Milton', 'Waddams', 'milton@basement.test', '+1 512 555 0199', 'Basement Storage',
        'Collator', 'website', 25000, 'this_quarter', true);
SELECT is(pg_temp.v($$SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-0000000005c1'$$), 'new', '1. the lead is new');

-- the rep calls: the lead is contacted
SELECT lives_ok($$SELECT crm.log_activity('call', 'Discovery call', lead_id => 'a0000000-0000-7000-8000-0000000005c1', outcome => 'connected',
                                          direction => 'outbound', duration_minutes => 25)$$, '2. log a call');
SELECT is(pg_temp.v($$SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-0000000005c1'$$), 'contacted', '   the lead is contacted');

-- qualified, then converted
UPDATE crm.leads SET status = 'qualified' WHERE id = 'a0000000-0000-7000-8000-0000000005c1';
SELECT is(pg_temp.v($$SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-0000000005c1'$$), 'qualified', '3. qualified');
CREATE TEMP TABLE deal AS SELECT crm.convert_lead('a0000000-0000-7000-8000-0000000005c1', opportunity_name => 'Basement: storage plan') AS r;
SELECT ok((SELECT (r->>'account_created')::boolean AND (r->>'contact_created')::boolean AND r->>'opportunity_id' IS NOT NULL FROM deal),
    '4. converted into a new account, contact and opportunity');
SELECT results_eq(format($$SELECT amount FROM crm.opportunities WHERE id = %L$$, (SELECT (r->>'opportunity_id')::uuid FROM deal)),
    ARRAY[25000.00::numeric(18,2)],
    '   the opportunity''s amount is the lead''s budget');

-- every stage, then won (pg_temp.opp() reads the temp table here: a query over the shards gets its value
-- by format(), not the call, which a worker could not make)
CREATE FUNCTION pg_temp.opp() RETURNS uuid LANGUAGE sql AS $$ SELECT (r->>'opportunity_id')::uuid FROM deal $$;
SELECT lives_ok($$SELECT crm.move_opportunity(pg_temp.opp(), s) FROM unnest(ARRAY['qualification', 'proposal', 'negotiation']) s$$,
    '5. through qualification, proposal and negotiation');
SELECT is((crm.move_opportunity(pg_temp.opp(), 'closed_won', 'signed')).forecast_category::text, 'closed', '6. won');
SELECT row_eq(format($$SELECT probability, closed_at IS NOT NULL FROM crm.opportunities WHERE id = %L$$, pg_temp.opp()), ROW(100, true),
    '   probability 100, closed_at set');
SELECT results_eq(format($$SELECT f.name, s.name FROM crm.opportunity_stage_history h
                      JOIN crm.pipeline_stages s ON s.id = h.to_stage_id LEFT JOIN crm.pipeline_stages f ON f.id = h.from_stage_id
                    WHERE h.opportunity_id = %L ORDER BY h.id$$, pg_temp.opp()),
    $$VALUES (NULL, 'prospecting'), ('prospecting', 'qualification'), ('qualification', 'proposal'), ('proposal', 'negotiation'),
             ('negotiation', 'closed_won')$$,
    '7. the stage history has every stage, in order');
SELECT is(pg_temp.v(format($$SELECT reason FROM crm.opportunity_stage_history WHERE opportunity_id = %L ORDER BY id DESC LIMIT 1$$, pg_temp.opp())), 'signed',
    '   with the reason of the win');

-- a follow-up task, completed
INSERT INTO crm.tasks (id, title, opportunity_id) VALUES ('a0000000-0000-7000-8000-0000000005c2', 'Kick-off meeting', pg_temp.opp());
SELECT is((crm.complete_task('a0000000-0000-7000-8000-0000000005c2', 'held')).status::text, 'completed', '8. the kick-off task is done');

-- what the manager sees afterwards (on Citus the rep's work is committed first: Citus refuses a read of
-- placements that another user changed in the same transaction; the next fixture removes the tenants)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT results_eq(format($$SELECT type FROM crm.events
                    WHERE entity_id IN ('a0000000-0000-7000-8000-0000000005c1', %L, 'a0000000-0000-7000-8000-0000000005c2') ORDER BY id$$, pg_temp.opp()),
    ARRAY['lead.created', 'lead.qualified', 'opportunity.created', 'lead.converted', 'opportunity.stage_changed', 'opportunity.stage_changed',
          'opportunity.stage_changed', 'opportunity.stage_changed', 'opportunity.won', 'task.completed'],
    '9. the outbox tells the whole story, in order');
SELECT results_eq($$SELECT new_values->>'status' FROM crm.audit_log
                    WHERE table_name = 'leads' AND row_id = 'a0000000-0000-7000-8000-0000000005c1' AND action = 'update' ORDER BY id$$,
    ARRAY['contacted', 'qualified', 'converted'], '10. the audit log has every status change of the lead');
SELECT is(pg_temp.n(format($$SELECT count(*) FROM crm.audit_log WHERE table_name = 'opportunities' AND row_id = %L$$, pg_temp.opp())), 5::bigint,
    '    and the opportunity''s insert and four moves');
SELECT results_eq($$SELECT kind FROM crm.timeline('opportunity', pg_temp.opp())$$,
    ARRAY['task', 'stage_change', 'stage_change', 'stage_change', 'stage_change', 'stage_change'],
    '11. the opportunity''s timeline, newest first: the task and the five stages entered (at one time: by kind)');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
