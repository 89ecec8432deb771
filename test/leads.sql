-- leads.sql (pgTAP): leads, their defaults, rules and bad input.
\ir lib/preamble.psql

BEGIN;
SELECT plan(24);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT lives_ok($$INSERT INTO crm.leads (email) VALUES ('Drew@Flingers.test')$$, 'an email alone makes a lead');
SELECT row_eq($$SELECT status::text, source::text, purchase_timeline::text, owner_id, email::text FROM crm.leads WHERE email = 'drew@flingers.test'$$,
    ROW('new'::text, 'other'::text, 'unknown'::text, 'a0000000-0000-7000-8000-0000000000a3'::uuid, 'drew@flingers.test'::text),
    'status new, source other, timeline unknown, owned by the caller, email normalized');
SELECT lives_ok($$INSERT INTO crm.leads (first_name, last_name, company, phone, country, budget, purchase_timeline, is_decision_maker, source)
                  VALUES ('Nina', 'Flinger', 'Flingers', '+1 212 555 0142', 'us', 5000, 'this_quarter', true, 'referral')$$, 'a full lead');
SELECT is((SELECT country::text FROM crm.leads WHERE first_name = 'Nina'), 'US', 'the country is upper-cased');
SELECT throws_ok($$INSERT INTO crm.leads (title) VALUES ('Manager')$$, '23514', NULL, 'a lead needs a name, a company or an email');
SELECT row_eq($$INSERT INTO crm.leads (company, score, grade, employee_count) VALUES ('X', 101, 'E', 300) RETURNING score, grade::text$$,
    ROW(20, 'D'::text), 'score and grade are the database''s: what a writer puts there is replaced by the computed ones');
DELETE FROM crm.leads WHERE company = 'X';
SELECT throws_ok($$INSERT INTO crm.leads (company, source) VALUES ('X', 'tv')$$, '22P02', NULL, 'the source is one of the enum');
SELECT throws_ok($$INSERT INTO crm.leads (company, budget) VALUES ('X', -1)$$, '23514', NULL, 'a budget is not negative');
SELECT throws_ok($$INSERT INTO crm.leads (company, email) VALUES ('X', 'x@')$$, '22P02', NULL, 'a malformed email is refused');
SELECT throws_ok($$UPDATE crm.leads SET status = 'lost' WHERE first_name = 'Joanna'$$, '23514', NULL, 'a lost lead needs a reason');
SELECT lives_ok($$UPDATE crm.leads SET status = 'lost', lost_reason = 'no budget' WHERE first_name = 'Joanna'$$, 'lost with a reason');
SELECT lives_ok($$UPDATE crm.leads SET status = 'contacted' WHERE first_name = 'Joanna'$$, 'a lost lead can be reopened');
SELECT is((SELECT lost_reason FROM crm.leads WHERE first_name = 'Joanna'), NULL, 'reopening clears the lost reason');
SELECT throws_ok($$UPDATE crm.leads SET status = 'converted' WHERE first_name = 'Joanna'$$, '23514', NULL,
    'a lead is not marked converted without a conversion time');
SELECT is(pg_temp.affected($$UPDATE crm.leads SET status = 'contacted' WHERE first_name = 'Lawrence'$$), 0::bigint,
    'a rep does not work another rep''s lead');
SELECT is((SELECT count(*) FROM crm_api.leads), 4::bigint, 'the API shows the tenant''s leads (public sharing)');
-- full-text search over leads, contacts and accounts
SELECT results_eq($$SELECT company FROM crm.leads WHERE search @@ websearch_to_tsquery('simple', 'chotchkies')$$, ARRAY['Chotchkies'],
    'a lead is found by its company');
SELECT results_eq($$SELECT first_name FROM crm.leads WHERE search @@ websearch_to_tsquery('simple', 'nina flinger')$$, ARRAY['Nina'],
    'and by its names');
SELECT results_eq($$SELECT first_name FROM crm.contacts WHERE search @@ to_tsquery('simple', 'gibbons')$$, ARRAY['Peter'],
    'a contact by its last name');
SELECT results_eq($$SELECT name FROM crm.accounts WHERE search @@ to_tsquery('simple', 'initrode')$$, ARRAY['Initrode'],
    'an account by its name');
RESET ROLE;
SET LOCAL enable_seqscan = off;
SELECT ok(pg_temp.plan_of($$SELECT * FROM crm.leads WHERE search @@ to_tsquery('simple', 'chotchkies')$$) ~ 'leads_search',
    'the search uses the GIN index');
RESET enable_seqscan;


-- Deleting a lead clears opportunities.lead_id (a plain key and its delete path, docs/design.md §12): also
-- the manager's opportunity the deleting rep may not change, and only in its tenant (tenant B has a lead
-- of the same id, named by its opportunity).
RESET ROLE;
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.leads (tenant_id, id, company, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ab8', 'Going away', 'a0000000-0000-7000-8000-0000000000a3'),
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000ab8', 'Same id in B', 'b0000000-0000-7000-8000-0000000000b3');
INSERT INTO crm.opportunities (tenant_id, id, name, lead_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ae8', 'From the lead', 'a0000000-0000-7000-8000-000000000ab8',
     'a0000000-0000-7000-8000-0000000000a2');
UPDATE crm.opportunities SET lead_id = 'a0000000-0000-7000-8000-000000000ab8' WHERE id = 'b0000000-0000-7000-8000-000000000be1';
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT lives_ok($$DELETE FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab8'$$, 'the rep deletes its lead');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is((SELECT lead_id FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae8'), NULL,
    'the manager''s opportunity from it loses its lead_id');
SELECT is((SELECT lead_id FROM crm.opportunities WHERE id = 'b0000000-0000-7000-8000-000000000be1'), 'a0000000-0000-7000-8000-000000000ab8'::uuid,
    'tenant B''s opportunity naming its own lead of the same id keeps it');
RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
