-- pipeline.sql (pgTAP): crm.pipeline_summary and crm.sales_metrics on the hand-computed sales history of
-- lib/sales.psql: every stage in order, exact weighted amounts, the owner filter, what a rep of a private
-- tenant sees, conversion, win rate, cycle, velocity, and the errors of bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(33);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql
SELECT id AS b_pipeline FROM crm.pipelines WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b' \gset

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');

-- pipeline_summary
SELECT results_eq($$SELECT stage, position, deal_count, amount, weighted_amount, probability FROM crm.pipeline_summary()$$,
    $$VALUES ('prospecting'::text, 0, 1::bigint, 200.00::numeric, 20.00::numeric, 10::numeric),
             ('qualification', 1, 0, 0, 0, 25),
             ('proposal', 2, 2, 1000.01, 500.0033, 50),
             ('negotiation', 3, 1, 333.33, 249.9975, 75),
             ('closed_won', 4, 4, 6850.00, 6850.00, 100),
             ('closed_lost', 5, 1, 700.00, 0, 0)$$,
    'the default pipeline: every stage in order, the empty one too, weighted amounts exact (0.01 x 33% = 0.0033)');
SELECT results_eq($$SELECT stage, avg_days_in_stage FROM crm.pipeline_summary() WHERE stage IN ('proposal', 'qualification', 'closed_won') ORDER BY position$$,
    $$VALUES ('qualification'::text, NULL::numeric), ('proposal', 5.0), ('closed_won', NULL)$$,
    'days in stage: the mean of 10 and 0 days; none for an empty stage or a closed one');
SELECT results_eq($$SELECT stage, deal_count, amount FROM crm.pipeline_summary(owner_id => 'a0000000-0000-7000-8000-0000000000a2') WHERE deal_count > 0$$,
    $$VALUES ('proposal'::text, 1::bigint, 0.01::numeric), ('negotiation', 1, 333.33), ('closed_won', 1, 1500.00), ('closed_lost', 1, 700.00)$$,
    'one owner''s deals only');
-- (its id read first: on Citus a query over crm.pipelines is sent to the shard whole, and
-- crm.pipeline_summary reads the tenant's tables itself, which it cannot do from a shard)
SELECT id AS a_pipeline FROM crm.pipelines WHERE is_default \gset
SELECT is((SELECT sum(deal_count) FROM crm.pipeline_summary(:'a_pipeline')), 9::numeric,
    'the default pipeline by its id: the same 9 deals');
SELECT results_eq($$SELECT array_agg(x.deal_count ORDER BY x.stage_id)
                     FROM unnest((SELECT crm.pipeline_totals(o.stage_id, o.amount, o.probability, o.stage_changed_at) FROM crm.opportunities o)) x$$,
          $$SELECT array_agg(n ORDER BY stage_id) FROM (SELECT stage_id, count(*) AS n FROM crm.opportunities GROUP BY stage_id) g$$,
    'the aggregate over the table agrees with GROUP BY');
SELECT throws_ok($$SELECT * FROM crm.pipeline_summary('a0000000-0000-7000-8000-00000000dead')$$, 'PT404', NULL, 'an unknown pipeline: PT404');
SELECT throws_ok(format('SELECT * FROM crm.pipeline_summary(%L)', :'b_pipeline'),
    'PT404', NULL, '    another tenant''s pipeline too');
SELECT throws_ok($$SELECT * FROM crm.pipeline_summary(owner_id => 'b0000000-0000-7000-8000-0000000000b3')$$, 'PT404', NULL,
    'an owner of another tenant: PT404');

-- sales_metrics over 2025 Q1
CREATE TEMP TABLE m AS SELECT crm.sales_metrics('2025-01-01', '2025-03-31') AS j;
SELECT is((SELECT j - 'stage_conversion' FROM m),
    '{"from_date": "2025-01-01", "to_date": "2025-03-31", "owner_id": null, "team_id": null,
      "won_deals": 3, "lost_deals": 1, "won_amount": 5350.00, "win_rate": 75.00, "average_deal_size": 1783.33,
      "sales_cycle_days": 15.0, "open_deals": 4, "open_amount": 1533.34, "pipeline_velocity": 356.67,
      "leads_created": 4, "leads_converted": 2, "lead_conversion_rate": 50.00, "lead_to_customer_rate": 25.00}'::jsonb,
    'Q1 2025: 3 won of 4 closed, 1783.33 a deal, 15 days, velocity 4 x 75% x 1783.33 / 15, half the leads converted, a quarter won');
SELECT is((SELECT j->'stage_conversion' FROM m),
    '[{"pipeline": "Sales", "stage": "prospecting", "entered": 2, "advanced": 2, "conversion_rate": 100.00},
      {"pipeline": "Sales", "stage": "qualification", "entered": 1, "advanced": 1, "conversion_rate": 100.00},
      {"pipeline": "Sales", "stage": "proposal", "entered": 2, "advanced": 1, "conversion_rate": 50.00},
      {"pipeline": "Sales", "stage": "negotiation", "entered": 0, "advanced": 0, "conversion_rate": null}]'::jsonb,
    'stage to stage: skipping a stage advances, a loss does not');
SELECT is(crm.sales_metrics('2025-01-01', '2025-03-31', owner_id => 'a0000000-0000-7000-8000-0000000000a2') - 'stage_conversion'
          - 'from_date' - 'to_date' - 'owner_id' - 'team_id',
    '{"won_deals": 0, "lost_deals": 1, "won_amount": 0, "win_rate": 0.00, "average_deal_size": null, "sales_cycle_days": null,
      "open_deals": 2, "open_amount": 333.34, "pipeline_velocity": null,
      "leads_created": 0, "leads_converted": 0, "lead_conversion_rate": null, "lead_to_customer_rate": null}'::jsonb,
    'one owner: no deal won, so no size, cycle or velocity');
SELECT is(crm.sales_metrics('2025-01-01', '2025-03-31', team_id => 'a0000000-0000-7000-8000-0000000000f1') - 'team_id',
          (SELECT j - 'team_id' FROM m), 'a team holding every owner: the same figures');
SELECT is((crm.sales_metrics('2025-04-01', '2025-06-30')->>'won_deals')::int, 1, 'Q2: the one won in April');
SELECT is(crm.sales_metrics('2024-01-01', '2024-01-01')->'win_rate', 'null'::jsonb, 'a day without closed deals: no win rate');
SELECT throws_ok($$SELECT crm.sales_metrics('2025-03-31', '2025-01-01')$$, '22023', NULL, 'reversed dates: 22023');
SELECT throws_ok($$SELECT crm.sales_metrics(NULL, '2025-01-01')$$, '22023', NULL, 'a missing date: 22023');
SELECT throws_ok($$SELECT crm.sales_metrics('2025-01-01', '2025-03-31', team_id => 'a0000000-0000-7000-8000-00000000dead')$$, 'PT404', NULL,
    'an unknown team: PT404');

-- bad amounts and times are refused where they are written, so no report breaks on them
SELECT throws_ok($$INSERT INTO crm.opportunities (name, amount) VALUES ('Not a number', 'NaN')$$, '23514', NULL, 'a NaN amount: 23514');
SELECT throws_ok($$INSERT INTO crm.opportunities (name, amount, stage_changed_at) VALUES ('Forever', 1, 'infinity')$$, '23514', NULL,
    'an infinite stage entry time: 23514');
-- moves in one transaction share now(): the later one still counts as later
SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'qualification') \g /dev/null
SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'proposal') \g /dev/null
SELECT is((SELECT x FROM jsonb_array_elements(crm.sales_metrics(current_date, current_date)->'stage_conversion') x WHERE x->>'stage' = 'qualification'),
    '{"pipeline": "Sales", "stage": "qualification", "entered": 1, "advanced": 1, "conversion_rate": 100.00}'::jsonb,
    'two moves in one transaction: the deal entered qualification and went on');
SELECT throws_ok($$SELECT crm.pipeline_totals_add(NULL, NULL, NULL, NULL, NULL) FROM crm.opportunities$$, '42501', NULL,
    'the aggregate''s support functions are not for callers');

-- a rep reads the tenant's deals in a public tenant, its own in a private one (on Citus after a commit:
-- it refuses a read of the tenant's shards by another user than the manager who changed them above)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((SELECT sum(deal_count) FROM crm.pipeline_summary()), 9::numeric, 'a rep of a public tenant: every deal');
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
-- (on Citus committed too: the rep's read of crm.users, a reference table, would follow the superuser's
-- change of another one, crm.tenants, in the transaction)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT results_eq($$SELECT stage, deal_count FROM crm.pipeline_summary() WHERE deal_count > 0$$,
    $$VALUES ('proposal'::text, 2::bigint), ('closed_won', 3)$$, 'a rep of a private tenant: its own deals only (Initech renewal moved on above)');
SELECT is((crm.sales_metrics('2025-01-01', '2025-03-31')->>'lost_deals')::int, 0, '    and its own metrics (the lost deal is the manager''s)');
SELECT is((SELECT count(*) FROM crm_api.pipeline_summary()), 6::bigint, 'through crm_api too');
RESET ROLE;

-- no context, other tenants
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
SELECT throws_ok($$SELECT * FROM crm.pipeline_summary()$$, 'PT404', NULL, 'no tenant context: no pipeline (PT404)');
RESET ROLE;
SELECT pg_temp.become('crm_manager', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b2', 'guc');
SELECT is((SELECT sum(amount) FROM crm.pipeline_summary()), 250.00, 'tenant B sees its own deal only');
SELECT is((crm.sales_metrics('2025-01-01', '2025-03-31')->>'won_deals')::int, 0, '    and none of A''s in its metrics');
RESET ROLE;

-- the functions' labels: readers are STABLE (PostgREST GETs them), the aggregate parallel safe with a concrete state
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm_api.pipeline_summary(uuid, uuid)'::regprocedure), 's', 'crm_api.pipeline_summary is STABLE');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm_api.sales_metrics(date, date, uuid, uuid)'::regprocedure), 's', 'crm_api.sales_metrics is STABLE');
SELECT is((SELECT proparallel FROM pg_proc WHERE oid = 'crm.pipeline_totals(uuid, numeric, integer, timestamptz)'::regprocedure), 's',
    'the aggregate is PARALLEL SAFE');
SELECT is((SELECT aggtranstype::regtype::text FROM pg_aggregate WHERE aggfnoid = 'crm.pipeline_totals(uuid, numeric, integer, timestamptz)'::regprocedure),
    'bytea', '    with a bytea state, not internal');
SELECT ok((SELECT aggcombinefn <> 0 FROM pg_aggregate WHERE aggfnoid = 'crm.pipeline_totals(uuid, numeric, integer, timestamptz)'::regprocedure),
    '    and a combine function');

SELECT * FROM finish();
ROLLBACK;
