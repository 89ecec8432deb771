-- accounts.sql (pgTAP): accounts, their domain normalization, hierarchy without cycles, bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(32);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');

-- happy path and defaults
SELECT lives_ok($$INSERT INTO crm.accounts (name, domain, country, employee_count, annual_revenue, industry)
                  VALUES ('Globex', 'https://www.Globex.COM/about?x=1', 'us', 250, 1250000, 'energy')$$,
    'a rep creates an account with only its fields');
SELECT row_eq($$SELECT tenant_id, domain, country::text, lifecycle_stage::text, owner_id, custom FROM crm.accounts WHERE name = 'Globex'$$,
    ROW('a0000000-0000-7000-8000-00000000000a'::uuid, 'globex.com'::text, 'US'::text, 'lead'::text, 'a0000000-0000-7000-8000-0000000000a3'::uuid, '{}'::jsonb),
    'tenant, owner, lifecycle stage and custom default; domain and country are normalized');
SELECT is(substr((SELECT id FROM crm.accounts WHERE name = 'Globex')::text, 15, 1), '7', 'ids are uuid_v7');
SELECT lives_ok($$UPDATE crm.accounts SET domain = 'globex.co.uk:443' WHERE name = 'Globex'$$, 'the domain can be changed');
SELECT is((SELECT domain FROM crm.accounts WHERE name = 'Globex'), 'globex.co.uk', 'a port is dropped too');
SELECT lives_ok($$UPDATE crm.accounts SET domain = '' WHERE name = 'Globex'$$, 'an empty domain is allowed');
SELECT is((SELECT domain FROM crm.accounts WHERE name = 'Globex'), NULL, 'and stored as NULL');

-- bad input
SELECT throws_ok($$INSERT INTO crm.accounts (name) VALUES ('  ')$$, '23514', NULL, 'an account needs a name');
SELECT throws_ok($$INSERT INTO crm.accounts (name, domain) VALUES ('Bad', 'not a domain')$$, '23514', NULL, 'a malformed domain is refused');
SELECT throws_ok($$INSERT INTO crm.accounts (name, country) VALUES ('Bad', 'USA')$$, '22001', NULL, 'a country is two letters');
SELECT throws_ok($$INSERT INTO crm.accounts (name, country) VALUES ('Bad', '1A')$$, '23514', NULL, 'a country is letters');
SELECT throws_ok($$INSERT INTO crm.accounts (name, employee_count) VALUES ('Bad', -1)$$, '23514', NULL, 'employee_count is not negative');
SELECT throws_ok($$INSERT INTO crm.accounts (name, annual_revenue) VALUES ('Bad', -5)$$, '23514', NULL, 'annual_revenue is not negative');
SELECT throws_ok($$INSERT INTO crm.accounts (name, lifecycle_stage) VALUES ('Bad', 'won')$$, '22P02', NULL, 'lifecycle_stage is one of the enum');
SELECT throws_ok($$INSERT INTO crm.accounts (name, custom) VALUES ('Bad', '[1]')$$, '23514', NULL, 'custom is a JSON object');
SELECT throws_ok($$INSERT INTO crm.accounts (name, parent_account_id) VALUES ('Bad', 'b0000000-0000-7000-8000-000000000bc1')$$,
    '23503', NULL, 'a parent account of another tenant does not exist here');
SELECT is((SELECT count(*) FROM crm.accounts WHERE name = 'Bad'), 0::bigint, 'no partial data was left');

-- hierarchy: Initech (ac1) > Initrode (ac2); the manager owns Initrode
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$UPDATE crm.accounts SET parent_account_id = id WHERE name = 'Initech'$$, '23514', NULL,
    'an account cannot be its own parent');
SELECT throws_ok($$UPDATE crm.accounts SET parent_account_id = 'a0000000-0000-7000-8000-000000000ac2' WHERE name = 'Initech'$$, '23514', NULL,
    'an account cannot be the child of its own child');
SELECT lives_ok($$INSERT INTO crm.accounts (id, name, parent_account_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-000000000ac3', 'Initrode Labs', 'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2')$$,
    'a third level is fine');
SELECT throws_ok($$UPDATE crm.accounts SET parent_account_id = 'a0000000-0000-7000-8000-000000000ac3' WHERE name = 'Initech'$$, '23514', NULL,
    'nor of its grandchild: a longer cycle is found too');
SELECT lives_ok($$UPDATE crm.accounts SET parent_account_id = NULL WHERE name = 'Initrode'$$, 'a parent link can be removed');
SELECT lives_ok($$DELETE FROM crm.accounts WHERE name = 'Initrode'$$, 'a parent account can be deleted');
SELECT is((SELECT parent_account_id FROM crm.accounts WHERE name = 'Initrode Labs'), NULL, 'its children lose the link, not their rows');
RESET ROLE;


-- Deleting an account clears what refers to it (plain keys and its delete path, docs/design.md §12): also
-- rows the deleting rep may not change, and only in its tenant. As the operator: a lead converted into
-- Initech (the manager's), and in tenant B an account with Initech's very id, with a contact, a lead, an
-- opportunity and an NPS answer pointing to it.
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000ac1', 'Same id in B', 'b0000000-0000-7000-8000-0000000000b3');
INSERT INTO crm.leads (tenant_id, id, company, owner_id, converted_account_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ab9', 'Initech lead', 'a0000000-0000-7000-8000-0000000000a2',
     'a0000000-0000-7000-8000-000000000ac1'),
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-000000000bb9', 'B lead', 'b0000000-0000-7000-8000-0000000000b3',
     'a0000000-0000-7000-8000-000000000ac1');
INSERT INTO crm.contacts (tenant_id, id, account_id, first_name, owner_id) VALUES
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-000000000bd9', 'a0000000-0000-7000-8000-000000000ac1', 'Bea',
     'b0000000-0000-7000-8000-0000000000b3');
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, owner_id) VALUES
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-000000000be9', 'B deal', 'a0000000-0000-7000-8000-000000000ac1',
     'b0000000-0000-7000-8000-0000000000b3');
INSERT INTO crm.nps_responses (tenant_id, contact_id, score) VALUES
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-000000000bd9', 7);
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT lives_ok($$DELETE FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac1'$$, 'the rep deletes its account Initech');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is(ARRAY(SELECT account_id FROM crm.contacts WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'
                   AND id IN ('a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-000000000ad2')),
    ARRAY[NULL, NULL]::uuid[], 'its contacts lose their account, the manager''s Bill too, which the rep may not change');
SELECT is((SELECT account_id FROM crm.opportunities WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND id = 'a0000000-0000-7000-8000-000000000ae1'),
    NULL, 'its opportunity loses its account');
SELECT is((SELECT converted_account_id FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab9'), NULL,
    'the lead converted into it loses its converted_account_id');
SELECT is((SELECT account_id FROM crm.nps_responses WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'), NULL,
    'its NPS answer loses its account');
SELECT is(ARRAY[(SELECT account_id FROM crm.contacts WHERE id = 'b0000000-0000-7000-8000-000000000bd9'),
                (SELECT converted_account_id FROM crm.leads WHERE id = 'b0000000-0000-7000-8000-000000000bb9'),
                (SELECT account_id FROM crm.opportunities WHERE id = 'b0000000-0000-7000-8000-000000000be9'),
                (SELECT account_id FROM crm.nps_responses WHERE contact_id = 'b0000000-0000-7000-8000-000000000bd9')],
    ARRAY['a0000000-0000-7000-8000-000000000ac1', 'a0000000-0000-7000-8000-000000000ac1', 'a0000000-0000-7000-8000-000000000ac1',
          'a0000000-0000-7000-8000-000000000ac1']::uuid[],
    'tenant B''s rows that name its own account of the same id keep it');
-- a parent and its child in one statement (the parent first): the grandchild loses its link
INSERT INTO crm.accounts (tenant_id, id, name, owner_id, parent_account_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cf1', 'Holding', 'a0000000-0000-7000-8000-0000000000a3', NULL);
INSERT INTO crm.accounts (tenant_id, id, name, owner_id, parent_account_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cf2', 'Division', 'a0000000-0000-7000-8000-0000000000a3',
     'a0000000-0000-7000-8000-000000000cf1');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id, parent_account_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cf3', 'Team', 'a0000000-0000-7000-8000-0000000000a3',
     'a0000000-0000-7000-8000-000000000cf2');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT lives_ok($$DELETE FROM crm.accounts WHERE id IN ('a0000000-0000-7000-8000-000000000cf1', 'a0000000-0000-7000-8000-000000000cf2')$$,
    'an account and its subaccount deleted in one statement');
SELECT is((SELECT parent_account_id FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000cf3'), NULL,
    '    the subaccount of the subaccount loses its link');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
