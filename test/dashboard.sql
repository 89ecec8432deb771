-- dashboard.sql (pgTAP): crm.dashboard on the hand-computed sales history of lib/sales.psql: its keys,
-- its figures, one owner's, and what a rep reads under the tenant's sharing setting.
\ir lib/preamble.psql

BEGIN;
SELECT plan(19);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
CREATE TEMP TABLE d AS SELECT crm.dashboard() AS j;
SELECT is((SELECT array_agg(k ORDER BY k) FROM d, jsonb_object_keys(j) k),
    '{at_risk_accounts,at_risk_count,average_deal_size,conversion_rate,leads_by_source,open_opportunities,pipeline_value,recent_interactions,sales_cycle_days,stage_pipeline,top_opportunities,total_customers,total_leads,weighted_pipeline_value,win_rate}',
    'the dashboard''s keys');
-- open: 200 x 10% + 1000 x 50% + 333.33 x 75% + 0.01 x 33% = 770.0008; won 4 of 5 closed, 6850 / 4 a deal,
-- cycles 30, 60, 10 and 5 days (26.25); 2 of 7 leads converted
SELECT is((SELECT j - 'recent_interactions' - 'top_opportunities' - 'stage_pipeline' - 'at_risk_accounts' FROM d),
    '{"total_customers": 1, "total_leads": 7, "open_opportunities": 4, "pipeline_value": 1533.34, "weighted_pipeline_value": 770.00,
      "conversion_rate": 28.57, "win_rate": 80.00, "average_deal_size": 1712.50, "sales_cycle_days": 26.3,
      "leads_by_source": {"website": 3, "referral": 2, "campaign": 2}, "at_risk_count": 1}'::jsonb,
    'the figures');
SELECT is((SELECT jsonb_path_query_array(j, '$.top_opportunities[*].name') FROM d), '["Deal two", "Deal three", "Initech renewal", "Deal four"]'::jsonb,
    'top opportunities: the open ones, largest first');
SELECT is((SELECT (j->'top_opportunities'->0) - 'id' - 'owner_id' - 'account_id' FROM d),
    '{"name": "Deal two", "amount": 1000.00, "currency": "USD", "stage": "proposal", "probability": 50, "expected_close_date": "2025-02-20"}'::jsonb,
    '    each with its stage and probability');
SELECT is((SELECT jsonb_array_length(j->'recent_interactions') FROM d), 8, 'recent interactions: the tenant''s 8 activities (at most 10)');
SELECT is((SELECT j->'recent_interactions'->0->>'subject' FROM d), 'Intro call', '    the latest first');
SELECT is((SELECT j->'stage_pipeline'->2 FROM d), '{"stage": "proposal", "position": 2, "deal_count": 2, "amount": 1000.01, "weighted_amount": 500.0033}'::jsonb,
    'the amount per stage of the default pipeline');
SELECT is((SELECT j->'at_risk_accounts'->0->>'name' FROM d), 'Initrode', 'accounts at risk: the red ones');
SELECT is(crm.dashboard('a0000000-0000-7000-8000-0000000000a2') - 'recent_interactions' - 'top_opportunities' - 'stage_pipeline' - 'leads_by_source',
    '{"total_customers": 0, "total_leads": 1, "open_opportunities": 2, "pipeline_value": 333.34, "weighted_pipeline_value": 250.00,
      "conversion_rate": 0.00, "win_rate": 50.00, "average_deal_size": 1500.00, "sales_cycle_days": 60.0,
      "at_risk_accounts": [{"id": "a0000000-0000-7000-8000-000000000ac2", "name": "Initrode", "health_score": 30, "health_trend": "declining",
                            "owner_id": "a0000000-0000-7000-8000-0000000000a2"}], "at_risk_count": 1}'::jsonb,
    'one owner''s dashboard');
SELECT throws_ok($$SELECT crm.dashboard('b0000000-0000-7000-8000-0000000000b3')$$, 'PT404', NULL, 'an owner of another tenant: PT404');
RESET ROLE;

-- a rep: the tenant's figures when sharing is public, its own when private
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((crm.dashboard()->>'open_opportunities')::int, 4, 'a rep of a public tenant: every open deal');
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(crm.dashboard() - 'recent_interactions' - 'top_opportunities' - 'stage_pipeline' - 'leads_by_source',
    '{"total_customers": 1, "total_leads": 6, "open_opportunities": 2, "pipeline_value": 1200.00, "weighted_pipeline_value": 520.00,
      "conversion_rate": 33.33, "win_rate": 100.00, "average_deal_size": 1783.33, "sales_cycle_days": 15.0,
      "at_risk_accounts": [], "at_risk_count": 0}'::jsonb,
    'a rep of a private tenant: its own records only');
RESET ROLE;
SELECT pg_temp.become('crm_rep', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'claims');
SELECT is((crm.dashboard()->>'total_leads')::int, 1, 'tenant B: its own lead only');
RESET ROLE;
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm_api.dashboard(uuid)'::regprocedure), 's', 'crm_api.dashboard is STABLE');

-- winning and reopening: total_customers follows the accounts' lifecycle; a reopened deal is not won
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
UPDATE crm.opportunities SET account_id = 'a0000000-0000-7000-8000-000000000ac2' WHERE id = 'a0000000-0000-7000-8000-000000000ae3';
CREATE TEMP TABLE before AS SELECT crm.dashboard() AS j, crm.sales_metrics(current_date, current_date) AS m;
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'closed_won'),
                         crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'closed_won')$$,
    'Deal three (of Initrode, a lead) and Initech renewal (of Initech, a customer already) are won');
SELECT row_eq($$SELECT (j->>'total_customers')::int, (j->>'open_opportunities')::int, j->'win_rate', (m->>'won_deals')::int
                FROM (SELECT crm.dashboard() AS j, crm.sales_metrics(current_date, current_date) AS m) x$$,
    ROW(2, 2, '85.71'::jsonb, 2), '    Initrode is a customer too; two open deals fewer; 6 of 7 closed deals won; sales_metrics: 2 won today');
SELECT lives_ok($$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae3', 'negotiation', 'legal said no'),
                         crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'prospecting', 'entered by mistake')$$,
    'both are reopened');
SELECT is(crm.dashboard() - 'recent_interactions', (SELECT j - 'recent_interactions' FROM before),
    '    the dashboard is as before: Initrode a lead again, Initech still a customer (it was one before its win), the deals open and not won');
SELECT is(crm.sales_metrics(current_date, current_date) - 'stage_conversion', (SELECT m - 'stage_conversion' FROM before),
    '    and so are the sales metrics: no deal won today');

SELECT * FROM finish();
ROLLBACK;
