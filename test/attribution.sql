-- attribution.sql (pgTAP): crm.revenue_attribution on the touchpoints of lib/sales.psql, every model
-- computed by hand: Deal five (5000.00, won 2025-01-31 10:00) was touched by campaign a85 29 days
-- before, a call on its lead 28 days, an email to its contact 14 days and a meeting on it 7 days
-- before (a call after the win does not count); Deal eight (100.00) by three calls 9, 8 and 7 days
-- before; Deal nine (250.00) by nothing. Credits sum exactly to each deal's amount.
\ir lib/preamble.psql

BEGIN;
SELECT plan(18);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
CREATE TEMP VIEW deal5 AS SELECT 'a0000000-0000-7000-8000-000000000ae5'::uuid AS id;
CREATE FUNCTION pg_temp.credits(model text, deal text) RETURNS numeric[] LANGUAGE sql AS $$
    SELECT array_agg(credit) FROM crm.revenue_attribution('2025-01-01', '2025-03-31', model) WHERE opportunity_id = deal::uuid
$$;
-- A deal's amount, read in a statement of its own: on Citus a query over crm.opportunities goes to the
-- tenant's shard whole, where crm.revenue_attribution (which reads the tenant's tables) cannot run.
CREATE FUNCTION pg_temp.amount(deal uuid) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    a numeric;
BEGIN
    SELECT o.amount INTO a FROM crm.opportunities o WHERE o.id = deal;
    RETURN a;
END
$$;

SELECT results_eq($$SELECT touchpoint_type, touchpoint_id, channel FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'linear')
                     WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae5'$$,
    $$VALUES ('campaign'::text, 'a0000000-0000-7000-8000-000000000a85'::uuid, 'webinar'::text),
             ('activity', 'a0000000-0000-7000-8000-000000000aa3', 'call'),
             ('activity', 'a0000000-0000-7000-8000-000000000aa4', 'email'),
             ('activity', 'a0000000-0000-7000-8000-000000000aa5', 'meeting')$$,
    'the touchpoints of a won deal, oldest first: its lead''s campaign and call, its contact''s email, its own meeting; not what came after the win');
SELECT is(pg_temp.credits('first_touch', 'a0000000-0000-7000-8000-000000000ae5'), '{5000.00,0.00,0.00,0.00}', 'first touch: all to the campaign');
SELECT is(pg_temp.credits('last_touch', 'a0000000-0000-7000-8000-000000000ae5'), '{0.00,0.00,0.00,5000.00}', 'last touch: all to the meeting');
SELECT is(pg_temp.credits('linear', 'a0000000-0000-7000-8000-000000000ae5'), '{1250.00,1250.00,1250.00,1250.00}', 'linear: a quarter each');
SELECT is(pg_temp.credits('position_based', 'a0000000-0000-7000-8000-000000000ae5'), '{2000.00,500.00,500.00,2000.00}',
    'position based: 40% first and last, 20% shared between');
-- time decay: weights 2^(-29/7), 2^(-28/7), 2^(-14/7), 2^(-7/7) = 0.05661, 0.0625, 0.25, 0.5: exact shares
-- 325.6658, 359.5642, 1438.2567, 2876.5134; floored to 4999.98, the two cents go to the largest fractions
SELECT is(pg_temp.credits('time_decay', 'a0000000-0000-7000-8000-000000000ae5'), '{325.67,359.56,1438.26,2876.51}',
    'time decay (7-day half-life): the later, the more');
SELECT is(pg_temp.credits('linear', 'a0000000-0000-7000-8000-000000000ae8'), '{33.34,33.33,33.33}',
    'linear over 100.00 and three touches: the cent left over goes to one of them, not lost');
-- 30.0924, 33.2247, 36.6830: floored to 99.99, the cent goes to the largest fraction (.47)
SELECT is(pg_temp.credits('time_decay', 'a0000000-0000-7000-8000-000000000ae8'), '{30.09,33.23,36.68}', '    time decay too');
SELECT is(pg_temp.credits('position_based', 'a0000000-0000-7000-8000-000000000ae8'), '{40.00,20.00,40.00}', '    position based with three');
SELECT results_eq($$SELECT touchpoint_type, touchpoint_id, channel, credit FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'first_touch')
                     WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae9'$$,
    $$VALUES ('unattributed'::text, NULL::uuid, NULL::text, 250.00::numeric)$$, 'a deal without touchpoints: one unattributed row');
SELECT is((SELECT array_agg(DISTINCT m) FROM unnest(crm.attribution_models()) m
            WHERE EXISTS (SELECT 1 FROM (SELECT opportunity_id, sum(credit) AS s FROM crm.revenue_attribution('2025-01-01', '2025-03-31', m) GROUP BY 1) c
                          WHERE c.s <> pg_temp.amount(c.opportunity_id))),
    NULL, 'under every model the credits sum to each won amount');
SELECT is((SELECT count(DISTINCT opportunity_id) FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'linear')), 3::bigint,
    'the deals won in the period (not the one won in April, nor lost or open ones)');
-- a touch decades old weighs nothing under time decay (and breaks nothing); a huge amount over 300
-- touches still sums to the cent
INSERT INTO crm.activities (type, occurred_at, opportunity_id) VALUES ('call', '1990-01-01', 'a0000000-0000-7000-8000-000000000ae9');
SELECT is(pg_temp.credits('time_decay', 'a0000000-0000-7000-8000-000000000ae9'), '{250.00}', 'time decay: a touch 35 years before the win, the only one, gets it all');
RESET ROLE;
-- (on Citus the superuser's writes below come after a commit, and are committed: Citus refuses a user
-- the shards another user changed in the transaction; lib/two_tenants.psql)
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
UPDATE crm.opportunities SET amount = 9000000000000002.99 WHERE id = 'a0000000-0000-7000-8000-000000000ae9';
INSERT INTO crm.activities (tenant_id, type, occurred_at, opportunity_id, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', 'email', timestamptz '2025-03-01' + n * interval '1 minute', 'a0000000-0000-7000-8000-000000000ae9',
       'a0000000-0000-7000-8000-0000000000a3'
FROM generate_series(1, 299) n;
\if :on_citus
COMMIT;
BEGIN;
SET LOCAL timezone = 'UTC';
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((SELECT sum(credit) FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'linear') WHERE opportunity_id = 'a0000000-0000-7000-8000-000000000ae9'),
    9000000000000002.99, '    and 9000000000000002.99 over 300 touches, linear: the credits sum exactly');
UPDATE crm.opportunities SET amount = 250 WHERE id = 'a0000000-0000-7000-8000-000000000ae9';
SELECT throws_ok($$SELECT * FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'w_shaped')$$, '22023', 'unknown attribution model ''w_shaped''',
    'an unknown model: 22023');
SELECT throws_ok($$SELECT * FROM crm.revenue_attribution('2025-03-31', '2025-01-01', 'linear')$$, '22023', NULL, 'reversed dates: 22023');
RESET ROLE;

SELECT pg_temp.become('crm_manager', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b2', 'guc');
SELECT is((SELECT count(*) FROM crm.revenue_attribution('2025-01-01', '2025-03-31', 'linear')), 0::bigint, 'another tenant sees none of it');
RESET ROLE;
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm_api.revenue_attribution(date, date, text)'::regprocedure), 's', 'crm_api.revenue_attribution is STABLE');

SELECT * FROM finish();
ROLLBACK;
