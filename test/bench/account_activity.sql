-- account_activity.sql: what keeping crm.account_activity_days costs the writers of activities, and
-- what it saves its readers. Inserting activities with the rollup's trigger against the same inserts
-- with that trigger disabled (everything else of crm on): 5 000 one-row statements (as an application
-- logs them), and one statement of 50 000 rows (an import). And the rebuild of a tenant's rollup from
-- its activities against counting them once by plain SQL (the work a refresh would otherwise repeat).
-- No target is set by the issue: the figures say what the rollup costs. Issue 5.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT md5('crm bench:rollup')::uuid AS rt, md5('crm bench:rollup:user')::uuid AS ru \gset
SELECT NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = :'rt') AS need_data \gset
\if :need_data
SELECT crm.create_tenant('Bench rollup', '{}', :'rt') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES (:'rt', :'ru', 'rep@rollup.example', 'Rep', 'rep');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id)
SELECT :'rt', md5('crm bench:rollup:account:' || n)::uuid, 'Account ' || n, :'ru' FROM generate_series(1, 1000) n;
INSERT INTO crm.contacts (tenant_id, id, account_id, first_name, last_name, owner_id)
SELECT :'rt', md5('crm bench:rollup:contact:' || n)::uuid, md5('crm bench:rollup:account:' || n)::uuid, 'Contact', 'No. ' || n, :'ru'
FROM generate_series(1, 1000) n;
VACUUM ANALYZE crm.accounts;
VACUUM ANALYZE crm.contacts;
\endif

-- one-row inserts: half against an account, half against a contact, over the last 90 days (the day drawn
-- from the row's number by a hash, so that an account's activities fall on days of their own)
CREATE OR REPLACE FUNCTION bench.log_activities(t uuid, u uuid, n integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. n LOOP
        INSERT INTO crm.activities (tenant_id, type, occurred_at, sentiment, account_id, contact_id, owner_id)
        VALUES (t, 'call', now() - ((hashint8(i) & 2147483647) % 90) * interval '1 day', CASE WHEN i % 3 = 0 THEN 'positive'::crm.sentiment END,
                CASE WHEN i % 2 = 0 THEN md5('crm bench:rollup:account:' || (1 + i % 1000))::uuid END,
                CASE WHEN i % 2 = 1 THEN md5('crm bench:rollup:contact:' || (1 + i % 1000))::uuid END, u);
    END LOOP;
END
$$;

SELECT bench.compare('activities: 5000 one-row inserts (account or contact)',
    'with the rollup trigger', format('SELECT bench.log_activities(%L, %L, 5000)', :'rt', :'ru'),
    'ALTER TABLE crm.activities ENABLE TRIGGER activities_roll_up_insert',
    'the same, rollup trigger disabled', format('SELECT bench.log_activities(%L, %L, 5000)', :'rt', :'ru'),
    'ALTER TABLE crm.activities DISABLE TRIGGER activities_roll_up_insert',
    'none (the cost of the rollup)', reps => 5, warmup => 1);
-- an import: one statement of 50 000 rows, half against an account, half against a contact, over 400 days
-- (an account's 50 on about 47 days)
SELECT format($q$INSERT INTO crm.activities (tenant_id, type, occurred_at, account_id, contact_id, owner_id)
        SELECT %1$L, 'email', now() - ((hashint8(i) & 2147483647) %% 400) * interval '1 day',
               CASE WHEN i %% 2 = 0 THEN md5('crm bench:rollup:account:' || (1 + i %% 1000))::uuid END,
               CASE WHEN i %% 2 = 1 THEN md5('crm bench:rollup:contact:' || (1 + i %% 1000))::uuid END, %2$L
        FROM generate_series(1, 50000) i$q$, :'rt', :'ru') AS bulk_insert \gset
SELECT bench.compare('activities: one insert of 50000 rows',
    'with the rollup trigger', :'bulk_insert',
    'ALTER TABLE crm.activities ENABLE TRIGGER activities_roll_up_insert',
    'the same, rollup trigger disabled', :'bulk_insert',
    'ALTER TABLE crm.activities DISABLE TRIGGER activities_roll_up_insert',
    'none (the cost of the rollup)', reps => 5, warmup => 1);
ALTER TABLE crm.activities ENABLE TRIGGER activities_roll_up_insert;

-- the tenant's rollup now matches its activities (the disabled runs left rows out: rebuilt first)
SELECT crm.rebuild_account_activity(:'rt') \g /dev/null
SELECT count(*) <> 0 AS drift FROM (
    (SELECT account_id, day, activities, positive, negative, rated, last_at FROM crm.account_activity_days WHERE tenant_id = :'rt'
     EXCEPT ALL
     SELECT coalesce(v.account_id, c.account_id), (v.occurred_at AT TIME ZONE 'UTC')::date, count(*)::int,
            (count(*) FILTER (WHERE v.sentiment = 'positive'))::int, (count(*) FILTER (WHERE v.sentiment = 'negative'))::int,
            count(v.sentiment)::int, max(v.occurred_at)
       FROM crm.activities v LEFT JOIN crm.contacts c ON c.tenant_id = v.tenant_id AND c.id = v.contact_id
      WHERE v.tenant_id = :'rt' GROUP BY 1, 2)) d \gset
\if :drift
DO $$ BEGIN RAISE EXCEPTION 'account_activity: the rebuilt rollup differs from a count of the activities'; END $$;
\endif
SELECT bench.compare(format('activities: rebuild one tenant''s rollup (%s activities)', (SELECT count(*) FROM crm.activities WHERE tenant_id = :'rt')),
    'crm.rebuild_account_activity', format('SELECT crm.rebuild_account_activity(%L)', :'rt'), '',
    'plain SQL: the same counts per account and day, not stored', format($q$SELECT count(*) FROM (
        SELECT coalesce(v.account_id, c.account_id, o.account_id), (v.occurred_at AT TIME ZONE 'UTC')::date, count(*),
               count(*) FILTER (WHERE v.sentiment = 'positive'), count(*) FILTER (WHERE v.sentiment = 'negative'), count(v.sentiment),
               max(v.occurred_at)
          FROM crm.activities v LEFT JOIN crm.contacts c ON c.tenant_id = v.tenant_id AND c.id = v.contact_id
          LEFT JOIN crm.opportunities o ON o.tenant_id = v.tenant_id AND o.id = v.opportunity_id
         WHERE v.tenant_id = %L GROUP BY 1, 2) x$q$, :'rt'), '',
    'none (a repair after a load without triggers)', reps => 5, warmup => 1);
