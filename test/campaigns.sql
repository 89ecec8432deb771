-- campaigns.sql (pgTAP): campaigns and their members (defaults, rules, who may change them) and
-- crm.lead_source_analytics on the hand-computed leads of lib/sales.psql.
\ir lib/preamble.psql

BEGIN;
SELECT plan(21);
SET LOCAL timezone = 'UTC';
\ir lib/two_tenants.psql
\ir lib/sales.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'claims');
INSERT INTO crm.campaigns (id, name, type) VALUES ('b0000000-0000-7000-8000-000000000b86', 'Autumn mail', 'email');
SELECT row_eq($$SELECT currency::text, status::text, owner_id FROM crm.campaigns WHERE id = 'b0000000-0000-7000-8000-000000000b86'$$,
    ROW('EUR'::text, 'draft'::text, 'b0000000-0000-7000-8000-0000000000b3'::uuid), 'a new campaign: the tenant''s currency, a draft, the caller''s');
INSERT INTO crm.campaign_members (campaign_id, contact_id) VALUES ('b0000000-0000-7000-8000-000000000b86', 'b0000000-0000-7000-8000-000000000bd1');
UPDATE crm.campaign_members SET status = 'responded' WHERE contact_id = 'b0000000-0000-7000-8000-000000000bd1';
SELECT ok((SELECT responded_at IS NOT NULL FROM crm.campaign_members WHERE contact_id = 'b0000000-0000-7000-8000-000000000bd1'),
    'responding stamps responded_at');
SELECT throws_ok($$INSERT INTO crm.campaign_members (campaign_id, contact_id) VALUES ('b0000000-0000-7000-8000-000000000b86', 'b0000000-0000-7000-8000-000000000bd1')$$,
    '23505', NULL, 'a contact is a member of a campaign once');
SELECT throws_ok($$INSERT INTO crm.campaign_members (campaign_id, lead_id, contact_id) VALUES ('b0000000-0000-7000-8000-000000000b86', 'b0000000-0000-7000-8000-000000000bb1', 'b0000000-0000-7000-8000-000000000bd1')$$,
    '23514', NULL, 'a member is a lead or a contact, not both');
SELECT throws_ok($$INSERT INTO crm.campaigns (name, type, starts_on, ends_on) VALUES ('Backwards', 'event', '2025-02-01', '2025-01-01')$$,
    '23514', NULL, 'a campaign does not end before it starts');
SELECT throws_ok($$INSERT INTO crm.campaigns (name, type, spent) VALUES ('Refund', 'event', -1)$$, '23514', NULL, 'nor spends less than nothing');
SELECT throws_ok($$INSERT INTO crm.campaigns (name, type) VALUES ('Carrier pigeon', 'pigeon')$$, '22P02', NULL, 'an unknown type: 22P02');
SELECT throws_ok($$UPDATE crm.leads SET campaign_id = 'a0000000-0000-7000-8000-000000000a85' WHERE id = 'b0000000-0000-7000-8000-000000000bb1'$$,
    '23503', NULL, 'a lead''s campaign is of its own tenant');
RESET ROLE;

-- a rep changes its own campaigns only (the manager's are read only to it)
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(pg_temp.affected($$UPDATE crm.campaigns SET status = 'paused' WHERE id = 'a0000000-0000-7000-8000-000000000a85'$$), 1::bigint,
    'a rep changes its own campaign');
RESET ROLE;
UPDATE crm.campaigns SET owner_id = 'a0000000-0000-7000-8000-0000000000a2' WHERE id = 'a0000000-0000-7000-8000-000000000a85';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(pg_temp.affected($$UPDATE crm.campaigns SET status = 'active' WHERE id = 'a0000000-0000-7000-8000-000000000a85'$$), 0::bigint,
    '    not a manager''s');
SELECT is(pg_temp.affected($$DELETE FROM crm.campaign_members WHERE campaign_id = 'a0000000-0000-7000-8000-000000000a85'$$), 0::bigint,
    '    nor its members');

-- lead sources over 2025 Q1
SELECT results_eq($$SELECT * FROM crm.lead_source_analytics('2025-01-01', '2025-03-31')$$,
    $$VALUES ('website'::text, 2::bigint, 1::bigint, 50.00::numeric, 5000.00::numeric, 5000.00::numeric, NULL::numeric),
             ('campaign', 1, 0, 0.00, 0, NULL, 150.00),
             ('referral', 1, 1, 100.00, 0, NULL, NULL)$$,
    'per source: leads, conversions, the won revenue of their deals (a lost one brings none), cost per lead where spend is known (300 over two leads)');
SELECT is((SELECT count(*) FROM crm.lead_source_analytics('2024-01-01', '2024-12-31')), 0::bigint, 'a period without leads: no rows');
RESET ROLE;
-- a rep of a private tenant who reads one of the campaign's two leads: the spend is still shared by both
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
UPDATE crm.leads SET owner_id = 'a0000000-0000-7000-8000-0000000000a2' WHERE id = 'a0000000-0000-7000-8000-000000000ab7';
UPDATE crm.campaigns SET owner_id = 'a0000000-0000-7000-8000-0000000000a3' WHERE id = 'a0000000-0000-7000-8000-000000000a85';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((SELECT cost_per_lead FROM crm.lead_source_analytics('2025-01-01', '2025-03-31') WHERE source = 'campaign'), 150.00,
    'a rep reading one of the campaign''s two leads: still 300 over both');
RESET ROLE;
UPDATE crm.campaigns SET spent = NULL WHERE id = 'a0000000-0000-7000-8000-000000000a85';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is((SELECT cost_per_lead FROM crm.lead_source_analytics('2025-01-01', '2025-03-31') WHERE source = 'campaign'), NULL,
    'unknown spend: no cost per lead');
SELECT throws_ok($$SELECT * FROM crm.lead_source_analytics('2025-03-31', '2025-01-01')$$, '22023', NULL, 'reversed dates: 22023');
RESET ROLE;
SELECT pg_temp.become('crm_rep', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'claims');
SELECT is((SELECT count(*) FROM crm.lead_source_analytics('2025-01-01', '2025-03-31')), 0::bigint, 'another tenant sees none of A''s leads');
RESET ROLE;
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'crm_api.lead_source_analytics(date, date)'::regprocedure), 's', 'crm_api.lead_source_analytics is STABLE');


-- Deleting a campaign clears leads.campaign_id (a plain key and its delete path, docs/design.md §12): also
-- the manager's lead the deleting rep may not change, and only in its tenant (tenant B has a campaign of
-- the same id, named by its lead).
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.campaigns (tenant_id, id, name, type, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000a8d', 'Going away', 'email', 'a0000000-0000-7000-8000-0000000000a3'),
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000a8d', 'Same id in B', 'email', 'b0000000-0000-7000-8000-0000000000b3');
UPDATE crm.leads SET campaign_id = 'a0000000-0000-7000-8000-000000000a8d'
 WHERE id IN ('a0000000-0000-7000-8000-000000000ab2', 'b0000000-0000-7000-8000-000000000bb1');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT lives_ok($$DELETE FROM crm.campaigns WHERE id = 'a0000000-0000-7000-8000-000000000a8d'$$, 'the rep deletes its campaign');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is((SELECT campaign_id FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab2'), NULL,
    'the manager''s lead from it loses its campaign_id');
SELECT is((SELECT campaign_id FROM crm.leads WHERE id = 'b0000000-0000-7000-8000-000000000bb1'), 'a0000000-0000-7000-8000-000000000a8d'::uuid,
    'tenant B''s lead naming its own campaign of the same id keeps it');

SELECT * FROM finish();
ROLLBACK;
