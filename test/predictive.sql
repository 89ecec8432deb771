-- predictive.sql (pgTAP): the naive Bayes win probability on a small example computed by hand, the
-- minimum history, the counts kept by triggers (won, lost, reopened, deleted) and their rebuild.
\ir lib/preamble.psql

BEGIN;
SELECT plan(20);
\ir lib/become.psql

SET client_min_messages = warning;
-- On Citus (test/citus/suites) the tenant and its users are committed before its admin writes (Citus
-- keeps one connection per user to each worker, and refuses a user's access to shards another user
-- changed in the transaction); what an earlier file left of tenant C goes first.
SELECT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') AS on_citus \gset
\if :on_citus
DELETE FROM crm.tenants WHERE id = 'c0000000-0000-7000-8000-00000000000c';
\endif
SELECT crm.create_tenant('Bayes', '{"win_model_min_history": 6}', 'c0000000-0000-7000-8000-00000000000c') IS NOT NULL AS tenant \gset
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c1', 'admin@bayes.test', 'Admin', 'admin'),
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c3', 'rep@bayes.test', 'Rep', 'rep');
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_admin', 'c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c1', 'guc');

-- six past leads; the fields that differ are the source and whether the lead decides:
--   won:  referral + decision maker, referral, website + decision maker
--   lost: website, website, referral
INSERT INTO crm.leads (first_name, company, source, is_decision_maker) VALUES
    ('W1', 'W1 Co', 'referral', true), ('W2', 'W2 Co', 'referral', false), ('W3', 'W3 Co', 'website', true),
    ('L1', 'L1 Co', 'website', false), ('L2', 'L2 Co', 'website', false), ('L3', 'L3 Co', 'referral', false);
\ir lib/leads.psql
-- (the leads read first, then each converted or closed: Citus would send an action called in a query
-- over crm.leads to the shard, where the action cannot query the shards)
CREATE TEMP TABLE past_leads AS SELECT l.id, l.first_name FROM crm.leads l;
CREATE TEMP TABLE won_deals AS
SELECT l.first_name, (crm.convert_lead(l.id)->>'opportunity_id')::uuid AS opportunity_id FROM past_leads l WHERE l.first_name LIKE 'W%';
SELECT is((SELECT count(*) FROM won_deals d, crm.move_opportunity(d.opportunity_id, 'closed_won') m), 3::bigint, 'three leads converted and won');
SELECT is((SELECT count(*) FROM past_leads l, crm.close_lead(l.id, 'no budget') c WHERE l.first_name LIKE 'L%'), 3::bigint, 'three leads lost');
SELECT results_eq($$SELECT field, value, won, lost FROM crm_api.lead_win_counts WHERE won + lost > 0 ORDER BY field, value$$,
    $$VALUES ('*'::text, '*'::text, 3::bigint, 3::bigint), ('decision_maker', 'false', 1, 3), ('decision_maker', 'true', 2, 0),
             ('purchase_timeline', 'unknown', 3, 3), ('source', 'referral', 2, 1), ('source', 'website', 1, 2)$$,
    'the triggers counted each value among the won and the lost');

-- By hand, for a referral that decides (P(won) = P(lost) = 3/6; two sources and two answers seen):
--   source referral: P(.|won) = (2+1)/(3+2) = 3/5, P(.|lost) = (1+1)/(3+2) = 2/5      -> x 3/2
--   decision maker:  P(.|won) = (2+1)/(3+2) = 3/5, P(.|lost) = (0+1)/(3+2) = 1/5      -> x 3
--   timeline unknown (the only value seen): (3+1)/(3+1) for both                       -> x 1
--   odds 9/2, probability 9/11 = 81.8182 %
INSERT INTO crm.leads (first_name, company, source, is_decision_maker) VALUES
    ('Q1', 'Q1 Co', 'referral', true), ('Q2', 'Q2 Co', 'website', false), ('Q3', 'Q3 Co', 'event', true);
SELECT is(crm.lead_win_probability(pg_temp.lead('Q1')), 81.8182, 'a referral that decides: 9/11 = 81.8182');
-- website (2/5 vs 3/5: x 2/3), not deciding (2/5 vs 4/5: x 1/2): odds 1/3, probability 1/4
SELECT is(crm.lead_win_probability(pg_temp.lead('Q2')), 25.0000, 'a website lead that does not decide: 1/4 = 25.0000');
-- a source never seen (1/5 vs 1/5: x 1), deciding (x 3): odds 3, probability 3/4
SELECT is(crm.lead_win_probability(pg_temp.lead('Q3')), 75.0000, 'an unseen source weighs nothing: 3/4 = 75.0000');
SELECT is(crm.explain_lead_win_probability(pg_temp.lead('Q1'))->'fields',
    '[{"won": 2, "lost": 0, "field": "decision_maker", "value": "true", "effect": "raises", "weight": 1.0986},
      {"won": 2, "lost": 1, "field": "source", "value": "referral", "effect": "raises", "weight": 0.4055},
      {"won": 3, "lost": 3, "field": "purchase_timeline", "value": "unknown", "effect": "neutral", "weight": 0.0000}]'::jsonb,
    'the explanation lists each field''s weight (ln 3, ln 3/2, 0), strongest first');
SELECT is(crm.explain_lead_win_probability(pg_temp.lead('Q1')) - 'fields',
    '{"won": 3, "lost": 3, "prior": 50.0000, "min_history": 6, "probability": 81.8182}'::jsonb, '    with the counts, the prior and the probability');

-- below the minimum history: NULL, and why
UPDATE crm.tenants SET settings = settings || '{"win_model_min_history": 7}' WHERE id = crm.current_tenant();
SELECT is(crm.lead_win_probability(pg_temp.lead('Q1')), NULL, 'with 6 decided leads and 7 needed: NULL');
SELECT is(crm.explain_lead_win_probability(pg_temp.lead('Q1'))->>'reason', 'not enough history: 3 won and 3 lost leads, 7 needed',
    '    and the explanation says why');
SELECT throws_ok($$UPDATE crm.tenants SET settings = settings || '{"win_model_min_history": -1}' WHERE id = crm.current_tenant()$$,
    '22023', NULL, 'the minimum history is a whole number');
UPDATE crm.tenants SET settings = settings || '{"win_model_min_history": 6}' WHERE id = crm.current_tenant();

-- the counts follow the leads: a lost lead reopened, a won deal reopened, a won deal deleted
UPDATE crm.leads SET status = 'contacted' WHERE first_name = 'L3';
SELECT row_eq($$SELECT won, lost FROM crm.lead_win_counts WHERE field = 'source' AND value = 'referral'$$, ROW(2::bigint, 0::bigint),
    'reopening a lost lead takes it out of the lost counts');
SELECT lives_ok($$SELECT crm.move_opportunity((SELECT opportunity_id FROM won_deals WHERE first_name = 'W2'), 'negotiation', 'not signed after all')$$,
    'a won deal goes back to negotiation');
SELECT row_eq($$SELECT won, lost FROM crm.lead_win_counts WHERE field = 'source' AND value = 'referral'$$, ROW(1::bigint, 0::bigint),
    '    its lead is no longer won');
DELETE FROM crm.opportunities WHERE id = (SELECT opportunity_id FROM won_deals WHERE first_name = 'W3');
SELECT row_eq($$SELECT won, lost FROM crm.lead_win_counts WHERE field = '*'$$, ROW(1::bigint, 2::bigint),
    'deleting a won deal takes its lead out too: 1 won, 2 lost left');
SELECT is(crm.lead_win_probability(pg_temp.lead('Q1')), NULL, 'now below the minimum history again');

-- the rebuild agrees with what the triggers kept
CREATE TEMP TABLE kept AS SELECT field, value, won, lost FROM crm.lead_win_counts WHERE won + lost > 0;
-- (on Citus the admin's writes are committed before the rebuild, a SECURITY DEFINER job that writes as
-- the extension's owner, and the rebuild before the admin reads what it wrote)
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c1', 'guc');
\endif
SELECT is((crm.rebuild_win_model()->>'changed')::bigint, 3::bigint, 'rebuilding counts the 3 decided leads');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c1', 'guc');
\endif
SELECT set_eq($$SELECT field, value, won, lost FROM crm.lead_win_counts$$, $$SELECT * FROM kept$$,
    'and finds the counts the triggers kept');
SELECT pg_temp.become('crm_rep', 'c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c3', 'guc');
SELECT throws_ok($$SELECT crm.rebuild_win_model()$$, '42501', NULL, 'a rep does not rebuild the model');
SELECT throws_ok($$UPDATE crm.lead_win_counts SET won = 100$$, '42501', NULL, 'nor writes its counts');
RESET ROLE;
-- (on Citus, where the tenant was committed, it goes again)
\if :on_citus
COMMIT;
BEGIN;
DELETE FROM crm.tenants WHERE id = 'c0000000-0000-7000-8000-00000000000c';
COMMIT;
BEGIN;
\endif

SELECT * FROM finish();
ROLLBACK;
