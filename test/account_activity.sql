-- account_activity.sql (pgTAP): the rollup of activities per account and day stays equal to a count
-- of the activities themselves through every kind of change: inserts (one and many), edits that
-- matter and edits that do not, deletes, contacts and opportunities moving or deleted, accounts
-- deleted, a load without triggers and its rebuild, a truncate; and who may read and rebuild it.
\ir lib/preamble.psql

BEGIN;
SELECT plan(32);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- The rollup as it should be, counted from the activities with the attribution written out here:
-- the account named, else the contact's, else the opportunity's.
CREATE VIEW pg_temp.expected AS
    SELECT v.tenant_id, coalesce(v.account_id, c.account_id, o.account_id) AS account_id, (v.occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*)::integer AS activities, (count(*) FILTER (WHERE v.sentiment = 'positive'))::integer AS positive,
           (count(*) FILTER (WHERE v.sentiment = 'negative'))::integer AS negative, count(v.sentiment)::integer AS rated,
           max(v.occurred_at) AS last_at
      FROM crm.activities v
      LEFT JOIN crm.contacts c ON c.tenant_id = v.tenant_id AND c.id = v.contact_id
      LEFT JOIN crm.opportunities o ON o.tenant_id = v.tenant_id AND o.id = v.opportunity_id
     WHERE coalesce(v.account_id, c.account_id, o.account_id) IS NOT NULL
     GROUP BY 1, 2, 3;
-- rows that differ between the rollup and the count (0: in step)
CREATE FUNCTION pg_temp.drift() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT * FROM pg_temp.expected
         EXCEPT ALL SELECT tenant_id, account_id, day, activities, positive, negative, rated, last_at FROM crm.account_activity_days)
        UNION ALL
        (SELECT tenant_id, account_id, day, activities, positive, negative, rated, last_at FROM crm.account_activity_days
         EXCEPT ALL SELECT * FROM pg_temp.expected)) d
$$;
-- (PL/pgSQL: Citus cannot plan a LANGUAGE sql function's parameters in a query over a distributed table)
CREATE FUNCTION pg_temp.day_of(account text, d date) RETURNS crm.account_activity_days LANGUAGE plpgsql AS $$
DECLARE
    r crm.account_activity_days;
BEGIN
    SELECT * INTO r FROM crm.account_activity_days WHERE account_id = ('a0000000-0000-7000-8000-000000000' || account)::uuid AND day = d;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN r;
END
$$;

SELECT is(pg_temp.drift(), 0::bigint, 'the fixture''s activities are rolled up');
SELECT is((SELECT count(DISTINCT tenant_id) FROM crm.account_activity_days), 2::bigint, '    (in both tenants: logged against a contact, for its account)');

-- inserts: three on one day for Initrode (ac2), positive, negative and unrated, in one statement
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, sentiment, account_id, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', 'call', 'Call ' || n, timestamptz '2026-03-10 08:00+00' + n * interval '1 hour',
       (ARRAY['positive', 'negative', NULL]::crm.sentiment[])[n], 'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2'
FROM generate_series(1, 3) n;
SELECT row_eq($$SELECT activities, positive, negative, rated, last_at FROM pg_temp.day_of('ac2', '2026-03-10')$$,
    ROW(3, 1, 1, 2, timestamptz '2026-03-10 11:00+00'), 'three activities of a day: one row, counted by sentiment, with the latest time');
-- one more that day, one statement each: added to the row
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, sentiment, account_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'email', 'Recap', '2026-03-10 23:59:59+00', 'positive', 'a0000000-0000-7000-8000-000000000ac2',
     'a0000000-0000-7000-8000-0000000000a2');
SELECT row_eq($$SELECT activities, positive, rated, last_at FROM pg_temp.day_of('ac2', '2026-03-10')$$,
    ROW(4, 2, 3, timestamptz '2026-03-10 23:59:59+00'), 'a later one is added to the day');
-- against a contact, an opportunity, a lead only, and an account with another account's contact
INSERT INTO crm.activities (tenant_id, id, type, subject, occurred_at, contact_id, opportunity_id, account_id, lead_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000aa2', 'meeting', 'Demo', '2026-03-11 10:00+00',
     'a0000000-0000-7000-8000-000000000ad1', NULL, NULL, NULL, 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000aa3', 'email', 'Quote', '2026-03-11 11:00+00',
     NULL, 'a0000000-0000-7000-8000-000000000ae1', NULL, NULL, 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000aa4', 'call', 'Cold call', '2026-03-11 12:00+00',
     NULL, NULL, NULL, 'a0000000-0000-7000-8000-000000000ab1', 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000aa5', 'call', 'Group call', '2026-03-11 13:00+00',
     'a0000000-0000-7000-8000-000000000ad1', NULL, 'a0000000-0000-7000-8000-000000000ac2', NULL, 'a0000000-0000-7000-8000-0000000000a3');
SELECT is((SELECT activities FROM pg_temp.day_of('ac1', '2026-03-11')), 2, 'an activity with a contact or an opportunity counts for their account');
SELECT is((SELECT activities FROM pg_temp.day_of('ac2', '2026-03-11')), 1, 'one naming an account counts for it only, whatever its contact''s');
SELECT is((SELECT count(*) FROM crm.account_activity_days WHERE day = '2026-03-11'), 2::bigint, 'one about a lead only counts for no account');
SELECT is(pg_temp.drift(), 0::bigint, 'the rollup equals the count after the inserts');

-- edits: one that changes nothing counted leaves the rows alone
CREATE TEMP TABLE before_edit AS SELECT id, xmin::text AS version FROM crm.account_activity_days;
UPDATE crm.activities SET subject = 'Demo (recorded)', body = 'notes' WHERE id = 'a0000000-0000-7000-8000-000000000aa2';
SELECT is((SELECT count(*) FROM crm.account_activity_days d JOIN before_edit b ON b.id = d.id AND b.version = d.xmin::text),
    (SELECT count(*) FROM before_edit), 'editing the subject rewrites no rollup row');
UPDATE crm.activities SET occurred_at = '2026-03-01 09:00+00' WHERE id = 'a0000000-0000-7000-8000-000000000aa2';
SELECT ok(pg_temp.day_of('ac1', '2026-03-01') IS NOT NULL AND (SELECT activities FROM pg_temp.day_of('ac1', '2026-03-11')) = 1,
    'moving an activity to another day moves its count');
UPDATE crm.activities SET sentiment = 'negative' WHERE id = 'a0000000-0000-7000-8000-000000000aa3';
SELECT is((SELECT negative FROM pg_temp.day_of('ac1', '2026-03-11')), 1, 'a new sentiment is counted');
UPDATE crm.activities SET account_id = NULL WHERE id = 'a0000000-0000-7000-8000-000000000aa5';
SELECT ok(pg_temp.day_of('ac2', '2026-03-11') IS NULL AND (SELECT activities FROM pg_temp.day_of('ac1', '2026-03-11')) = 2,
    'an activity losing its account counts for its contact''s account instead');
SELECT is(pg_temp.drift(), 0::bigint, 'the rollup equals the count after the edits');

-- deletes: the day's latest goes, the time falls back; the day's last goes, the row goes
DELETE FROM crm.activities WHERE subject = 'Recap';
SELECT row_eq($$SELECT activities, last_at FROM pg_temp.day_of('ac2', '2026-03-10')$$, ROW(3, timestamptz '2026-03-10 11:00+00'),
    'deleting the day''s latest: one fewer, the time of the one before');
DELETE FROM crm.activities WHERE id = 'a0000000-0000-7000-8000-000000000aa2';
SELECT ok(pg_temp.day_of('ac1', '2026-03-01') IS NULL, 'deleting a day''s only activity removes its row');
SELECT is(pg_temp.drift(), 0::bigint, 'the rollup equals the count after the deletes');

-- contacts and opportunities: moving, detached, deleted
UPDATE crm.contacts SET account_id = 'a0000000-0000-7000-8000-000000000ac2' WHERE id = 'a0000000-0000-7000-8000-000000000ad1';
SELECT ok((SELECT activities FROM pg_temp.day_of('ac2', '2026-03-11')) = 1 AND (SELECT activities FROM pg_temp.day_of('ac1', '2026-03-11')) = 1,
    'a contact moving to another account takes its activities along');
UPDATE crm.opportunities SET account_id = NULL WHERE id = 'a0000000-0000-7000-8000-000000000ae1';
SELECT ok(pg_temp.day_of('ac1', '2026-03-11') IS NULL, 'an opportunity without an account: its activities count for none');
DELETE FROM crm.contacts WHERE id = 'a0000000-0000-7000-8000-000000000ad1';
SELECT ok(pg_temp.day_of('ac2', '2026-03-11') IS NULL, 'a contact deleted with its activities: its account recounted');
SELECT is(pg_temp.drift(), 0::bigint, 'the rollup equals the count after contacts and opportunities changed');
DELETE FROM crm.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac2';
SELECT is((SELECT count(*) FROM crm.account_activity_days WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2'), 0::bigint,
    'a deleted account''s rows go with it');

-- a bulk insert over many days and accounts, in one statement
INSERT INTO crm.accounts (tenant_id, id, name, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', ('a0000000-0000-7000-8000-00000000c0' || lpad(n::text, 2, '0'))::uuid, 'Bulk ' || n,
       'a0000000-0000-7000-8000-0000000000a3' FROM generate_series(1, 5) n;
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, sentiment, account_id, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', 'email', 'Bulk ' || n, timestamptz '2026-01-01' + (n * 7919 % 30) * interval '1 day' + n * interval '1 second',
       (ARRAY['positive', 'neutral', 'negative', NULL]::crm.sentiment[])[1 + n % 4],
       ('a0000000-0000-7000-8000-00000000c0' || lpad((1 + n % 5)::text, 2, '0'))::uuid, 'a0000000-0000-7000-8000-0000000000a3'
FROM generate_series(1, 1000) n;
SELECT is(pg_temp.drift(), 0::bigint, 'the rollup equals the count after a bulk insert of 1000 activities');

-- the operator's statements over both tenants: each tenant's activities are rolled up in its own rows
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, account_id, contact_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Both tenants', '2026-04-01 10:00+00', 'a0000000-0000-7000-8000-00000000c001', NULL,
     'a0000000-0000-7000-8000-0000000000a3'),
    ('b0000000-0000-7000-8000-00000000000b', 'call', 'Both tenants', '2026-04-01 11:00+00', NULL, 'b0000000-0000-7000-8000-000000000bd1',
     'b0000000-0000-7000-8000-0000000000b3');
SELECT is(ARRAY(SELECT format('%s %s', tenant_id, account_id) FROM crm.account_activity_days WHERE day = '2026-04-01' ORDER BY 1),
    ARRAY['a0000000-0000-7000-8000-00000000000a a0000000-0000-7000-8000-00000000c001',
          'b0000000-0000-7000-8000-00000000000b b0000000-0000-7000-8000-000000000bc1'],
    'one insert of activities of both tenants: each counts for its tenant''s account');
-- (a day later as values: Citus refuses a STABLE function of a column, timestamptz + interval, in an
-- UPDATE of several shards)
UPDATE crm.activities SET occurred_at = CASE tenant_id WHEN 'a0000000-0000-7000-8000-00000000000a' THEN timestamptz '2026-04-02 10:00+00'
                                                       ELSE timestamptz '2026-04-02 11:00+00' END
 WHERE subject = 'Both tenants';
SELECT ok(NOT EXISTS (SELECT 1 FROM crm.account_activity_days WHERE day = '2026-04-01') AND pg_temp.drift() = 0,
    'one update of both: both tenants recounted');
DELETE FROM crm.activities WHERE subject = 'Both tenants';
SELECT ok(NOT EXISTS (SELECT 1 FROM crm.account_activity_days WHERE day = '2026-04-02') AND pg_temp.drift() = 0,
    'one delete of both: both tenants recounted');

-- a load without triggers leaves it behind; the rebuild puts it back, as its callers may
SET LOCAL session_replication_role = replica;
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, account_id, owner_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', 'note', 'Imported ' || n, timestamptz '2025-06-01' + n * interval '1 day',
       'a0000000-0000-7000-8000-00000000c001', 'a0000000-0000-7000-8000-0000000000a3' FROM generate_series(1, 10) n;
SET LOCAL session_replication_role = origin;
SELECT is(pg_temp.drift(), 10::bigint, 'a load without triggers is not rolled up');
SELECT count(*) AS a_days FROM pg_temp.expected WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' \gset
-- (on Citus committed: it refuses the roles below a read of the shards the superuser changed in the
-- transaction, lib/two_tenants.psql)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$SELECT crm.rebuild_account_activity()$$, '42501', NULL, 'a rep does not rebuild it');
SELECT throws_ok($$INSERT INTO crm.account_activity_days (account_id, day, activities, positive, negative, rated, last_at)
                   VALUES ('a0000000-0000-7000-8000-000000000ac1', '2026-01-01', 1, 0, 0, 0, now())$$, '42501', NULL,
    'nor writes it');
SELECT row_eq($$SELECT count(*) > 0, count(*) FILTER (WHERE tenant_id <> 'a0000000-0000-7000-8000-00000000000a') FROM crm_api.account_activity_days$$,
    ROW(true, 0::bigint), 'a rep reads the rows of the tenant''s accounts, none of the other tenant''s');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'claims');
SELECT is(crm_api.rebuild_account_activity(), :a_days::bigint,
    'a manager rebuilds the tenant''s rollup: one row per account and day');
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is(pg_temp.drift(), 0::bigint, 'after the rebuild the rollup equals the count again, in both tenants');

-- (on Citus in a transaction of its own: it refuses a TRUNCATE, DDL, of shards the transaction has read
-- over several connections, one per user, or a reference table they refer to)
\if :on_citus
COMMIT;
BEGIN;
\endif
TRUNCATE crm.activities CASCADE;
SELECT is((SELECT count(*) FROM crm.account_activity_days), 0::bigint, 'truncating the activities empties it');

SELECT * FROM finish();
ROLLBACK;
