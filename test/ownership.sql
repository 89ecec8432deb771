-- ownership.sql (pgTAP): inside one tenant, who reads and who changes which records (src/ownership.sql).
-- A rep changes only what it owns; in a 'private' tenant it reads only what it owns; managers and
-- admins read and change everything of the tenant. Child rows (a contact's emails) follow the parent.
\ir lib/preamble.psql

BEGIN;
SELECT plan(29);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- Tenant A is public (the default): the rep a3 reads every contact, changes only its own (Peter).
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT is((SELECT count(*) FROM crm.contacts), 2::bigint, 'public tenant: a rep reads every contact of the tenant');
SELECT is((SELECT count(*) FROM crm.contact_emails), 3::bigint, 'public tenant: and every contact''s emails');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'Engineer' WHERE first_name = 'Peter'$$), 1::bigint,
    'a rep changes a contact it owns');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'Boss' WHERE first_name = 'Bill'$$), 0::bigint,
    'a rep does not change a contact someone else owns (0 rows)');
SELECT is(pg_temp.affected($$DELETE FROM crm.contacts WHERE first_name = 'Bill'$$), 0::bigint,
    'a rep does not delete a contact someone else owns');
SELECT is(pg_temp.affected($$UPDATE crm.accounts SET industry = 'software' WHERE name = 'Initrode'$$), 0::bigint,
    'a rep does not change an account someone else owns');
SELECT throws_ok($$UPDATE crm.contacts SET owner_id = 'a0000000-0000-7000-8000-0000000000a2' WHERE first_name = 'Peter'$$,
    '42501', NULL, 'a rep cannot give its contact away by updating owner_id');
SELECT throws_ok($$INSERT INTO crm.contacts (first_name, owner_id) VALUES ('Milton', 'a0000000-0000-7000-8000-0000000000a2')$$,
    '42501', NULL, 'a rep cannot create a contact owned by someone else');
SELECT lives_ok($$INSERT INTO crm.contacts (first_name, last_name) VALUES ('Milton', 'Waddams')$$,
    'a rep creates a contact; owner_id defaults to the rep');
SELECT is((SELECT owner_id FROM crm.contacts WHERE first_name = 'Milton'), 'a0000000-0000-7000-8000-0000000000a3'::uuid,
    'the new contact is owned by the rep');
SELECT throws_ok($$INSERT INTO crm.contact_emails (contact_id, email) VALUES ('a0000000-0000-7000-8000-000000000ad2', 'bill2@initech.test')$$,
    '42501', NULL, 'a rep cannot add an email to a contact it does not own');
SELECT lives_ok($$INSERT INTO crm.contact_emails (contact_id, email) VALUES ('a0000000-0000-7000-8000-000000000ad1', 'pg@initech.test')$$,
    'a rep adds an email to its own contact');
SELECT is(pg_temp.affected($$DELETE FROM crm.contact_emails WHERE contact_id = 'a0000000-0000-7000-8000-000000000ad2'$$), 0::bigint,
    'a rep does not delete the emails of a contact it does not own');

-- The manager a2 changes anything of the tenant.
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'claims');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET title = 'Consultant' WHERE first_name = 'Peter'$$), 1::bigint,
    'a manager changes a rep''s contact');
SELECT is(pg_temp.affected($$UPDATE crm.contacts SET owner_id = 'a0000000-0000-7000-8000-0000000000a2' WHERE first_name = 'Milton'$$), 1::bigint,
    'a manager reassigns a contact');
SELECT lives_ok($$INSERT INTO crm.contacts (first_name, owner_id) VALUES ('Samir', 'a0000000-0000-7000-8000-0000000000a3')$$,
    'a manager creates a contact owned by a rep');

-- Tenant A turns private: the rep reads only what it owns; the manager still reads everything.
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT results_eq($$SELECT first_name FROM crm.contacts ORDER BY first_name$$, ARRAY['Peter', 'Samir'],
    'private tenant: a rep reads only the contacts it owns');
SELECT results_eq($$SELECT name FROM crm.accounts ORDER BY name$$, ARRAY['Initech'],
    'private tenant: and only the accounts it owns');
SELECT is((SELECT count(*) FROM crm.contact_emails WHERE contact_id = 'a0000000-0000-7000-8000-000000000ad2'), 0::bigint,
    'private tenant: the emails of a contact it cannot read are hidden too');
SELECT is((SELECT count(*) FROM crm.contact_emails), 3::bigint, 'private tenant: it reads its own contact''s three emails');
SELECT is((SELECT count(*) FROM crm.users), 3::bigint, 'private tenant: the user directory stays visible to everyone');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((SELECT count(*) FROM crm.contacts), 4::bigint, 'private tenant: a manager reads every contact');
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT is((SELECT count(*) FROM crm.accounts), 2::bigint, 'private tenant: an admin reads every account');

-- The role and sharing test is a plain call (Citus refuses subqueries in the policies of distributed
-- tables), reading the sharing from the context's cache, which a change of the setting invalidates.
RESET ROLE;
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT ok(pg_temp.plan_of('SELECT * FROM crm.contacts') !~ '(InitPlan|SubPlan)', 'the role and sharing test is no subquery');
SELECT ok(pg_temp.plan_of('SELECT * FROM crm.contacts') ~ 'crm.sees_all_records\(\)', 'the role and sharing test is a call of crm.sees_all_records()');
SELECT is((SELECT count(*) FROM crm.contacts), 2::bigint, 'private tenant: the rep reads its own two contacts only');
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "public"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT is((SELECT count(*) FROM crm.contacts), 4::bigint, 'the tenant made public: the same rep, in the same session, reads every contact at once');
RESET ROLE;
UPDATE crm.tenants SET settings = settings || '{"sharing": "private"}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT ok(pg_temp.plan_of('SELECT * FROM crm.contacts') ~ 'tenant_id = crm.current_tenant\(\)', 'the tenant test is in the plan');

-- crm.sees_all_records / crm.changes_all_records
SELECT is(crm.sees_all_records(), false, 'a rep of a private tenant does not see all records');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
