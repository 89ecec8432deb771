-- activities.sql (pgTAP): activities, tasks, notes and tags: their rules and side effects.
\ir lib/preamble.psql

BEGIN;
SELECT plan(33);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');

-- activities: a logged activity reaches the contact and moves a new lead to contacted
INSERT INTO crm.contacts (id, first_name) VALUES ('a0000000-0000-7000-8000-000000000ad9', 'Samir');
SELECT lives_ok($$INSERT INTO crm.activities (type, contact_id, occurred_at, outcome) VALUES ('meeting', 'a0000000-0000-7000-8000-000000000ad9', '2026-01-02 10:00+00', 'held')$$,
    'log a meeting with a contact');
SELECT is((SELECT last_contacted_at FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad9'), '2026-01-02 10:00+00'::timestamptz,
    'the contact''s last_contacted_at is the meeting''s time');
SELECT lives_ok($$INSERT INTO crm.activities (type, contact_id, occurred_at) VALUES ('email', 'a0000000-0000-7000-8000-000000000ad9', '2025-06-01 10:00+00')$$,
    'log an older email');
SELECT is((SELECT last_contacted_at FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad9'), '2026-01-02 10:00+00'::timestamptz,
    'an older activity does not move last_contacted_at back');
SELECT lives_ok($$INSERT INTO crm.activities (type, contact_id) VALUES ('call', 'a0000000-0000-7000-8000-000000000ad2')$$,
    'a rep logs a call with another rep''s contact');
SELECT is((SELECT last_contacted_at FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad2'), now(), 'that contact is reached too');
SELECT lives_ok($$INSERT INTO crm.activities (type, lead_id) VALUES ('note', 'a0000000-0000-7000-8000-000000000ab1')$$, 'a note on a new lead');
SELECT is((SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab1'), 'new', 'a note is not contact: the lead stays new');
SELECT lives_ok($$INSERT INTO crm.activities (type, lead_id, direction) VALUES ('call', 'a0000000-0000-7000-8000-000000000ab1', 'outbound')$$, 'a call to the lead');
SELECT is((SELECT status::text FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab1'), 'contacted', 'the new lead is contacted');
SELECT throws_ok($$INSERT INTO crm.activities (type) VALUES ('call')$$, '23514', NULL, 'an activity is about something');
SELECT throws_ok($$INSERT INTO crm.activities (type, lead_id, outcome) VALUES ('call', 'a0000000-0000-7000-8000-000000000ab1', 'No Answer')$$, '23514', NULL,
    'an outcome is a lowercase word');
SELECT throws_ok($$INSERT INTO crm.activities (type, lead_id, sentiment) VALUES ('call', 'a0000000-0000-7000-8000-000000000ab1', 'happy')$$, '22P02', NULL,
    'a sentiment is positive, neutral or negative');

-- tasks: the assignee is the owner; completed_at follows the status
SELECT lives_ok($$INSERT INTO crm.tasks (id, title, due_at, priority) VALUES ('a0000000-0000-7000-8000-000000000a59', 'Call back', now() + interval '1 day', 'high')$$,
    'a rep creates a task');
SELECT is((SELECT assignee_id FROM crm.tasks WHERE id = 'a0000000-0000-7000-8000-000000000a59'), 'a0000000-0000-7000-8000-0000000000a3'::uuid,
    'assigned to the rep by default');
SELECT lives_ok($$UPDATE crm.tasks SET status = 'completed' WHERE id = 'a0000000-0000-7000-8000-000000000a59'$$, 'complete it by update');
SELECT is((SELECT completed_at FROM crm.tasks WHERE id = 'a0000000-0000-7000-8000-000000000a59'), now(), 'completed_at is set');
SELECT lives_ok($$UPDATE crm.tasks SET status = 'open' WHERE id = 'a0000000-0000-7000-8000-000000000a59'$$, 'reopen it');
SELECT is((SELECT completed_at FROM crm.tasks WHERE id = 'a0000000-0000-7000-8000-000000000a59'), NULL, 'completed_at is cleared');
SELECT throws_ok($$INSERT INTO crm.tasks (title, assignee_id) VALUES ('For the boss', 'a0000000-0000-7000-8000-0000000000a2')$$, '42501', NULL,
    'a rep does not assign tasks to others');
SELECT throws_ok($$INSERT INTO crm.tasks (title, priority) VALUES ('X', 'critical')$$, '22P02', NULL, 'a priority is low, medium, high or urgent');

-- notes and mentions
SELECT lives_ok($$INSERT INTO crm.notes (id, body, contact_id, is_pinned) VALUES ('a0000000-0000-7000-8000-000000000a69', 'Loves staplers', 'a0000000-0000-7000-8000-000000000ad1', true)$$,
    'a rep writes a pinned note');
SELECT lives_ok($$INSERT INTO crm.note_mentions (note_id, user_id) VALUES ('a0000000-0000-7000-8000-000000000a69', 'a0000000-0000-7000-8000-0000000000a2')$$,
    'and mentions its manager');
SELECT throws_ok($$INSERT INTO crm.note_mentions (note_id, user_id) VALUES ('a0000000-0000-7000-8000-000000000a69', 'b0000000-0000-7000-8000-0000000000b2')$$, '23503', NULL,
    'a user of another tenant cannot be mentioned');
SELECT throws_ok($$INSERT INTO crm.notes (body, contact_id) VALUES ('  ', 'a0000000-0000-7000-8000-000000000ad1')$$, '23514', NULL, 'a note has a body');

-- tags
SELECT lives_ok($$INSERT INTO crm.tags (id, name) VALUES ('a0000000-0000-7000-8000-000000000a89', 'Renewal')$$, 'a rep creates a tag');
SELECT throws_ok($$INSERT INTO crm.tags (name) VALUES ('vip')$$, '23505', NULL, 'tag names are unique regardless of case');
SELECT lives_ok($$INSERT INTO crm.taggings (tag_id, entity_type, entity_id) VALUES
    ('a0000000-0000-7000-8000-000000000a89', 'opportunity', 'a0000000-0000-7000-8000-000000000ae1'),
    ('a0000000-0000-7000-8000-000000000a89', 'contact', 'a0000000-0000-7000-8000-000000000ad1')$$, 'tag two records');
SELECT is((SELECT usage_count FROM crm.tags WHERE id = 'a0000000-0000-7000-8000-000000000a89'), 2, 'usage_count counts them');
SELECT throws_ok($$INSERT INTO crm.taggings (tag_id, entity_type, entity_id) VALUES ('a0000000-0000-7000-8000-000000000a89', 'lead', 'b0000000-0000-7000-8000-000000000bb1')$$,
    '23503', NULL, 'a record of another tenant cannot be tagged');
RESET ROLE;

-- one statement of the operator's over both tenants: each tenant's tags are counted, and untagged, in that tenant
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.taggings (tenant_id, tag_id, entity_type, entity_id, tagged_by) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000a81', 'note', 'a0000000-0000-7000-8000-000000000a61', NULL),
    ('b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-000000000b81', 'note', 'b0000000-0000-7000-8000-000000000b61', NULL);
SELECT is(ARRAY(SELECT usage_count FROM crm.tags WHERE id IN ('a0000000-0000-7000-8000-000000000a81', 'b0000000-0000-7000-8000-000000000b81')
                 ORDER BY tenant_id), ARRAY[2, 2], 'tagging a note of each tenant in one statement counts each tenant''s tag');
DELETE FROM crm.notes WHERE id IN ('a0000000-0000-7000-8000-000000000a61', 'b0000000-0000-7000-8000-000000000b61');
SELECT is((SELECT count(*) FROM crm.taggings WHERE entity_type = 'note'), 0::bigint, 'deleting both notes in one statement untags both');
SELECT is(ARRAY(SELECT usage_count FROM crm.tags WHERE id IN ('a0000000-0000-7000-8000-000000000a81', 'b0000000-0000-7000-8000-000000000b81')
                 ORDER BY tenant_id), ARRAY[1, 1], '    and each tenant''s tag counts one again');

SELECT * FROM finish();
ROLLBACK;
