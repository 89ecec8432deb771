-- health.sql: crm.refresh_health_scores on one tenant of HEALTH_ACCOUNTS accounts (default 100 000)
-- with HEALTH_ACTIVITIES activities (default 5 000 000), plus their contacts, opportunities, cases and
-- NPS answers, against a straightforward PL/pgSQL implementation of the same measures (a loop over the
-- accounts, a query per input, the formulas in PL/pgSQL): target >= 5x faster. Both write one snapshot
-- per account for the day; both give the same scores (checked first). Measured twice: run again on a
-- day already scored, and as a day's first run (yesterday's snapshots in place). Issue 5.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?health_accounts}
\else
\set health_accounts 100000
\endif
\if :{?health_activities}
\else
\set health_activities 5000000
\endif
SELECT md5('crm bench:health')::uuid AS ht, md5('crm bench:health:user')::uuid AS hu \gset
SELECT NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = :'ht') AS need_data \gset
\if :need_data
SELECT crm.create_tenant('Bench health', '{}', :'ht') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES (:'ht', :'hu', 'cs@health.example', 'Customer success', 'manager');
SET session_replication_role = replica;
INSERT INTO crm.accounts (tenant_id, id, name, employee_count, owner_id)
SELECT :'ht', md5('crm bench:health:account:' || n)::uuid, 'Account ' || n, (n * 37) % 3000, :'hu' FROM generate_series(1, :health_accounts) n;
INSERT INTO crm.contacts (tenant_id, id, account_id, first_name, last_name, owner_id)
SELECT :'ht', md5('crm bench:health:contact:' || n)::uuid, md5('crm bench:health:account:' || n)::uuid, 'Contact', 'No. ' || n, :'hu'
FROM generate_series(1, :health_accounts) n;
-- activities: 60 % logged against the account, 40 % against its contact; over the last 400 days, each
-- on a day of its own drawn from its number (a hash), so that an account's activities fall on as many
-- days as they would (its 50 on about 47 days; 12 in the last 90)
INSERT INTO crm.activities (tenant_id, type, occurred_at, sentiment, account_id, contact_id, owner_id)
SELECT :'ht', (ARRAY['call', 'email', 'meeting']::crm.activity_type[])[1 + n % 3],
       now() - ((hashint8(n) & 2147483647) % 400) * interval '1 day',
       (ARRAY['positive', 'neutral', 'negative', NULL]::crm.sentiment[])[1 + n % 4],
       CASE WHEN n % 5 < 3 THEN md5('crm bench:health:account:' || a)::uuid END,
       CASE WHEN n % 5 >= 3 THEN md5('crm bench:health:contact:' || a)::uuid END, :'hu'
FROM generate_series(1, :health_activities) n, LATERAL (SELECT 1 + (n * 2654435761::bigint) % :health_accounts AS a) x;
-- two opportunities per account: won, lost or open, closed over the last year
INSERT INTO crm.opportunities (tenant_id, name, account_id, pipeline_id, stage_id, amount, currency, probability, forecast_category,
                               closed_at, owner_id)
SELECT :'ht', 'Deal ' || n, md5('crm bench:health:account:' || (1 + n % :health_accounts))::uuid, s.pipeline_id, s.id, 1000 * (1 + n % 90),
       'USD', s.probability, s.forecast_category, CASE WHEN s.is_won OR s.is_lost THEN now() - ((n * 31) % 360) * interval '1 day' END, :'hu'
FROM generate_series(1, 2 * :health_accounts) n
JOIN crm.pipeline_stages s ON s.tenant_id = :'ht' AND s.position = n % 6;
INSERT INTO crm.cases (tenant_id, subject, account_id, assignee_id, opened_at, status, resolved_at, satisfaction)
SELECT :'ht', 'Case ' || n, md5('crm bench:health:account:' || (1 + (n * 3) % :health_accounts))::uuid, :'hu', now() - (n % 60) * interval '1 day',
       CASE WHEN n % 4 = 0 THEN 'open' ELSE 'resolved' END::crm.case_status, CASE WHEN n % 4 <> 0 THEN now() END,
       CASE WHEN n % 4 <> 0 THEN 1 + n % 5 END
FROM generate_series(1, :health_accounts) n;
INSERT INTO crm.nps_responses (tenant_id, contact_id, account_id, score, responded_at)
SELECT :'ht', md5('crm bench:health:contact:' || (1 + (n * 7) % :health_accounts))::uuid,
       md5('crm bench:health:account:' || (1 + (n * 7) % :health_accounts))::uuid, n % 11, now() - (n % 300) * interval '1 day'
FROM generate_series(1, :health_accounts / 2) n;
RESET session_replication_role;
-- loaded without triggers, as a restore would: the activity rollup is then rebuilt, as a DBA would
SELECT crm.rebuild_account_activity(:'ht') \g /dev/null
VACUUM ANALYZE crm.account_activity_days;
VACUUM ANALYZE crm.accounts;
VACUUM ANALYZE crm.contacts;
VACUUM ANALYZE crm.activities;
VACUUM ANALYZE crm.opportunities;
VACUUM ANALYZE crm.cases;
VACUUM ANALYZE crm.nps_responses;
\endif

-- the straightforward implementation: per account, a query per input; the measures in PL/pgSQL
CREATE TABLE IF NOT EXISTS bench.account_health_plain (account_id uuid, scored_on date, score integer, band text,
                                                       PRIMARY KEY (account_id, scored_on));
CREATE OR REPLACE FUNCTION bench.refresh_health_plpgsql(t uuid, on_date date DEFAULT current_date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    a record;
    ref timestamptz := now();
    -- activities are counted by UTC day: the 30 and 90 days that end with on_date
    day_end timestamptz := (on_date + 1)::timestamp AT TIME ZONE 'UTC';
    n bigint := 0;
    acts bigint; n30 bigint; n90 bigint; last_at timestamptz; pos bigint; neg bigint; rated bigint;
    open_opps bigint; closed bigint; won_recent numeric; won_before numeric; lost_recent bigint;
    csat numeric; cases bigint; open_cases bigint; overdue bigint; nps numeric;
    eng float8; act float8; sat float8; com float8; days float8; volume float8; recency float8; s float8; w float8; score integer;
BEGIN
    FOR a IN SELECT id FROM crm.accounts WHERE tenant_id = t LOOP
        SELECT count(*), count(*) FILTER (WHERE occurred_at >= day_end - interval '30 days'), count(*) FILTER (WHERE occurred_at >= day_end - interval '90 days'),
               max(occurred_at), count(*) FILTER (WHERE occurred_at >= day_end - interval '90 days' AND sentiment = 'positive'),
               count(*) FILTER (WHERE occurred_at >= day_end - interval '90 days' AND sentiment = 'negative'),
               count(*) FILTER (WHERE occurred_at >= day_end - interval '90 days' AND sentiment IS NOT NULL)
          INTO acts, n30, n90, last_at, pos, neg, rated
          FROM (SELECT v.id, v.occurred_at, v.sentiment FROM crm.activities v WHERE v.tenant_id = t AND v.account_id = a.id
                UNION
                SELECT v.id, v.occurred_at, v.sentiment FROM crm.contacts c JOIN crm.activities v ON v.tenant_id = t AND v.contact_id = c.id
                 WHERE c.tenant_id = t AND c.account_id = a.id
                UNION
                SELECT v.id, v.occurred_at, v.sentiment FROM crm.opportunities o JOIN crm.activities v ON v.tenant_id = t AND v.opportunity_id = o.id
                 WHERE o.tenant_id = t AND o.account_id = a.id) v
         WHERE v.occurred_at < day_end;
        SELECT count(*) FILTER (WHERE o.closed_at IS NULL), count(*) FILTER (WHERE o.closed_at <= ref),
               coalesce(sum(o.amount) FILTER (WHERE st.is_won AND o.closed_at > ref - interval '180 days'), 0),
               coalesce(sum(o.amount) FILTER (WHERE st.is_won AND o.closed_at > ref - interval '360 days' AND o.closed_at <= ref - interval '180 days'), 0),
               count(*) FILTER (WHERE st.is_lost AND o.closed_at > ref - interval '180 days')
          INTO open_opps, closed, won_recent, won_before, lost_recent
          FROM crm.opportunities o JOIN crm.pipeline_stages st ON st.tenant_id = t AND st.id = o.stage_id
         WHERE o.tenant_id = t AND o.account_id = a.id;
        SELECT avg(satisfaction), count(*), count(*) FILTER (WHERE status IN ('open', 'pending')),
               count(*) FILTER (WHERE status IN ('open', 'pending') AND opened_at < ref - interval '7 days')
          INTO csat, cases, open_cases, overdue
          FROM crm.cases WHERE tenant_id = t AND account_id = a.id AND opened_at <= ref;
        SELECT avg(r.score) INTO nps FROM crm.nps_responses r
         WHERE r.tenant_id = t AND r.account_id = a.id AND r.responded_at > ref - interval '365 days' AND r.responded_at <= ref;
        days := greatest(extract(epoch FROM ref - last_at) / 86400, 0);
        eng := NULL; act := NULL; sat := NULL; com := NULL;
        IF acts > 0 THEN
            volume := least(100, 10 * n30 + 4 * (n90 - n30));
            recency := CASE WHEN days IS NULL THEN 0 ELSE 100 * power(2, -days / 30) END;
            eng := CASE WHEN rated > 0 THEN 0.4 * volume + 0.4 * recency + 0.2 * (50 + 50.0 * (pos - neg) / rated)
                        ELSE 0.5 * volume + 0.5 * recency END;
        END IF;
        IF acts > 0 OR open_opps > 0 THEN
            act := least(100, greatest(0, 0.7 * CASE WHEN days IS NULL THEN 0 ELSE 100 * power(2, -days / 45) END + 30 * least(open_opps, 1)));
        END IF;
        IF csat IS NOT NULL OR nps IS NOT NULL OR cases > 0 THEN
            sat := least(100, greatest(0, coalesce((coalesce((csat - 1) * 25, 0) + coalesce(nps * 10, 0))
                                                   / nullif((csat IS NOT NULL)::int + (nps IS NOT NULL)::int, 0), 75)
                                          - 5 * open_cases - 10 * overdue));
        END IF;
        IF closed > 0 THEN
            com := least(100, greatest(0, CASE WHEN won_before > 0 THEN 60 + 40 * greatest(-1, least(1, (won_recent - won_before) / won_before))
                                               WHEN won_recent > 0 THEN 100 ELSE 50 END - 10 * lost_recent));
        END IF;
        s := coalesce(30 * eng, 0) + coalesce(20 * act, 0) + coalesce(30 * sat, 0) + coalesce(20 * com, 0);
        w := CASE WHEN eng IS NULL THEN 0 ELSE 30 END + CASE WHEN act IS NULL THEN 0 ELSE 20 END
           + CASE WHEN sat IS NULL THEN 0 ELSE 30 END + CASE WHEN com IS NULL THEN 0 ELSE 20 END;
        score := CASE WHEN w > 0 THEN floor(s / w + 0.5) END;
        INSERT INTO bench.account_health_plain VALUES (a.id, on_date, score,
            CASE WHEN score IS NULL THEN NULL WHEN score >= 75 THEN 'green' WHEN score >= 50 THEN 'yellow' ELSE 'red' END)
        ON CONFLICT (account_id, scored_on) DO UPDATE SET score = excluded.score, band = excluded.band;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- both sides agree (the C measures round to 2 decimals: a score may differ by one at a .5 edge)
BEGIN;
SELECT crm.set_context(:'ht', NULL) \g /dev/null
SELECT crm.refresh_health_scores() AS ours, bench.refresh_health_plpgsql(:'ht') AS plain \gset
SELECT count(*) FILTER (WHERE abs(h.score - p.score) > 1 OR (h.score IS NULL) <> (p.score IS NULL)) > 0 AS disagree,
       count(*) FILTER (WHERE h.score IS DISTINCT FROM p.score) AS off_by_one, count(*) AS compared
FROM crm.account_health h JOIN bench.account_health_plain p ON p.account_id = h.account_id AND p.scored_on = h.scored_on
WHERE h.tenant_id = :'ht' AND h.scored_on = current_date \gset
\if :disagree
DO $$ BEGIN RAISE EXCEPTION 'health: the C and PL/pgSQL implementations disagree by more than a point'; END $$;
\endif
SELECT bench.compare(format('health: refresh again the same day, %s accounts, %s activities', :health_accounts, :health_activities),
    'crm.refresh_health_scores, the day''s snapshots in place (rewrites only what changed)', 'SELECT crm.refresh_health_scores()', format('SELECT crm.set_context(%L, NULL)', :'ht'),
    'PL/pgSQL: a loop over the accounts, a query per input', format('SELECT bench.refresh_health_plpgsql(%L)', :'ht'), '',
    '>= 5x faster (ratio <= 0.2)', reps => 3, warmup => 0);
UPDATE bench.results SET note = format('%s accounts compared: %s equal scores, %s off by one (rounding)', :compared, :compared - :off_by_one, :off_by_one)
WHERE seq = (SELECT max(seq) FROM bench.results);
COMMIT;

-- A day's first run, as the scheduler makes it: yesterday refreshed before (lib/health_first_run.psql),
-- so every snapshot is a new row and the accounts whose health moved since yesterday are updated; the
-- alternative writes its rows anew as well. Each run in its own transaction; medians of 3.
CREATE TEMP TABLE first_times (side text, ms double precision);
\ir lib/health_first_run.psql
\ir lib/health_first_run.psql
\ir lib/health_first_run.psql
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
SELECT format('health: a day''s first refresh, %s accounts, %s activities', :health_accounts, :health_activities),
       'crm.refresh_health_scores, yesterday refreshed before', 'PL/pgSQL: a loop over the accounts, a query per input',
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM first_times WHERE side = 'ours'),
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM first_times WHERE side = 'plain'), 3,
       '>= 5x faster (ratio <= 0.2)',
       format('every snapshot a new row; %s of %s accounts'' score, band or trend changed since yesterday (last run); each run its own transaction',
              (SELECT count(*) FROM crm.account_health h JOIN crm.account_health y ON y.tenant_id = h.tenant_id AND y.account_id = h.account_id
                 AND y.scored_on = current_date - 1
                WHERE h.tenant_id = :'ht' AND h.scored_on = current_date AND (h.score, h.band, h.trend) IS DISTINCT FROM (y.score, y.band, y.trend)),
              :health_accounts);
