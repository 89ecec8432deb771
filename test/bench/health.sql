-- health.sql: crm.refresh_health_scores on one tenant of HEALTH_ACCOUNTS accounts (default 100 000)
-- with HEALTH_ACTIVITIES activities (default 5 000 000), plus their contacts, opportunities, cases and
-- NPS answers, against a straightforward PL/pgSQL implementation of the same measures (a loop over the
-- accounts, a query per input, the formulas in PL/pgSQL): target >= 5x faster. Both write the same
-- snapshot per account for the day (score, band, risk, trend, factors, advice) into tables of the same
-- keys, and both give the same scores (checked first). Measured twice: run again on a day already
-- scored, and as a day's first run (yesterday's snapshots in place). Issue 5.
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

-- The straightforward implementation: per account, a query per input, the measures in PL/pgSQL, and
-- the same snapshot written as crm.refresh_health_scores writes it (score, band, risk level, trend
-- against the previous snapshot, the factors and the advice as jsonb_build_object and CASE expressions
-- build them: sql/health.sql checks that they are the same document as ours), into tables of the same
-- shape and keys as crm.account_health and crm.account_health_latest; an account turning red gets a
-- task and an event, as ours does.
CREATE TABLE IF NOT EXISTS bench.account_health_plain (LIKE crm.account_health INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS bench.account_health_latest_plain (LIKE crm.account_health_latest INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE);
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
    band text; prev_score integer; prev_band text; trend text; factors jsonb; advice text[];
BEGIN
    FOR a IN SELECT x.id, x.name, x.owner_id FROM crm.accounts x WHERE x.tenant_id = t LOOP
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
        -- the measures shown to 2 decimals, as ours
        eng := round(eng * 100) / 100; act := round(act * 100) / 100; sat := round(sat * 100) / 100; com := round(com * 100) / 100;
        s := coalesce(30 * eng, 0) + coalesce(20 * act, 0) + coalesce(30 * sat, 0) + coalesce(20 * com, 0);
        w := CASE WHEN eng IS NULL THEN 0 ELSE 30 END + CASE WHEN act IS NULL THEN 0 ELSE 20 END
           + CASE WHEN sat IS NULL THEN 0 ELSE 30 END + CASE WHEN com IS NULL THEN 0 ELSE 20 END;
        score := CASE WHEN w > 0 THEN floor(s / w + 0.5) END;
        band := CASE WHEN score IS NULL THEN NULL WHEN score >= 75 THEN 'green' WHEN score >= 50 THEN 'yellow' ELSE 'red' END;
        SELECT h.score, h.band INTO prev_score, prev_band FROM bench.account_health_plain h
         WHERE h.tenant_id = t AND h.account_id = a.id AND h.scored_on < on_date ORDER BY h.scored_on DESC LIMIT 1;
        trend := CASE WHEN score IS NULL OR prev_score IS NULL THEN 'stable' WHEN score > prev_score + 3 THEN 'improving'
                      WHEN score < prev_score - 3 THEN 'declining' ELSE 'stable' END;
        factors := jsonb_build_object(
            'engagement', jsonb_build_object('value', eng, 'weight', CASE WHEN eng IS NULL THEN 0 ELSE 30 END),
            'activity', jsonb_build_object('value', act, 'weight', CASE WHEN act IS NULL THEN 0 ELSE 20 END),
            'satisfaction', jsonb_build_object('value', sat, 'weight', CASE WHEN sat IS NULL THEN 0 ELSE 30 END),
            'commercial', jsonb_build_object('value', com, 'weight', CASE WHEN com IS NULL THEN 0 ELSE 20 END),
            'inputs', jsonb_build_object('activities_30d', n30, 'activities_90d', n90, 'days_since_last_activity', floor(days),
                                         'open_opportunities', open_opps, 'csat', round(csat, 2), 'nps', round(nps, 2),
                                         'open_cases', open_cases, 'overdue_cases', overdue, 'won_last_180d', won_recent,
                                         'won_previous_180d', won_before, 'lost_last_180d', lost_recent));
        advice := array_remove(ARRAY[
            CASE WHEN acts = 0 THEN 'no activity recorded: schedule a first call'
                 WHEN days >= 30 THEN format('no contact in %s days: schedule a check-in', floor(days)) END,
            CASE WHEN overdue > 0 THEN format('%s overdue case%s: escalate', overdue, CASE WHEN overdue > 1 THEN 's' END) END,
            CASE WHEN open_cases >= 3 THEN format('%s open cases: review the account''s support', open_cases) END,
            CASE WHEN nps < 7 THEN format('NPS of %s (a detractor): call the contact', round(nps, 1)) END,
            CASE WHEN csat < 3 THEN format('low case satisfaction (%s of 5): review the handling', round(csat, 1)) END,
            CASE WHEN won_before > 0 AND won_recent < won_before THEN 'won revenue is declining: plan a business review' END,
            CASE WHEN lost_recent >= 2 THEN format('%s deals lost lately: ask why', lost_recent) END,
            CASE WHEN open_opps = 0 AND closed > 0 THEN 'no open opportunity: look for an expansion' END], NULL);
        INSERT INTO bench.account_health_plain (tenant_id, account_id, scored_on, score, band, risk_level, trend, factors, recommendations)
        VALUES (t, a.id, on_date, score, band,
                CASE WHEN score IS NULL THEN NULL WHEN score >= 75 THEN 'low' WHEN score >= 50 THEN 'medium' WHEN score >= 25 THEN 'high' ELSE 'critical' END,
                trend, factors, advice)
        ON CONFLICT (tenant_id, account_id, scored_on) DO UPDATE
           SET score = excluded.score, band = excluded.band, risk_level = excluded.risk_level, trend = excluded.trend,
               factors = excluded.factors, recommendations = excluded.recommendations, computed_at = excluded.computed_at;
        INSERT INTO bench.account_health_latest_plain (tenant_id, account_id, scored_on, score, band, trend)
        VALUES (t, a.id, on_date, score, band, trend)
        ON CONFLICT (tenant_id, account_id) DO UPDATE
           SET scored_on = excluded.scored_on, score = excluded.score, band = excluded.band, trend = excluded.trend;
        IF band = 'red' AND prev_band IS DISTINCT FROM 'red' THEN
            INSERT INTO crm.tasks (tenant_id, title, description, type, priority, due_at, assignee_id, account_id)
            VALUES (t, format('Check in with %s', a.name), format('Its health fell to %s (red): %s.', score, array_to_string(advice, '; ')),
                    'call', 'high', now() + interval '2 days', a.owner_id, a.id);
            PERFORM crm.emit_event(t, 'account.at_risk', 'account', a.id, jsonb_build_object('score', score, 'scored_on', on_date, 'owner_id', a.owner_id));
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- both sides agree (the C measures round to 2 decimals: a score may differ by one at a .5 edge)
BEGIN;
SELECT crm.set_context(:'ht', NULL) \g /dev/null
SELECT crm.refresh_health_scores()->>'changed' AS ours, bench.refresh_health_plpgsql(:'ht') AS plain \gset
SELECT count(*) FILTER (WHERE abs(h.score - p.score) > 1 OR (h.score IS NULL) <> (p.score IS NULL)) > 0 AS disagree,
       count(*) FILTER (WHERE h.score IS DISTINCT FROM p.score) AS off_by_one, count(*) AS compared,
       count(*) FILTER (WHERE h.factors = p.factors AND h.recommendations = p.recommendations AND h.risk_level IS NOT DISTINCT FROM p.risk_level) AS same_snapshot
FROM crm.account_health h JOIN bench.account_health_plain p ON p.account_id = h.account_id AND p.scored_on = h.scored_on
WHERE h.tenant_id = :'ht' AND h.scored_on = current_date \gset
\if :disagree
DO $$ BEGIN RAISE EXCEPTION 'health: the C and PL/pgSQL implementations disagree by more than a point'; END $$;
\endif
SELECT bench.compare(format('health: refresh again the same day, %s accounts, %s activities', :health_accounts, :health_activities),
    'crm.refresh_health_scores, the day''s snapshots in place (rewrites only what changed)', 'SELECT crm.refresh_health_scores()', format('SELECT crm.set_context(%L, NULL)', :'ht'),
    'PL/pgSQL: a loop over the accounts, a query per input, the same snapshot', format('SELECT bench.refresh_health_plpgsql(%L)', :'ht'), '',
    '>= 5x faster (ratio <= 0.2)', reps => 3, warmup => 0);
UPDATE bench.results SET note = format('%s accounts compared: %s equal scores, %s off by one (rounding); %s the same factors, advice and risk level',
                                       :compared, :compared - :off_by_one, :off_by_one, :same_snapshot)
WHERE seq = (SELECT max(seq) FROM bench.results);
COMMIT;

-- A day's first run, as the scheduler makes it: yesterday refreshed before (lib/health_first_run.psql),
-- so every snapshot is a new row and the accounts whose health moved since yesterday are updated; the
-- alternative starts from the same history. Each run in its own transaction; medians of 3.
CREATE TEMP TABLE first_times (side text, ms double precision);
\ir lib/health_first_run.psql
\ir lib/health_first_run.psql
\ir lib/health_first_run.psql
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
SELECT format('health: a day''s first refresh, %s accounts, %s activities', :health_accounts, :health_activities),
       'crm.refresh_health_scores, yesterday refreshed before', 'PL/pgSQL: a loop over the accounts, a query per input, the same snapshot',
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM first_times WHERE side = 'ours'),
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM first_times WHERE side = 'plain'), 3,
       '>= 5x faster (ratio <= 0.2)',
       format('every snapshot a new row; %s of %s accounts'' score, band or trend changed since yesterday (last run); each run its own transaction',
              (SELECT count(*) FROM crm.account_health h JOIN crm.account_health y ON y.tenant_id = h.tenant_id AND y.account_id = h.account_id
                 AND y.scored_on = current_date - 1
                WHERE h.tenant_id = :'ht' AND h.scored_on = current_date AND (h.score, h.band, h.trend) IS DISTINCT FROM (y.score, y.band, y.trend)),
              :health_accounts);
