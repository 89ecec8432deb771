-- support.sql (pgTAP): support cases, their comments and NPS answers: defaults, resolution times, the
-- rules they keep, who may change them, and the audit trail.
\ir lib/preamble.psql

BEGIN;
SELECT plan(18);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
-- a case about a contact alone belongs to the contact's account, and to the rep who opened it
INSERT INTO crm.cases (id, subject, contact_id, priority) VALUES
    ('a0000000-0000-7000-8000-000000000a92', 'Stapler missing', 'a0000000-0000-7000-8000-000000000ad1', 'high');
SELECT row_eq($$SELECT account_id, assignee_id, status::text, resolved_at IS NULL FROM crm.cases WHERE id = 'a0000000-0000-7000-8000-000000000a92'$$,
    ROW('a0000000-0000-7000-8000-000000000ac1'::uuid, 'a0000000-0000-7000-8000-0000000000a3'::uuid, 'open'::text, true),
    'a case about a contact: its account filled in, assigned to the caller, open');
UPDATE crm.cases SET status = 'resolved', satisfaction = 4 WHERE id = 'a0000000-0000-7000-8000-000000000a92';
SELECT ok((SELECT resolved_at IS NOT NULL AND resolved_at >= opened_at FROM crm.cases WHERE id = 'a0000000-0000-7000-8000-000000000a92'),
    'resolving sets resolved_at');
UPDATE crm.cases SET status = 'pending' WHERE id = 'a0000000-0000-7000-8000-000000000a92';
SELECT is((SELECT resolved_at FROM crm.cases WHERE id = 'a0000000-0000-7000-8000-000000000a92'), NULL, 'reopening clears it');
UPDATE crm.cases SET status = 'closed' WHERE id = 'a0000000-0000-7000-8000-000000000a92';
SELECT is((SELECT status::text FROM crm.cases WHERE id = 'a0000000-0000-7000-8000-000000000a92'), 'closed', 'a case is closed');
SELECT throws_ok($$UPDATE crm.cases SET satisfaction = 6 WHERE id = 'a0000000-0000-7000-8000-000000000a92'$$, '23514', NULL,
    'satisfaction is 1 to 5');
SELECT throws_ok($$UPDATE crm.cases SET satisfaction = 0 WHERE id = 'a0000000-0000-7000-8000-000000000a92'$$, '23514', NULL, '    not 0');
SELECT throws_ok($$INSERT INTO crm.cases (subject) VALUES ('Nobody''s case')$$, '23514', NULL, 'a case is about an account or a contact');
SELECT throws_ok($$INSERT INTO crm.cases (subject, account_id) VALUES ('  ', 'a0000000-0000-7000-8000-000000000ac1')$$, '23514', NULL,
    'a case has a subject');
SELECT throws_ok($$INSERT INTO crm.cases (subject, account_id, priority) VALUES ('X', 'a0000000-0000-7000-8000-000000000ac1', 'asap')$$,
    '22P02', NULL, 'the priority is one of the enum');
SELECT throws_ok($$INSERT INTO crm.cases (subject, account_id) VALUES ('X', 'b0000000-0000-7000-8000-000000000bc1')$$, '23503', NULL,
    'another tenant''s account is not found (tenant-scoped foreign key)');
-- comments: on the rep's own case, not on a case assigned to someone else
SELECT lives_ok($$INSERT INTO crm.case_comments (case_id, body, is_public) VALUES ('a0000000-0000-7000-8000-000000000a92', 'Found it', true)$$,
    'the rep comments on its case');
RESET ROLE;
INSERT INTO crm.cases (tenant_id, id, subject, account_id, assignee_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000a93', 'Parking', 'a0000000-0000-7000-8000-000000000ac1',
     'a0000000-0000-7000-8000-0000000000a2');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT throws_ok($$INSERT INTO crm.case_comments (case_id, body) VALUES ('a0000000-0000-7000-8000-000000000a93', 'Mine now')$$, '42501', NULL,
    'nor on the manager''s case');
SELECT is(pg_temp.affected($$UPDATE crm.cases SET status = 'closed' WHERE id = 'a0000000-0000-7000-8000-000000000a93'$$), 0::bigint,
    'a rep does not close another''s case (public sharing: it reads it)');
-- NPS answers
INSERT INTO crm.nps_responses (contact_id, score) VALUES ('a0000000-0000-7000-8000-000000000ad1', 10);
SELECT is((SELECT account_id FROM crm.nps_responses WHERE score = 10), 'a0000000-0000-7000-8000-000000000ac1'::uuid,
    'an NPS answer belongs to its contact''s account');
SELECT throws_ok($$INSERT INTO crm.nps_responses (contact_id, score) VALUES ('a0000000-0000-7000-8000-000000000ad1', 11)$$, '23514', NULL,
    'NPS is 0 to 10');
SELECT throws_ok($$INSERT INTO crm.nps_responses (contact_id, score) VALUES ('a0000000-0000-7000-8000-000000000ad1', -1)$$, '23514', NULL,
    '    not negative');
SELECT is((SELECT count(*) FROM crm_api.cases), 3::bigint, 'crm_api.cases: the tenant''s three cases');
RESET ROLE;
SELECT results_eq($$SELECT action::text FROM crm.audit_log WHERE table_name = 'cases' AND row_id = 'a0000000-0000-7000-8000-000000000a92' ORDER BY id$$,
    ARRAY['insert', 'update', 'update', 'update'], 'the audit log has the case''s insert and its three status changes');

SELECT * FROM finish();
ROLLBACK;
