-- health.sql (pgTAP): refreshing health snapshots end to end: one per account per day however often it
-- runs, the latest on the account, the trend against yesterday, an account turning red (one task, one
-- event), the history, who may refresh, and the operator's run over every tenant.
\ir lib/preamble.psql

BEGIN;
SELECT plan(33);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- Initrode (A's ac2, owned by the manager) is in trouble: three cases open for ten days, a detractor
INSERT INTO crm.cases (tenant_id, subject, account_id, assignee_id, opened_at)
SELECT 'a0000000-0000-7000-8000-00000000000a', 'Outage ' || n, 'a0000000-0000-7000-8000-000000000ac2',
       'a0000000-0000-7000-8000-0000000000a2', now() - interval '10 days'
FROM generate_series(1, 3) n;
INSERT INTO crm.contacts (tenant_id, id, account_id, first_name, last_name, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ad3', 'a0000000-0000-7000-8000-000000000ac2', 'Milton', 'Waddams',
     'a0000000-0000-7000-8000-0000000000a2');
INSERT INTO crm.nps_responses (tenant_id, contact_id, score) VALUES ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000ad3', 2);
CREATE FUNCTION pg_temp.count_of(q text) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE n bigint; BEGIN EXECUTE q INTO n; RETURN n; END $$;
GRANT EXECUTE ON FUNCTION pg_temp.count_of(text) TO crm_rep;
\ir citus/lib.psql
-- On Citus the superuser's writes to a tenant's shards are committed before a crm role reads them
-- (Citus keeps one connection per user to each worker, and refuses a read of placements another user
-- changed in the transaction); pg_temp.n and pg_temp.v evaluate a query of one tenant's shard apart
-- from the pgTAP call (which Citus would send to the shard with it).
\if :on_citus
COMMIT;
BEGIN;
\endif

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT throws_ok($$SELECT crm.refresh_health_scores()$$, '42501', NULL, 'a rep does not refresh health scores');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
-- where each account's row lies before the refreshes (a rewrite, in place or not, moves it)
CREATE TEMP TABLE account_rows AS SELECT id, ctid::text AS at, updated_at FROM crm.accounts;
-- an account whose one activity is 200 days old (older than the 90-day windows)
RESET ROLE;
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000004c9', 'Dormant', 'a0000000-0000-7000-8000-0000000000a2');
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, account_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Long ago', now() - interval '200 days', 'a0000000-0000-7000-8000-0000000004c9',
     'a0000000-0000-7000-8000-0000000000a2');
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((crm.refresh_health_scores()->>'changed')::bigint, 3::bigint, 'a manager refreshes the tenant''s three accounts');
SELECT is((crm.refresh_health_scores()->>'changed')::bigint, 3::bigint, 'and again');
-- (on Citus the refresh, SECURITY DEFINER, writes the tenant's shards as the extension's owner: what it
-- wrote is committed before the manager reads those shards, as after every refresh below)
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is((SELECT count(*) FROM crm.accounts a JOIN account_rows r ON r.id = a.id WHERE a.ctid::text = r.at AND a.updated_at = r.updated_at),
    (SELECT count(*) FROM account_rows), 'no account row was rewritten (their updated_at neither): the latest health has a table of its own');
SELECT is(pg_temp.v($$SELECT jsonb_build_array(factors->'inputs'->'activities_90d', round((factors->'inputs'->>'days_since_last_activity')::numeric),
                                    factors->'engagement'->'weight', recommendations[1])
             FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-0000000004c9' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$)::jsonb,
    '[0, 200, 30, "no contact in 200 days: schedule a check-in"]'::jsonb,
    'an account whose last activity is older than 90 days: 200 days since, and engagement has data');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.account_health WHERE scored_on = (now() AT TIME ZONE 'UTC')::date$$), 3::bigint, 'one snapshot per account for today, however often');
SELECT is(pg_temp.count_of($$SELECT count(*) FROM crm.account_health WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$),
    0::bigint, 'tenant B untouched');

-- Initrode: only satisfaction has data (NPS 2 -> 20, less 3 open and 3 overdue cases): 0, red, critical
SELECT row_eq($$SELECT score, band, risk_level, recommendations FROM crm.account_health
                 WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$,
    ROW(0, 'red'::text, 'critical'::text, ARRAY['no activity recorded: schedule a first call', '3 overdue cases: escalate',
                                                 '3 open cases: review the account''s support', 'NPS of 2.0 (a detractor): call the contact']),
    'Initrode: 0, red, critical, and what to do');
SELECT is(pg_temp.v($$SELECT factors->'satisfaction' FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$)::jsonb,
    '{"value": 0, "weight": 30}'::jsonb, '    its one measure, with its weight');
SELECT is(pg_temp.v($$SELECT factors->'engagement' FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$)::jsonb,
    '{"value": null, "weight": 0}'::jsonb, '    a measure without data weighs nothing');
SELECT is(pg_temp.count_of($$SELECT count(*) FROM crm.tasks WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2'$$), 1::bigint,
    'turning red gave its owner one task, however often refreshed');
SELECT is(pg_temp.count_of($$SELECT count(*) FROM crm.events WHERE type = 'account.at_risk' AND entity_id = 'a0000000-0000-7000-8000-000000000ac2'$$),
    1::bigint, '    and emitted account.at_risk once');
SELECT is(pg_temp.v($$SELECT assignee_id FROM crm.tasks WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2'$$)::uuid, 'a0000000-0000-7000-8000-0000000000a2'::uuid,
    '    the task is the owner''s');

-- Initech: yesterday 80; today it has a recent call, an open deal, an open case and a 6 from Peter
SELECT results_eq($$SELECT health_score, health_band, health_trend, health_scored_on FROM crm_api.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac1'$$,
    $$SELECT h.score, h.band, 'declining'::text, (now() AT TIME ZONE 'UTC')::date FROM crm.account_health h
      WHERE h.account_id = 'a0000000-0000-7000-8000-000000000ac1' AND h.scored_on = (now() AT TIME ZONE 'UTC')::date$$,
    'the latest score, band and trend are on the account (declining from 80)');
SELECT ok(pg_temp.v($$SELECT score < 77 FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$)::boolean,
    '    its score is below 77, hence declining');
SELECT results_eq($$SELECT scored_on FROM crm.account_health_history('a0000000-0000-7000-8000-000000000ac1')$$,
    ARRAY[(now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date], 'crm.account_health_history: yesterday, then today');
SELECT throws_ok($$SELECT * FROM crm.account_health_history('b0000000-0000-7000-8000-000000000bc1')$$, 'PT404', NULL,
    'another tenant''s account: 404');
-- a day in the past is refreshed in place
SELECT is((crm.refresh_health_scores((now() AT TIME ZONE 'UTC')::date - 1)->>'changed')::bigint, 3::bigint, 'refreshing yesterday');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-000000000ac1'$$), 2::bigint,
    '    replaces yesterday''s snapshot, it does not add one');
SELECT is(pg_temp.v($$SELECT health_scored_on FROM crm_api.accounts WHERE id = 'a0000000-0000-7000-8000-000000000ac1'$$)::date, (now() AT TIME ZONE 'UTC')::date,
    '    and the account keeps today''s, the latest');
SELECT throws_ok($$UPDATE crm_api.accounts SET health_score = 99 WHERE id = 'a0000000-0000-7000-8000-000000000ac1'$$, '0A000', NULL,
    'the latest health is read only on the accounts view');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm_api.accounts WHERE health_band = 'red'$$), 2::bigint, '    and filters like any column (health_band=eq.red: Initrode, Dormant)');

-- activities count by UTC day: the 30 and the 90 days that end with the snapshot's day
-- (rows of VALUES rather than an INSERT ... SELECT: Citus would COPY the selected rows into the shard,
-- which it refuses under row-level security)
INSERT INTO crm.activities (tenant_id, type, subject, occurred_at, account_id, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Call', ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC',
     'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Call', ((now() AT TIME ZONE 'UTC')::date - 30)::timestamp AT TIME ZONE 'UTC' + interval '23:59:59',
     'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Call', ((now() AT TIME ZONE 'UTC')::date - 89)::timestamp AT TIME ZONE 'UTC',
     'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-00000000000a', 'call', 'Call', ((now() AT TIME ZONE 'UTC')::date - 90)::timestamp AT TIME ZONE 'UTC' + interval '23:59:59',
     'a0000000-0000-7000-8000-000000000ac2', 'a0000000-0000-7000-8000-0000000000a2');
-- (on Citus the manager's writes are committed before the refresh, which writes as the extension's owner)
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT crm.refresh_health_scores() \g /dev/null
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(pg_temp.v($$SELECT jsonb_build_array(factors->'inputs'->'activities_30d', factors->'inputs'->'activities_90d') FROM crm.account_health
            WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2' AND scored_on = (now() AT TIME ZONE 'UTC')::date$$)::jsonb, '[1, 3]'::jsonb,
    'today: 1 activity in the 30 days ending today (29 days ago, not 30), 3 in the 90 (not 90 days ago)');
SELECT crm.refresh_health_scores((now() AT TIME ZONE 'UTC')::date - 1) \g /dev/null
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(pg_temp.v($$SELECT jsonb_build_array(factors->'inputs'->'activities_30d', factors->'inputs'->'activities_90d') FROM crm.account_health
            WHERE account_id = 'a0000000-0000-7000-8000-000000000ac2' AND scored_on = (now() AT TIME ZONE 'UTC')::date - 1$$)::jsonb, '[2, 4]'::jsonb,
    'yesterday''s snapshot: 2 in its 30 days, 4 in its 90');

-- reps read health; the operator refreshes every tenant
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm_api.account_health WHERE scored_on = (now() AT TIME ZONE 'UTC')::date$$), 3::bigint, 'a rep reads the snapshots');
SELECT throws_ok($$DELETE FROM crm.account_health_latest$$, '42501', NULL, '    and writes no latest health');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
DELETE FROM crm_api.accounts WHERE id = 'a0000000-0000-7000-8000-0000000004c9';
-- (on Citus the manager's delete is committed before the superuser's reads)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT is(pg_temp.count_of($$SELECT count(*) FROM crm.account_health_latest WHERE account_id = 'a0000000-0000-7000-8000-0000000004c9'$$)
          + pg_temp.count_of($$SELECT count(*) FROM crm.account_health WHERE account_id = 'a0000000-0000-7000-8000-0000000004c9'$$),
    0::bigint, 'a deleted account takes its health with it');
SELECT pg_temp.become('crm_rep', NULL, NULL, 'none');
RESET ROLE;
SELECT is((crm.refresh_health_scores()->>'changed')::bigint, (SELECT count(*) FROM crm.accounts), 'the operator, without a context, refreshes every tenant''s accounts');

-- health weights are refused at save beyond what the score takes (crm.health_weights, with the C limit)
-- (on Citus a write to the reference table crm.tenants comes before any multi-shard command of its
-- transaction, docs/design.md §9: the refresh of every tenant above is committed first)
\if :on_citus
COMMIT;
BEGIN;
\endif
UPDATE crm.tenants SET settings = settings || '{"health_weights": {"engagement": 1000000, "activity": 0}}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT is((SELECT settings->'health_weights' FROM crm.tenants WHERE id = 'a0000000-0000-7000-8000-00000000000a'),
    '{"engagement": 1000000, "activity": 0}'::jsonb, 'a weight of 1000000 is saved');
SELECT throws_ok($$UPDATE crm.tenants SET settings = settings || '{"health_weights": {"engagement": 1000001}}' WHERE id = 'a0000000-0000-7000-8000-00000000000a'$$,
    '22023', 'invalid tenant setting at $.health_weights.engagement: a weight from 0 to 1000000 is expected', 'one more is refused at its path');
SELECT is((SELECT settings->'health_weights' FROM crm.tenants WHERE id = 'a0000000-0000-7000-8000-00000000000a'),
    '{"engagement": 1000000, "activity": 0}'::jsonb, '    and the settings are as they were');
-- a weight too small for a float8 was saved and then broke the refresh (22003 in ::float8): it weighs 0
UPDATE crm.tenants SET settings = settings || '{"health_weights": {"engagement": 1e-400, "activity": 1}}' WHERE id = 'a0000000-0000-7000-8000-00000000000a';
SELECT is(crm.health_weights((SELECT settings->'health_weights' FROM crm.tenants WHERE id = 'a0000000-0000-7000-8000-00000000000a')),
    '{0,1,0,0}'::float8[], 'a weight too small for a float8 weighs 0');
SELECT lives_ok($$SELECT crm.refresh_health_scores()$$, '    and the refresh of every tenant takes it');

SELECT * FROM finish();
ROLLBACK;
