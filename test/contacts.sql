-- contacts.sql (pgTAP): contacts, their emails and phones (exactly one primary each), hierarchy,
-- opt-outs, bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(39);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
CREATE FUNCTION pg_temp.emails(c uuid) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(email::text || CASE WHEN is_primary THEN '*' ELSE '' END, ',' ORDER BY created_at, id)
    FROM crm.contact_emails WHERE contact_id = c
$$;

-- a new contact with an email and a phone: both become the primary entries
SELECT lives_ok($$INSERT INTO crm.contacts (id, first_name, last_name, email, phone, account_id)
                  VALUES ('a0000000-0000-7000-8000-000000000ad9', 'Michael', 'Bolton', 'Michael.Bolton@Initech.test', '+1 (512) 555-0199',
                          'a0000000-0000-7000-8000-000000000ac1')$$, 'a rep creates a contact with an email and a phone');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test*', 'the email is in contact_emails, primary');
SELECT is((SELECT phone::text || '/' || is_primary FROM crm.contact_phones WHERE contact_id = 'a0000000-0000-7000-8000-000000000ad9'),
    '+15125550199/true', 'the phone is in contact_phones, in E.164, primary');

-- a second email is not primary; promoting it demotes the first and updates the contact
SELECT lives_ok($$INSERT INTO crm.contact_emails (contact_id, email, type) VALUES ('a0000000-0000-7000-8000-000000000ad9', 'bolton@home.test', 'personal')$$,
    'a second email');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test*,bolton@home.test', 'the first stays primary');
SELECT lives_ok($$UPDATE crm.contact_emails SET is_primary = true WHERE email = 'bolton@home.test'$$, 'promote the second');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test,bolton@home.test*', 'exactly one primary');
SELECT is((SELECT email::text FROM crm.contacts WHERE first_name = 'Michael'), 'bolton@home.test', 'contacts.email follows the primary');
SELECT throws_ok($$UPDATE crm.contact_emails SET is_primary = false WHERE email = 'bolton@home.test'$$, '23514', NULL,
    'the primary is not demoted by itself');
SELECT throws_ok($$INSERT INTO crm.contact_emails (contact_id, email) VALUES ('a0000000-0000-7000-8000-000000000ad9', 'BOLTON@home.test')$$,
    '23505', NULL, 'the same address twice on one contact is refused, whatever its case');

-- writing contacts.email adds or promotes
SELECT lives_ok($$UPDATE crm.contacts SET email = 'Michael.Bolton@initech.test' WHERE first_name = 'Michael'$$, 'set contacts.email to a known address');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test*,bolton@home.test', 'it is promoted');
SELECT lives_ok($$UPDATE crm.contacts SET email = 'mb@initech.test' WHERE first_name = 'Michael'$$, 'set contacts.email to a new address');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test,bolton@home.test,mb@initech.test*', 'it is added as primary');
-- deleting the primary: the oldest remaining takes over; setting NULL deletes the primary
SELECT lives_ok($$DELETE FROM crm.contact_emails WHERE email = 'mb@initech.test'$$, 'delete the primary');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'michael.bolton@initech.test*,bolton@home.test', 'the oldest takes over');
SELECT is((SELECT email::text FROM crm.contacts WHERE first_name = 'Michael'), 'michael.bolton@initech.test', 'and shows on the contact');
SELECT lives_ok($$UPDATE crm.contacts SET email = NULL WHERE first_name = 'Michael'$$, 'set contacts.email to NULL');
SELECT is(pg_temp.emails('a0000000-0000-7000-8000-000000000ad9'), 'bolton@home.test*', 'the primary address is gone; the next one is primary');
SELECT lives_ok($$DELETE FROM crm.contact_emails WHERE contact_id = 'a0000000-0000-7000-8000-000000000ad9'$$, 'delete every address');
SELECT is((SELECT email FROM crm.contacts WHERE first_name = 'Michael'), NULL, 'the contact has no email');

-- primary emails are unique in the tenant; opt-outs are stamped
SELECT throws_ok($$INSERT INTO crm.contacts (first_name, email) VALUES ('Copy', 'PETER@initech.test')$$, '23505', NULL,
    'two contacts of a tenant cannot share a primary email');
SELECT lives_ok($$UPDATE crm.contacts SET email_opt_out = true WHERE first_name = 'Michael'$$, 'opt out of email');
SELECT is((SELECT email_opt_out_at FROM crm.contacts WHERE first_name = 'Michael'), now(), 'the opt-out time is recorded');
SELECT lives_ok($$UPDATE crm.contacts SET email_opt_out = false WHERE first_name = 'Michael'$$, 'opt back in');
SELECT is((SELECT email_opt_out_at FROM crm.contacts WHERE first_name = 'Michael'), NULL, 'the opt-out time is cleared');

-- bad input and hierarchy
SELECT throws_ok($$INSERT INTO crm.contacts (first_name, last_name) VALUES (' ', NULL)$$, '23514', NULL, 'a contact needs a name');
SELECT throws_ok($$INSERT INTO crm.contacts (first_name, email) VALUES ('X', 'not-an-email')$$, '22P02', NULL, 'a malformed email is refused');
SELECT throws_ok($$INSERT INTO crm.contacts (first_name, phone) VALUES ('X', '555-0100')$$, '22P02', NULL, 'a phone without country code is refused');
SELECT throws_ok($$UPDATE crm.contacts SET reports_to_id = 'a0000000-0000-7000-8000-000000000ad9' WHERE first_name = 'Michael'$$, '23514', NULL,
    'a contact does not report to itself');
SELECT lives_ok($$UPDATE crm.contacts SET reports_to_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE first_name = 'Michael'$$,
    'a contact reports to another');
RESET ROLE;


-- Deleting a contact clears what refers to it (plain keys and its delete path, docs/design.md §12): also
-- rows the deleting rep may not change, and only in its tenant. As the operator: Bill (the manager's)
-- reports to Peter too, the manager's lead was converted into Peter, the rep's opportunity names him; in
-- tenant B a contact with Peter's very id, with a lead, an opportunity and a report pointing to it.
SELECT pg_temp.become('none', NULL, NULL, 'none');
UPDATE crm.contacts SET reports_to_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'a0000000-0000-7000-8000-000000000ad2';
UPDATE crm.leads SET converted_contact_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'a0000000-0000-7000-8000-000000000ab2';
UPDATE crm.opportunities SET contact_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'a0000000-0000-7000-8000-000000000ae1';
INSERT INTO crm.contacts (tenant_id, id, first_name, owner_id) VALUES
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000ad1', 'Same id in B', 'b0000000-0000-7000-8000-0000000000b3');
UPDATE crm.contacts SET reports_to_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'b0000000-0000-7000-8000-000000000bd1';
UPDATE crm.leads SET converted_contact_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'b0000000-0000-7000-8000-000000000bb1';
UPDATE crm.opportunities SET contact_id = 'a0000000-0000-7000-8000-000000000ad1' WHERE id = 'b0000000-0000-7000-8000-000000000be1';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT lives_ok($$DELETE FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad1'$$, 'the rep deletes its contact Peter');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is(ARRAY(SELECT reports_to_id FROM crm.contacts WHERE id IN ('a0000000-0000-7000-8000-000000000ad2', 'a0000000-0000-7000-8000-000000000ad9')),
    ARRAY[NULL, NULL]::uuid[], 'the contacts reporting to him lose their manager, the manager''s Bill too, which the rep may not change');
SELECT is((SELECT converted_contact_id FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab2'), NULL,
    'the lead converted into him loses its converted_contact_id');
SELECT is((SELECT contact_id FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae1'), NULL, 'the opportunity loses its contact');
SELECT row_eq($$SELECT contact_id, account_id FROM crm.cases WHERE id = 'a0000000-0000-7000-8000-000000000a91'$$,
    ROW(NULL::uuid, 'a0000000-0000-7000-8000-000000000ac1'::uuid), 'the case he raised loses its contact and keeps its account');
SELECT is(ARRAY[(SELECT reports_to_id FROM crm.contacts WHERE id = 'b0000000-0000-7000-8000-000000000bd1'),
                (SELECT converted_contact_id FROM crm.leads WHERE id = 'b0000000-0000-7000-8000-000000000bb1'),
                (SELECT contact_id FROM crm.opportunities WHERE id = 'b0000000-0000-7000-8000-000000000be1')],
    ARRAY['a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-000000000ad1']::uuid[],
    'tenant B''s rows that name its own contact of the same id keep it');
-- a manager and its report in one statement (the manager first): the report's report loses its link
INSERT INTO crm.contacts (tenant_id, id, first_name, owner_id, reports_to_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cd1', 'Boss', 'a0000000-0000-7000-8000-0000000000a3', NULL);
INSERT INTO crm.contacts (tenant_id, id, first_name, owner_id, reports_to_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cd2', 'Middle', 'a0000000-0000-7000-8000-0000000000a3',
     'a0000000-0000-7000-8000-000000000cd1');
INSERT INTO crm.contacts (tenant_id, id, first_name, owner_id, reports_to_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000cd3', 'Junior', 'a0000000-0000-7000-8000-0000000000a3',
     'a0000000-0000-7000-8000-000000000cd2');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT lives_ok($$DELETE FROM crm.contacts WHERE id IN ('a0000000-0000-7000-8000-000000000cd1', 'a0000000-0000-7000-8000-000000000cd2')$$,
    'a contact and its report deleted in one statement');
SELECT is((SELECT reports_to_id FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000cd3'), NULL,
    '    the report of the report loses its manager');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
