-- recheck.sql: every figure of the demo report, recomputed from the CSV files `make demo` writes, with plain
-- SQL in a database without crm (no crm function, type or table: the files are loaded into plain tables),
-- by the formulas the report prints above each table (those of docs/design.md and the functions' COMMENTs;
-- the health measures are those of src/health.c). Then compared:
--   1. figures.csv (every printed cell) against the recomputation: same rows (named by key or rank), same
--      order, same values (numbers as numbers);
--   2. figures.csv against the report as printed (printed.csv, parsed from report.txt by test/demo_check.sh);
--   3. the factor breakdowns crm reports (lead_score_parts.csv, lead_win_counts.csv, the factors in
--      account_health.csv) and the stored scores against the recomputation, for every lead and account;
--   4. itself: one cell of every table made wrong, in turn, must be caught, by 1 and by 2.
-- Run by test/demo_check.sh: psql -v dir=<the CSV directory> -f test/demo/recheck.sql in an empty database.
-- Ends with an error (so psql exits non-zero) when anything differs.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '(none)'
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
\cd :dir

------------------------------------------------------------------------------------------------------
-- The files, as plain tables (columns as in their header lines)
------------------------------------------------------------------------------------------------------
CREATE TABLE as_of (as_of timestamptz, today date);
CREATE TABLE tenants (tenant text, tenant_id uuid, currency text, sharing text, qualification_threshold integer,
                      win_model_min_history integer, weight_engagement float8, weight_activity float8, weight_satisfaction float8,
                      weight_commercial float8);
CREATE TABLE teams (tenant text, team_id uuid, team text);
CREATE TABLE users (tenant text, user_id uuid, name text, email text, role text, team text, active boolean, db_role text);
CREATE TABLE viewers (section text, n integer, viewer text, db_role text, tenant text, user_id uuid, context_from text);
CREATE TABLE attempts (n integer, who text, db_role text, actor_tenant text, attempt text, kind text, target_table text,
                       target_tenant text, statement text);
CREATE TABLE accounts (tenant text, account_id uuid, name text, industry text, employee_count integer, annual_revenue numeric,
                       country text, lifecycle_stage text, owner_id uuid, owner text, parent_account_id uuid);
CREATE TABLE contacts (tenant text, contact_id uuid, account_id uuid, name text, owner_id uuid);
CREATE TABLE leads (tenant text, lead_id uuid, lead text, company text, title text, status text, source text, industry text,
                    country text, employee_count integer, annual_revenue numeric, budget numeric, purchase_timeline text,
                    is_decision_maker boolean, score integer, grade text, owner_id uuid, owner text, campaign_id uuid,
                    created_at timestamptz, converted_at timestamptz, converted_opportunity_id uuid, converted_contact_id uuid,
                    qualified_at timestamptz, score_dropped_at timestamptz);
CREATE TABLE scoring_rules (tenant text, rule_no integer, rule text, reason text, rule_group text, field text, option_no integer,
                            match text, min numeric, above numeric, max numeric, below numeric, value text, points integer);
CREATE TABLE lead_score_parts (tenant text, lead_id uuid, lead text, rule_no integer, rule text, field text, value text, points integer);
CREATE TABLE lead_win_counts (tenant text, field text, value text, won bigint, lost bigint);
CREATE TABLE pipeline_stages (tenant text, pipeline text, is_default boolean, position integer, stage text, probability integer,
                              forecast_category text, is_won boolean, is_lost boolean);
CREATE TABLE opportunities (tenant text, opportunity_id uuid, name text, account_id uuid, contact_id uuid, lead_id uuid, owner_id uuid,
                            owner text, pipeline text, stage text, is_won boolean, is_lost boolean, amount numeric, currency text,
                            probability integer, forecast_category text, expected_close_date date, created_at timestamptz,
                            stage_changed_at timestamptz, closed_at timestamptz);
CREATE TABLE stage_history (tenant text, history_id uuid, opportunity_id uuid, pipeline text, from_stage text, to_stage text,
                            changed_at timestamptz);
CREATE TABLE quotas (tenant text, user_id uuid, "user" text, team_id uuid, team text, period text, period_start date, amount numeric);
CREATE TABLE activities (tenant text, activity_id uuid, type text, occurred_at timestamptz, sentiment text, account_id uuid,
                         contact_id uuid, lead_id uuid, opportunity_id uuid, owner_id uuid);
CREATE TABLE cases (tenant text, case_id uuid, account_id uuid, contact_id uuid, status text, opened_at timestamptz, satisfaction integer);
CREATE TABLE nps_responses (tenant text, response_id uuid, contact_id uuid, account_id uuid, score integer, responded_at timestamptz);
CREATE TABLE account_health (tenant text, account_id uuid, account text, scored_on date, computed_at timestamptz, score integer,
                             band text, risk_level text, trend text, engagement numeric, engagement_weight numeric, activity numeric,
                             activity_weight numeric, satisfaction numeric, satisfaction_weight numeric, commercial numeric,
                             commercial_weight numeric, activities_30d numeric, activities_90d numeric, days_since_last_activity numeric,
                             open_opportunities numeric, csat numeric, nps numeric, open_cases numeric, overdue_cases numeric,
                             won_last_180d numeric, won_previous_180d numeric, lost_last_180d numeric, recommendations text);
CREATE TABLE segments (tenant text, segment text, is_dynamic boolean, criteria jsonb, member_count integer);
CREATE TABLE segment_members (tenant text, segment text, account_id uuid, account text);
CREATE TABLE campaigns (tenant text, campaign_id uuid, name text, type text, status text, budget numeric, spent numeric, currency text);
CREATE TABLE campaign_members (tenant text, campaign_id uuid, lead_id uuid, contact_id uuid, status text, responded_at timestamptz,
                               created_at timestamptz);
CREATE TABLE tasks (tenant text, task_id uuid, type text, status text, title text, lead_id uuid, account_id uuid, assignee_id uuid);
CREATE TABLE job_runs (tenant text, job text, status text, started_at timestamptz, processed bigint, changed bigint);
CREATE TABLE figures (table_no integer, table_name text, row_no integer, row_key text, column_no integer, column_name text, value text);
CREATE TABLE printed (table_no integer, row_no integer, column_no integer, column_name text, value text);

\copy as_of FROM 'as_of.csv' (FORMAT csv, HEADER)
\copy tenants FROM 'tenants.csv' (FORMAT csv, HEADER)
\copy teams FROM 'teams.csv' (FORMAT csv, HEADER)
\copy users FROM 'users.csv' (FORMAT csv, HEADER)
\copy viewers FROM 'viewers.csv' (FORMAT csv, HEADER)
\copy attempts FROM 'attempts.csv' (FORMAT csv, HEADER)
\copy accounts FROM 'accounts.csv' (FORMAT csv, HEADER)
\copy contacts FROM 'contacts.csv' (FORMAT csv, HEADER)
\copy leads FROM 'leads.csv' (FORMAT csv, HEADER)
\copy scoring_rules FROM 'scoring_rules.csv' (FORMAT csv, HEADER)
\copy lead_score_parts FROM 'lead_score_parts.csv' (FORMAT csv, HEADER)
\copy lead_win_counts FROM 'lead_win_counts.csv' (FORMAT csv, HEADER)
\copy pipeline_stages FROM 'pipeline_stages.csv' (FORMAT csv, HEADER)
\copy opportunities FROM 'opportunities.csv' (FORMAT csv, HEADER)
\copy stage_history FROM 'stage_history.csv' (FORMAT csv, HEADER)
\copy quotas FROM 'quotas.csv' (FORMAT csv, HEADER)
\copy activities FROM 'activities.csv' (FORMAT csv, HEADER)
\copy cases FROM 'cases.csv' (FORMAT csv, HEADER)
\copy nps_responses FROM 'nps_responses.csv' (FORMAT csv, HEADER)
\copy account_health FROM 'account_health.csv' (FORMAT csv, HEADER)
\copy segments FROM 'segments.csv' (FORMAT csv, HEADER)
\copy segment_members FROM 'segment_members.csv' (FORMAT csv, HEADER)
\copy campaigns FROM 'campaigns.csv' (FORMAT csv, HEADER)
\copy campaign_members FROM 'campaign_members.csv' (FORMAT csv, HEADER)
\copy tasks FROM 'tasks.csv' (FORMAT csv, HEADER)
\copy job_runs FROM 'job_runs.csv' (FORMAT csv, HEADER)
\copy figures FROM 'figures.csv' (FORMAT csv, HEADER)
\copy printed FROM 'printed.csv' (FORMAT csv, HEADER)

COMMENT ON TABLE as_of IS 'as_of.csv: when the report computed its figures (its transaction''s now(), UTC) and its today.';
COMMENT ON TABLE tenants IS 'tenants.csv: the demo tenants and their settings (currency, sharing, health weights, ...).';
COMMENT ON TABLE teams IS 'teams.csv: the tenants'' teams.';
COMMENT ON TABLE users IS 'users.csv: the tenants'' users, their role and whether they are active.';
COMMENT ON TABLE viewers IS 'viewers.csv: who the report looks through (database role, tenant, user, where the context comes from).';
COMMENT ON TABLE attempts IS 'attempts.csv: the statements the report tries across tenants, and what they aim at.';
COMMENT ON TABLE accounts IS 'accounts.csv: the accounts, their owner and fields.';
COMMENT ON TABLE contacts IS 'contacts.csv: the contacts, their account and owner.';
COMMENT ON TABLE leads IS 'leads.csv: every lead (the open ones and the decided past ones), its scored fields, stored score and dates.';
COMMENT ON TABLE scoring_rules IS 'scoring_rules.csv: the active scoring model, one row per way a rule gives points, and the caps.';
COMMENT ON TABLE lead_score_parts IS 'lead_score_parts.csv: the points of each rule for each open lead, as crm.explain_lead_score reports them.';
COMMENT ON TABLE lead_win_counts IS 'lead_win_counts.csv: the won and lost counts crm keeps per lead field value (the win model).';
COMMENT ON TABLE pipeline_stages IS 'pipeline_stages.csv: the stages of the pipelines, their probability, category and whether won or lost.';
COMMENT ON TABLE opportunities IS 'opportunities.csv: every deal, its stage, amount, probability, category, owner, dates.';
COMMENT ON TABLE stage_history IS 'stage_history.csv: every stage a deal entered, and when.';
COMMENT ON TABLE quotas IS 'quotas.csv: the sales quotas per user (or team) and period.';
COMMENT ON TABLE activities IS 'activities.csv: calls, emails and meetings: when, their sentiment and what they concern.';
COMMENT ON TABLE cases IS 'cases.csv: support cases: account, status, when opened, satisfaction.';
COMMENT ON TABLE nps_responses IS 'nps_responses.csv: NPS answers and their account.';
COMMENT ON TABLE account_health IS 'account_health.csv: every health snapshot with the factors crm.health_factors reported and the recommendations.';
COMMENT ON TABLE segments IS 'segments.csv: the segments, their criteria and member count.';
COMMENT ON TABLE segment_members IS 'segment_members.csv: the members of each segment.';
COMMENT ON TABLE campaigns IS 'campaigns.csv: the campaigns, their type and spend.';
COMMENT ON TABLE campaign_members IS 'campaign_members.csv: the leads and contacts each campaign reached, and how far.';
COMMENT ON TABLE tasks IS 'tasks.csv: the tasks (follow-ups of qualified leads, check-ins of accounts at risk).';
COMMENT ON TABLE job_runs IS 'job_runs.csv: the maintenance jobs'' runs.';
COMMENT ON TABLE figures IS 'figures.csv: every cell of every table the report printed, as printed.';
COMMENT ON TABLE printed IS 'printed.csv: the report''s tables as test/demo_check.sh read them from report.txt.';

-- the report's parameters: its tenant, its time and today, and the 12 months of its sales section
CREATE VIEW p AS
SELECT 'Acme Robotics'::text AS acme, a.as_of, a.today, a.today - 365 AS year_ago,
       (a.today - 365)::timestamptz AS lo, (a.today + 1)::timestamptz AS hi
FROM as_of a;
COMMENT ON VIEW p IS 'The report''s parameters: the tenant of its sections (Acme), as_of and today (as_of.csv), the 12 months of its sales section as [lo, hi).';

------------------------------------------------------------------------------------------------------
-- How a recomputed table becomes cells: rc_NAME has the printed table's columns plus rk_lo and rk_hi,
-- the places in the printed order the row may take (equal unless rows tie under the report's ORDER BY).
------------------------------------------------------------------------------------------------------
CREATE TABLE expected (table_name text, row_key text, rk_lo bigint, rk_hi bigint, column_name text, value text, how text);
COMMENT ON TABLE expected IS 'Every recomputed cell: the table, the row (key or rank), where the row belongs in the printed order, the column, the value as text, and how it is compared (exact; prefix: the printed text starts with it).';

CREATE FUNCTION expect(name text, key_columns text[] DEFAULT NULL, prefix_columns text[] DEFAULT '{}') RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    rel regclass := format('%I', 'rc_' || name)::regclass;
    cols text[];
    vals text;
    keys text;
BEGIN
    SELECT array_agg(a.attname::text ORDER BY a.attnum),
           string_agg(format('coalesce(t.%I::text, %L)', a.attname, '(none)'), ', ' ORDER BY a.attnum)
      INTO cols, vals
      FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT IN ('rk_lo', 'rk_hi');
    keys := CASE WHEN key_columns IS NULL THEN 't.rk_lo::text'
                 ELSE format('concat_ws(%L, %s)', ' / ', (SELECT string_agg(format('t.%I::text', k), ', ') FROM unnest(key_columns) k)) END;
    EXECUTE format($q$
        INSERT INTO expected (table_name, row_key, rk_lo, rk_hi, column_name, value, how)
        SELECT %L, %s, t.rk_lo, t.rk_hi, c.name, c.value, CASE WHEN c.name = ANY (%L::text[]) THEN 'prefix' ELSE 'exact' END
          FROM %s t, unnest(%L::text[], ARRAY[%s]) c(name, value)$q$, name, keys, prefix_columns, rel, cols, vals);
END
$$;
COMMENT ON FUNCTION expect(text, text[], text[]) IS 'Turns the recomputed table rc_NAME into cells of expected, its rows named by their key columns (or, for a ranked list, by their rank rk_lo).';

-- equal as printed: numbers as numbers (0 = 0.00), anything else as text; prefix: the printed text starts
-- with the recomputed one (an error message after its SQLSTATE)
CREATE FUNCTION same(printed text, recomputed text, how text DEFAULT 'exact') RETURNS boolean
    LANGUAGE sql IMMUTABLE AS
$$
    SELECT CASE WHEN how = 'prefix' THEN btrim(printed) = btrim(recomputed) OR btrim(printed) LIKE btrim(recomputed) || ':%'
                WHEN btrim(printed) ~ '^-?[0-9]+(\.[0-9]+)?$' AND btrim(recomputed) ~ '^-?[0-9]+(\.[0-9]+)?$'
                THEN btrim(printed)::numeric = btrim(recomputed)::numeric
                ELSE btrim(printed) = btrim(recomputed) END
$$;
COMMENT ON FUNCTION same(text, text, text) IS 'Whether a printed cell shows the recomputed value: numbers compared as numbers, other text exactly (trimmed), or by prefix.';

-- an error: what the check raises rather than guess or go on
CREATE FUNCTION fail(message text) RETURNS text
    LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'recheck: %', message; END $$;
COMMENT ON FUNCTION fail(text) IS 'Raises an error with the message (a figure the check cannot recompute, or the check failing).';

-- the weaker of two crm roles (a database role crm_X counts as X)
CREATE FUNCTION role_rank(role text) RETURNS integer
    LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE regexp_replace(role, '^crm_', '') WHEN 'rep' THEN 1 WHEN 'manager' THEN 2 WHEN 'admin' THEN 3 END $$;
COMMENT ON FUNCTION role_rank(text) IS 'rep 1, manager 2, admin 3 (crm_rep, crm_manager, crm_admin likewise): the application role is the weaker of the database role and the user''s.';

------------------------------------------------------------------------------------------------------
-- Tenants; what each viewer sees; the attempts across tenants; the rep's view
------------------------------------------------------------------------------------------------------
CREATE TABLE rc_tenants AS
SELECT t.tenant, t.tenant_id, t.currency, t.sharing,
       (SELECT count(*) FROM teams m WHERE m.tenant = t.tenant) AS teams,
       (SELECT count(*) FROM users u WHERE u.tenant = t.tenant) AS users,
       (SELECT count(*) FROM users u WHERE u.tenant = t.tenant AND u.active) AS active_users,
       row_number() OVER (ORDER BY t.tenant) AS rk_lo, row_number() OVER (ORDER BY t.tenant) AS rk_hi
FROM tenants t;
COMMENT ON TABLE rc_tenants IS 'Recomputed: the tenants table.';

CREATE TABLE rc_sees AS
WITH v AS (
    SELECT v.*, CASE WHEN v.context_from = 'nothing' THEN NULL ELSE v.tenant END AS ctx,
           least(role_rank(v.db_role), role_rank(u.role)) AS role, t.sharing
      FROM viewers v LEFT JOIN users u ON u.user_id = v.user_id LEFT JOIN tenants t ON t.tenant = v.tenant
     WHERE v.section = 'sees'),
r AS (SELECT v.*, (v.role >= 2 OR v.sharing = 'public') AS sees_all, v.role >= 2 AS changes_all FROM v)
SELECT r.viewer, r.context_from, coalesce(r.ctx, '(none)') AS current_tenant,
       (SELECT count(*) FROM tenants t WHERE t.tenant = r.ctx) AS tenants_visible,
       (SELECT count(*) FROM users u WHERE u.tenant = r.ctx) AS users_visible,
       (SELECT count(*) FROM users u WHERE u.tenant = r.ctx AND u.tenant IS DISTINCT FROM r.ctx) AS other_tenant_users,
       (SELECT count(*) FROM teams m WHERE m.tenant = r.ctx) AS teams_visible,
       (SELECT count(*) FROM users u WHERE u.tenant = r.ctx) AS api_users_visible,
       (SELECT count(*) FROM accounts a WHERE a.tenant = r.ctx AND (r.sees_all OR a.owner_id = r.user_id)) AS accounts_visible,
       (SELECT count(*) FROM contacts c WHERE c.tenant = r.ctx AND (r.sees_all OR c.owner_id = r.user_id)) AS contacts_visible,
       (SELECT count(*) FROM contacts c WHERE c.tenant = r.ctx AND (r.sees_all OR c.owner_id = r.user_id)
                                          AND (r.changes_all OR c.owner_id = r.user_id)) AS contacts_it_may_change,
       r.n AS rk_lo, r.n AS rk_hi
FROM r;
COMMENT ON TABLE rc_sees IS 'Recomputed: what each viewer sees, by the rules of docs/design.md section 3.';

CREATE TABLE rc_attempts AS
SELECT a.who, a.attempt,
       CASE WHEN role_rank(a.db_role) < 3 THEN 'refused, 42501'                        -- tenant configuration: admins only
            WHEN a.kind IN ('insert', 'move') AND a.target_tenant <> a.actor_tenant THEN 'refused, 42501'
            WHEN a.kind = 'insert' THEN '1 rows changed'
            ELSE (CASE a.target_table
                      WHEN 'users' THEN (SELECT count(*) FROM users u WHERE u.tenant = a.target_tenant AND u.tenant = a.actor_tenant)
                      WHEN 'teams' THEN (SELECT count(*) FROM teams m WHERE m.tenant = a.target_tenant AND m.tenant = a.actor_tenant)
                      WHEN 'tenants' THEN (SELECT count(*) FROM tenants t WHERE t.tenant = a.target_tenant AND t.tenant = a.actor_tenant)
                  END) || ' rows changed' END AS outcome,
       a.n AS rk_lo, a.n AS rk_hi
FROM attempts a;
COMMENT ON TABLE rc_attempts IS 'Recomputed: the outcome of each attempt (rows changed: those of the target tenant the actor can see; refusals by rule).';

CREATE TABLE rc_rep_view AS
WITH v AS (SELECT v.*, t.sharing, t.currency FROM viewers v JOIN tenants t ON t.tenant = v.tenant WHERE v.section = 'rep_view')
SELECT v.viewer,
       count(*) FILTER (WHERE l.status = 'new') AS leads_new,
       count(*) FILTER (WHERE l.status IN ('contacted', 'qualified')) AS leads_working,
       count(*) FILTER (WHERE l.status = 'converted') AS leads_converted,
       count(*) FILTER (WHERE l.status IN ('lost', 'unqualified')) AS leads_lost,
       (SELECT count(*) FROM opportunities o WHERE o.tenant = v.tenant AND (v.sharing = 'public' OR o.owner_id = v.user_id)
                                               AND o.closed_at IS NULL) AS open_opportunities,
       (SELECT coalesce(sum(o.amount), 0) FROM opportunities o WHERE o.tenant = v.tenant AND (v.sharing = 'public' OR o.owner_id = v.user_id)
                                                                 AND o.closed_at IS NULL) AS open_pipeline,
       (SELECT coalesce(round(sum(o.amount * o.probability / 100.0), 2), 0) FROM opportunities o
         WHERE o.tenant = v.tenant AND (v.sharing = 'public' OR o.owner_id = v.user_id) AND o.closed_at IS NULL) AS weighted_pipeline,
       (SELECT coalesce(sum(o.amount), 0) FROM opportunities o WHERE o.tenant = v.tenant AND (v.sharing = 'public' OR o.owner_id = v.user_id)
                                                                 AND o.forecast_category = 'closed') AS won,
       v.currency, v.n AS rk_lo, v.n AS rk_hi
FROM v LEFT JOIN leads l ON l.tenant = v.tenant AND (v.sharing = 'public' OR l.owner_id = v.user_id)
GROUP BY v.viewer, v.tenant, v.user_id, v.sharing, v.currency, v.n;
COMMENT ON TABLE rc_rep_view IS 'Recomputed: a rep''s leads by status and open and won deals (its own only in a private tenant).';

------------------------------------------------------------------------------------------------------
-- Lead scores (from the rules and the leads' fields) and win probabilities (naive Bayes from the decided leads)
------------------------------------------------------------------------------------------------------
-- a lead's field as text (a field no rule of the demo reads is still here; one not exported fails loudly)
CREATE FUNCTION lead_field(l leads, field text) RETURNS text
    LANGUAGE sql STABLE AS
$$
    SELECT CASE field
        WHEN 'employee_count' THEN l.employee_count::text WHEN 'annual_revenue' THEN l.annual_revenue::text
        WHEN 'budget' THEN l.budget::text WHEN 'industry' THEN l.industry WHEN 'country' THEN rtrim(l.country)
        WHEN 'title' THEN l.title WHEN 'company' THEN l.company WHEN 'source' THEN l.source
        WHEN 'purchase_timeline' THEN l.purchase_timeline WHEN 'is_decision_maker' THEN l.is_decision_maker::text
        ELSE fail('the scoring model reads lead field ' || field || ', which leads.csv does not hold') END
$$;
COMMENT ON FUNCTION lead_field(leads, text) IS 'The value of a scored lead field, as text (NULL when empty).';

-- the points of each rule for each lead of the tenant: its first matching option (else last), 0 if none
CREATE TABLE rule_points AS
WITH rules AS (SELECT DISTINCT tenant, rule_no, rule, reason, rule_group, field FROM scoring_rules WHERE rule_no IS NOT NULL)
SELECT l.tenant, l.lead_id, r.rule_no, r.rule, r.reason, r.rule_group, r.field, lead_field(l, r.field) AS value,
       coalesce((SELECT o.points FROM scoring_rules o
                  WHERE o.tenant = r.tenant AND o.rule_no = r.rule_no AND lead_field(l, r.field) IS NOT NULL
                    AND CASE o.match
                            WHEN 'range' THEN (o.min IS NULL OR lead_field(l, r.field)::numeric >= o.min)
                                          AND (o.above IS NULL OR lead_field(l, r.field)::numeric > o.above)
                                          AND (o.max IS NULL OR lead_field(l, r.field)::numeric <= o.max)
                                          AND (o.below IS NULL OR lead_field(l, r.field)::numeric < o.below)
                            WHEN 'in' THEN lower(lead_field(l, r.field)) = lower(o.value)
                            WHEN 'else' THEN lead_field(l, r.field) <> ''
                            WHEN 'value' THEN lower(lead_field(l, r.field)) = lower(o.value)
                            WHEN 'equals' THEN lead_field(l, r.field)::boolean = o.value::boolean
                        END
                  ORDER BY o.match = 'else', o.option_no NULLS LAST LIMIT 1), 0) AS points
FROM leads l JOIN rules r ON r.tenant = l.tenant;
COMMENT ON TABLE rule_points IS 'Recomputed: the points each fit rule of the tenant''s model gives each lead.';

CREATE TABLE lead_scores AS
WITH g AS (SELECT rp.tenant, rp.lead_id, rp.rule_group, sum(rp.points) AS points FROM rule_points rp GROUP BY 1, 2, 3),
capped AS (SELECT g.tenant, g.lead_id, sum(least(g.points, coalesce(c.points, g.points))) AS total
             FROM g LEFT JOIN scoring_rules c ON c.tenant = g.tenant AND c.match = 'group_cap' AND c.rule_group = g.rule_group
            GROUP BY 1, 2)
SELECT x.tenant, x.lead_id,
       CASE WHEN EXISTS (SELECT 1 FROM scoring_rules e WHERE e.tenant = x.tenant AND e.match = 'engagement') THEN NULL   -- see below
            ELSE least(x.total, (SELECT t.points FROM scoring_rules t WHERE t.tenant = x.tenant AND t.match = 'total_cap'))::integer END AS score,
       (SELECT string_agg(coalesce(r.reason, r.rule) || ' (+' || r.points || ')', ', ' ORDER BY r.points DESC, r.rule_no)
          FROM (SELECT * FROM rule_points r WHERE r.lead_id = x.lead_id AND r.points > 0 ORDER BY r.points DESC, r.rule_no LIMIT 3) r) AS top_reasons
FROM capped x;
COMMENT ON TABLE lead_scores IS 'Recomputed: each lead''s score (its rules'' points, groups capped, at most the total cap; NULL when the model has engagement rules, which decay with the activities'' age and are not recomputed here) and its top 3 reasons.';

CREATE FUNCTION grade(score integer) RETURNS text
    LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN score IS NULL THEN NULL WHEN score >= 80 THEN 'A' WHEN score >= 60 THEN 'B' WHEN score >= 40 THEN 'C' ELSE 'D' END $$;
COMMENT ON FUNCTION grade(integer) IS 'A score''s grade: A from 80, B from 60, C from 40, else D.';

-- the values the win model compares, per lead
CREATE TABLE win_features AS
SELECT l.tenant, l.lead_id, f.field, f.value
FROM leads l,
     LATERAL (VALUES ('source', l.source),
                     ('industry', lower(nullif(btrim(l.industry), ''))),
                     ('country', rtrim(l.country)),
                     ('purchase_timeline', l.purchase_timeline),
                     ('decision_maker', l.is_decision_maker::text),
                     ('company_size', CASE WHEN l.employee_count >= 1000 THEN '1000+' WHEN l.employee_count >= 200 THEN '200-999'
                                           WHEN l.employee_count >= 50 THEN '50-199' WHEN l.employee_count >= 10 THEN '10-49'
                                           WHEN l.employee_count >= 1 THEN '1-9' END),
                     ('budget', CASE WHEN l.budget >= 100000 THEN '100k+' WHEN l.budget >= 25000 THEN '25k-100k'
                                     WHEN l.budget >= 5000 THEN '5k-25k' WHEN l.budget > 0 THEN 'under 5k' END)) f(field, value)
WHERE f.value IS NOT NULL;
COMMENT ON TABLE win_features IS 'Recomputed: the field values of each lead that the win model compares (bands for company size and budget).';

-- decided leads: won (converted, its deal at a won stage) or lost (lost, or its deal lost)
CREATE TABLE lead_outcomes AS
SELECT l.tenant, l.lead_id,
       CASE WHEN l.status = 'lost' THEN 'lost'
            WHEN l.status = 'converted' THEN (SELECT CASE WHEN o.is_won THEN 'won' WHEN o.is_lost THEN 'lost' END
                                                 FROM opportunities o WHERE o.opportunity_id = l.converted_opportunity_id) END AS outcome
FROM leads l;
COMMENT ON TABLE lead_outcomes IS 'Recomputed: each lead''s outcome, won, lost or NULL (undecided).';

CREATE TABLE win_counts AS
SELECT f.tenant, f.field, f.value, count(*) FILTER (WHERE o.outcome = 'won') AS won, count(*) FILTER (WHERE o.outcome = 'lost') AS lost
FROM win_features f JOIN lead_outcomes o ON o.lead_id = f.lead_id WHERE o.outcome IS NOT NULL
GROUP BY 1, 2, 3
UNION ALL
SELECT o.tenant, '*', '*', count(*) FILTER (WHERE o.outcome = 'won'), count(*) FILTER (WHERE o.outcome = 'lost')
FROM lead_outcomes o WHERE o.outcome IS NOT NULL GROUP BY 1;
COMMENT ON TABLE win_counts IS 'Recomputed: per field value, the won and lost leads that had it ("*": all decided leads).';

CREATE TABLE win_weights AS
WITH seen AS (SELECT c.tenant, c.field, count(*) AS k, sum(c.won) AS won_f, sum(c.lost) AS lost_f
                FROM win_counts c WHERE c.field <> '*' AND c.won + c.lost > 0 GROUP BY 1, 2)
SELECT f.tenant, f.lead_id, f.field, f.value,
       ln((coalesce(c.won, 0) + 1)::float8 / (s.won_f + s.k)) - ln((coalesce(c.lost, 0) + 1)::float8 / (s.lost_f + s.k)) AS weight
FROM win_features f JOIN seen s ON s.tenant = f.tenant AND s.field = f.field
LEFT JOIN win_counts c ON c.tenant = f.tenant AND c.field = f.field AND c.value = f.value;
COMMENT ON TABLE win_weights IS 'Recomputed: the log-odds each of a lead''s field values adds (Laplace-smoothed naive Bayes).';

CREATE TABLE win_pct AS
SELECT l.tenant, l.lead_id,
       CASE WHEN t.won + t.lost < coalesce(n.win_model_min_history, 50) THEN NULL
            WHEN t.won = 0 THEN 0 WHEN t.lost = 0 THEN 100
            ELSE round((100 / (1 + exp(-least(greatest(ln(t.won::float8 / t.lost) + coalesce(w.total, 0), -700), 700))))::numeric, 4) END AS win_pct,
       (SELECT string_agg(x.field || '=' || x.value, ', ' ORDER BY abs(x.weight) DESC, x.field)
          FROM (SELECT * FROM win_weights x WHERE x.lead_id = l.lead_id AND x.weight > 0.05
                 ORDER BY abs(x.weight) DESC, x.field LIMIT 2) x) AS raises_win_chance
FROM leads l
JOIN tenants n ON n.tenant = l.tenant
JOIN win_counts t ON t.tenant = l.tenant AND t.field = '*'
LEFT JOIN (SELECT lead_id, sum(weight) AS total FROM win_weights GROUP BY lead_id) w ON w.lead_id = l.lead_id;
COMMENT ON TABLE win_pct IS 'Recomputed: each lead''s chance to be won (percent, 4 decimals) and the two field values that raise it most.';

CREATE TABLE rc_top_leads AS
SELECT x.lead, x.company, x.status, x.score, x.grade, x.win_pct, x.top_reasons, x.raises_win_chance, x.rk AS rk_lo, x.rk AS rk_hi
FROM (SELECT l.lead, l.company, l.status, s.score, grade(s.score) AS grade, w.win_pct, s.top_reasons, w.raises_win_chance,
             row_number() OVER (ORDER BY s.score DESC, w.win_pct DESC, l.lead_id) AS rk
        FROM leads l JOIN lead_scores s ON s.lead_id = l.lead_id JOIN win_pct w ON w.lead_id = l.lead_id, p
       WHERE l.tenant = p.acme AND l.status IN ('new', 'contacted', 'qualified')) x
WHERE x.rk <= 10;
COMMENT ON TABLE rc_top_leads IS 'Recomputed: Acme''s 10 best open leads.';

CREATE TABLE rc_lead_counts AS
SELECT count(*) FILTER (WHERE l.qualified_at IS NOT NULL AND l.status = 'qualified') AS qualified_leads,
       count(*) FILTER (WHERE l.score_dropped_at IS NOT NULL) AS flagged_for_review,
       (SELECT count(*) FROM tasks k WHERE k.tenant = p.acme AND k.type = 'follow_up' AND k.lead_id IS NOT NULL) AS follow_up_tasks,
       (SELECT count(*) FROM job_runs j WHERE j.tenant = p.acme AND j.job = 'rescore_leads') AS rescoring_runs,
       1 AS rk_lo, 1 AS rk_hi
FROM leads l, p WHERE l.tenant = p.acme GROUP BY p.acme;
COMMENT ON TABLE rc_lead_counts IS 'Recomputed: Acme''s qualified and flagged leads, follow-up tasks and rescoring runs.';

------------------------------------------------------------------------------------------------------
-- Health: the inputs from the activities, deals, cases and NPS answers, the measures (src/health.c),
-- the score, band, risk, trend and recommendations, for every snapshot of today
------------------------------------------------------------------------------------------------------
-- the account an activity counts for: its own, else its contact's, else its deal's
CREATE TABLE activity_accounts AS
SELECT v.*, coalesce(v.account_id, c.account_id, o.account_id) AS acc, (v.occurred_at AT TIME ZONE 'UTC')::date AS day
FROM activities v
LEFT JOIN contacts c ON v.account_id IS NULL AND c.contact_id = v.contact_id
LEFT JOIN opportunities o ON v.account_id IS NULL AND c.account_id IS NULL AND o.opportunity_id = v.opportunity_id;
COMMENT ON TABLE activity_accounts IS 'Recomputed: each activity with the account it counts for and its UTC day.';

CREATE TABLE health_inputs AS
SELECT h.tenant, h.account_id, h.account, h.scored_on AS on_date, h.computed_at AS ref, x.*
FROM account_health h, p,
LATERAL (SELECT
    (SELECT max(v.occurred_at) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day <= h.scored_on) AS last_at,
    (SELECT count(*) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day > h.scored_on - 30 AND v.day <= h.scored_on) AS n30,
    (SELECT count(*) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day > h.scored_on - 90 AND v.day <= h.scored_on) AS n90,
    (SELECT count(*) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day > h.scored_on - 90 AND v.day <= h.scored_on
                                                AND v.sentiment = 'positive') AS pos,
    (SELECT count(*) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day > h.scored_on - 90 AND v.day <= h.scored_on
                                                AND v.sentiment = 'negative') AS neg,
    (SELECT count(v.sentiment) FROM activity_accounts v WHERE v.acc = h.account_id AND v.day > h.scored_on - 90 AND v.day <= h.scored_on) AS rated,
    (SELECT count(*) FROM opportunities o WHERE o.account_id = h.account_id AND o.closed_at IS NULL) AS open_opps,
    (SELECT count(*) FROM opportunities o WHERE o.account_id = h.account_id AND o.closed_at <= h.computed_at) AS closed,
    (SELECT coalesce(sum(o.amount), 0) FROM opportunities o WHERE o.account_id = h.account_id AND o.is_won
                                                              AND o.closed_at > h.computed_at - interval '180 days' AND o.closed_at <= h.computed_at) AS won_recent,
    (SELECT coalesce(sum(o.amount), 0) FROM opportunities o WHERE o.account_id = h.account_id AND o.is_won
                                                              AND o.closed_at > h.computed_at - interval '360 days'
                                                              AND o.closed_at <= h.computed_at - interval '180 days') AS won_before,
    (SELECT count(*) FROM opportunities o WHERE o.account_id = h.account_id AND o.is_lost
                                            AND o.closed_at > h.computed_at - interval '180 days' AND o.closed_at <= h.computed_at) AS lost_recent,
    (SELECT avg(c.satisfaction) FROM cases c WHERE c.account_id = h.account_id AND c.opened_at <= h.computed_at) AS csat,
    (SELECT count(*) FROM cases c WHERE c.account_id = h.account_id AND c.opened_at <= h.computed_at) AS cases,
    (SELECT count(*) FROM cases c WHERE c.account_id = h.account_id AND c.opened_at <= h.computed_at AND c.status IN ('open', 'pending')) AS open_cases,
    (SELECT count(*) FROM cases c WHERE c.account_id = h.account_id AND c.opened_at <= h.computed_at AND c.status IN ('open', 'pending')
                                    AND c.opened_at < h.computed_at - interval '7 days') AS overdue,
    (SELECT avg(r.score) FROM nps_responses r WHERE r.account_id = h.account_id AND r.responded_at > h.computed_at - interval '365 days'
                                                AND r.responded_at <= h.computed_at) AS nps) x
WHERE h.tenant = p.acme AND h.scored_on = p.today;
COMMENT ON TABLE health_inputs IS 'Recomputed: the inputs of each of today''s Acme snapshots, as of its computed_at.';

-- the measures, in double precision as src/health.c computes them, each rounded to 2 decimals
CREATE FUNCTION clamp100(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT least(greatest(x, 0), 100) $$;
COMMENT ON FUNCTION clamp100(float8) IS 'x within 0-100.';
CREATE FUNCTION round2(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT sign(x) * floor(abs(x) * 100 + 0.5) / 100 $$;
COMMENT ON FUNCTION round2(float8) IS 'x to 2 decimals, half away from zero (as C''s round(x * 100) / 100).';

CREATE TABLE health_measures AS
WITH i AS (SELECT h.*, greatest(extract(epoch FROM h.ref - h.last_at) / 86400, 0)::float8 AS days FROM health_inputs h)
SELECT i.*,
       CASE WHEN i.last_at IS NOT NULL THEN round2(
           CASE WHEN i.rated > 0
                THEN 0.4 * clamp100(10 * i.n30 + 4 * (i.n90 - i.n30)) + 0.4 * (100 * power(2::float8, -i.days / 30))
                     + 0.2 * (50 + 50 * (i.pos - i.neg)::float8 / i.rated)
                ELSE 0.5 * clamp100(10 * i.n30 + 4 * (i.n90 - i.n30)) + 0.5 * (100 * power(2::float8, -i.days / 30)) END) END AS engagement,
       CASE WHEN i.last_at IS NOT NULL OR i.open_opps > 0 THEN round2(
           clamp100(0.7 * coalesce(100 * power(2::float8, -i.days / 45), 0) + 30 * least(i.open_opps, 1))) END AS activity,
       CASE WHEN i.csat IS NOT NULL OR i.nps IS NOT NULL OR i.cases > 0 THEN round2(
           clamp100(coalesce(((coalesce((i.csat::float8 - 1) * 25, 0) + coalesce(i.nps::float8 * 10, 0))
                              / nullif((i.csat IS NOT NULL)::int + (i.nps IS NOT NULL)::int, 0)), 75)
                    - 5 * i.open_cases - 10 * i.overdue)) END AS satisfaction,
       CASE WHEN i.closed > 0 THEN round2(
           clamp100(CASE WHEN i.won_before > 0 THEN 60 + 40 * greatest(-1, least(1, (i.won_recent::float8 - i.won_before::float8) / i.won_before::float8))
                         WHEN i.won_recent > 0 THEN 100 ELSE 50 END - 10 * i.lost_recent)) END AS commercial
FROM i;
COMMENT ON TABLE health_measures IS 'Recomputed: the four health measures of each of today''s snapshots (NULL: no data for it).';

CREATE TABLE health_scores AS
WITH w AS (SELECT m.*, t.weight_engagement AS we, t.weight_activity AS wa, t.weight_satisfaction AS ws, t.weight_commercial AS wc
             FROM health_measures m JOIN tenants t ON t.tenant = m.tenant),
s AS (SELECT w.*,
             (SELECT h.score FROM account_health h WHERE h.account_id = w.account_id AND h.scored_on < w.on_date
               ORDER BY h.scored_on DESC LIMIT 1) AS previous_score,
             floor((coalesce(w.engagement * w.we, 0) + coalesce(w.activity * w.wa, 0) + coalesce(w.satisfaction * w.ws, 0)
                    + coalesce(w.commercial * w.wc, 0))
                   / nullif(CASE WHEN w.engagement IS NULL THEN 0 ELSE w.we END + CASE WHEN w.activity IS NULL THEN 0 ELSE w.wa END
                            + CASE WHEN w.satisfaction IS NULL THEN 0 ELSE w.ws END + CASE WHEN w.commercial IS NULL THEN 0 ELSE w.wc END, 0)
                   + 0.5)::integer AS score
        FROM w)
SELECT s.*,
       CASE WHEN s.score >= 75 THEN 'green' WHEN s.score >= 50 THEN 'yellow' WHEN s.score IS NOT NULL THEN 'red' END AS band,
       CASE WHEN s.score >= 75 THEN 'low' WHEN s.score >= 50 THEN 'medium' WHEN s.score >= 25 THEN 'high'
            WHEN s.score IS NOT NULL THEN 'critical' END AS risk_level,
       CASE WHEN s.score IS NULL OR s.previous_score IS NULL THEN 'stable' WHEN s.score > s.previous_score + 3 THEN 'improving'
            WHEN s.score < s.previous_score - 3 THEN 'declining' ELSE 'stable' END AS trend,
       -- the measures as the report lists them: lowest first (ties in jsonb's key order: shorter names first)
       (SELECT string_agg(m.name || ' ' || round(m.value::numeric), ', ' ORDER BY m.value::numeric, length(m.name), m.name)
          FROM (VALUES ('engagement', s.engagement), ('activity', s.activity), ('satisfaction', s.satisfaction),
                       ('commercial', s.commercial)) m(name, value) WHERE m.value IS NOT NULL) AS measures,
       -- the recommendations, in the order src/health.c gives them
       array_remove(ARRAY[
           CASE WHEN s.last_at IS NULL THEN 'no activity recorded: schedule a first call'
                WHEN s.days >= 30 THEN 'no contact in ' || floor(s.days)::text || ' days: schedule a check-in' END,
           CASE WHEN s.overdue > 0 THEN s.overdue || ' overdue case' || CASE WHEN s.overdue > 1 THEN 's' ELSE '' END || ': escalate' END,
           CASE WHEN s.open_cases >= 3 THEN s.open_cases || ' open cases: review the account''s support' END,
           CASE WHEN s.nps < 7 THEN 'NPS of ' || round(s.nps::float8::numeric, 1) || ' (a detractor): call the contact' END,
           CASE WHEN s.csat < 3 THEN 'low case satisfaction (' || round(s.csat::float8::numeric, 1) || ' of 5): review the handling' END,
           CASE WHEN s.won_before > 0 AND s.won_recent < s.won_before THEN 'won revenue is declining: plan a business review' END,
           CASE WHEN s.lost_recent >= 2 THEN s.lost_recent || ' deals lost lately: ask why' END,
           CASE WHEN s.open_opps = 0 AND s.closed > 0 THEN 'no open opportunity: look for an expansion' END], NULL) AS recommendations
FROM s;
COMMENT ON TABLE health_scores IS 'Recomputed: the score (the weighted mean of the measures, rounded), band, risk level, trend, listed measures and recommendations of each of today''s snapshots.';

CREATE TABLE rc_health_red AS
SELECT x.account, x.score, x.band, x.risk_level, x.trend, x.measures, x.what_to_do, x.rk AS rk_lo, x.rk AS rk_hi
FROM (SELECT h.account, h.score, h.band, h.risk_level, h.trend, h.measures, array_to_string(h.recommendations[1:2], '; ') AS what_to_do,
             row_number() OVER (ORDER BY h.score, h.account) AS rk
        FROM health_scores h WHERE h.band = 'red') x
WHERE x.rk <= 8;
COMMENT ON TABLE rc_health_red IS 'Recomputed: Acme''s 8 lowest red accounts of today.';

CREATE TABLE rc_health_bands AS
SELECT band, count(*) AS accounts, rank() OVER (ORDER BY min(score) DESC) AS rk_lo, rank() OVER (ORDER BY min(score) DESC) AS rk_hi
FROM health_scores GROUP BY band;
COMMENT ON TABLE rc_health_bands IS 'Recomputed: Acme''s accounts per band today.';

------------------------------------------------------------------------------------------------------
-- Segments: the accounts' fields the criteria compare, and the criteria themselves, evaluated
------------------------------------------------------------------------------------------------------
CREATE TABLE account_won AS
SELECT o.tenant, o.account_id, sum(o.amount) AS won FROM opportunities o WHERE o.is_won AND o.account_id IS NOT NULL GROUP BY 1, 2;
COMMENT ON TABLE account_won IS 'Recomputed: each account''s won revenue (accounts with a won deal only).';

CREATE TABLE segment_fields AS
WITH deciles AS (SELECT w.tenant, percentile_disc(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) WITHIN GROUP (ORDER BY w.won DESC) AS d
                   FROM account_won w GROUP BY w.tenant),
latest AS (SELECT DISTINCT ON (h.account_id) h.account_id, h.scored_on, h.score, h.band FROM account_health h ORDER BY h.account_id, h.scored_on DESC)
SELECT a.tenant, a.account_id, a.name,
       jsonb_build_object(
           'industry', a.industry, 'country', a.country, 'lifecycle_stage', a.lifecycle_stage, 'owner_id', a.owner_id,
           'employee_count', a.employee_count, 'annual_revenue', a.annual_revenue,
           -- today's snapshot as recomputed, else the latest one of the file
           'health_score', coalesce(s.score, CASE WHEN s.account_id IS NULL THEN l.score END),
           'health_band', coalesce(s.band, CASE WHEN s.account_id IS NULL THEN l.band END),
           'open_pipeline_value', (SELECT coalesce(sum(o.amount), 0) FROM opportunities o WHERE o.account_id = a.account_id AND o.closed_at IS NULL),
           'won_revenue', coalesce(w.won, 0),
           'won_revenue_decile', CASE WHEN w.won > 0 THEN 10 - (SELECT count(*) FROM unnest(d.d) x WHERE x > w.won) END) AS f
FROM accounts a
LEFT JOIN health_scores s ON s.account_id = a.account_id
LEFT JOIN latest l ON l.account_id = a.account_id
LEFT JOIN account_won w ON w.account_id = a.account_id
LEFT JOIN deciles d ON d.tenant = a.tenant;
COMMENT ON TABLE segment_fields IS 'Recomputed: the fields segment criteria compare, per account (days_since_last_activity and tags are not recomputed: criteria naming them fail the check).';

-- whether an account's fields meet criteria (the criteria language of src/segments.sql); a field that is
-- not recomputed raises an error, so that the check fails rather than guesses
CREATE FUNCTION meets(f jsonb, c jsonb) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE AS
$$
DECLARE
    v text;
    x text := c->>'value';
BEGIN
    IF c ? 'all' THEN
        RETURN coalesce((SELECT bool_and(meets(f, e)) FROM jsonb_array_elements(c->'all') e), true);
    ELSIF c ? 'any' THEN
        RETURN coalesce((SELECT bool_or(meets(f, e)) FROM jsonb_array_elements(c->'any') e), false);
    ELSIF c ? 'not' THEN
        RETURN NOT meets(f, c->'not');
    END IF;
    IF NOT f ? (c->>'field') THEN
        RAISE EXCEPTION 'recheck: segment field % is not recomputed', c->>'field';
    END IF;
    v := f->>(c->>'field');
    RETURN coalesce(CASE c->>'op'
        WHEN 'is_null' THEN v IS NULL
        WHEN 'is_not_null' THEN v IS NOT NULL
        WHEN '=' THEN CASE WHEN jsonb_typeof(c->'value') = 'number' THEN v::numeric = x::numeric ELSE v = x END
        WHEN '!=' THEN CASE WHEN jsonb_typeof(c->'value') = 'number' THEN v::numeric <> x::numeric ELSE v <> x END
        WHEN '<' THEN v::numeric < x::numeric
        WHEN '<=' THEN v::numeric <= x::numeric
        WHEN '>' THEN v::numeric > x::numeric
        WHEN '>=' THEN v::numeric >= x::numeric
        WHEN 'between' THEN v::numeric BETWEEN (c->'value'->>0)::numeric AND (c->'value'->>1)::numeric
        WHEN 'in' THEN v IN (SELECT jsonb_array_elements_text(c->'value'))
        WHEN 'not_in' THEN v NOT IN (SELECT jsonb_array_elements_text(c->'value'))
        WHEN 'contains' THEN strpos(lower(v), lower(x)) > 0
    END, false);
END
$$;
COMMENT ON FUNCTION meets(jsonb, jsonb) IS 'Whether an account (its fields as JSON) meets segment criteria: all, any, not, or a field compared with a value (a comparison with an empty field does not match).';

CREATE TABLE rc_segments AS
SELECT s.segment AS name, CASE WHEN s.is_dynamic THEN 'dynamic' ELSE 'static' END AS kind,
       CASE WHEN s.is_dynamic THEN (SELECT count(*) FROM segment_fields a WHERE a.tenant = s.tenant AND meets(a.f, s.criteria))
            ELSE (SELECT count(*) FROM segment_members m WHERE m.tenant = s.tenant AND m.segment = s.segment) END AS members,
       s.criteria::text AS criteria,
       row_number() OVER (ORDER BY s.segment) AS rk_lo, row_number() OVER (ORDER BY s.segment) AS rk_hi
FROM segments s, p WHERE s.tenant = p.acme;
COMMENT ON TABLE rc_segments IS 'Recomputed: Acme''s segments and how many accounts meet their criteria (static ones: their listed members).';

------------------------------------------------------------------------------------------------------
-- Pipeline, forecast
------------------------------------------------------------------------------------------------------
CREATE TABLE rc_pipeline AS
WITH x AS (
    SELECT s.position AS pos, s.stage, s.probability AS prob_pct, count(o.*) AS deals, coalesce(sum(o.amount), 0.00) AS amount,
           coalesce(round(sum(o.amount * o.probability) / 100, 2), 0.00) AS weighted,
           CASE WHEN NOT (s.is_won OR s.is_lost) THEN round(avg(extract(epoch FROM p.as_of - o.stage_changed_at)) / 86400, 1) END AS days_in_stage
      FROM pipeline_stages s CROSS JOIN p
      LEFT JOIN opportunities o ON o.tenant = s.tenant AND o.pipeline = s.pipeline AND o.stage = s.stage
     WHERE s.tenant = p.acme AND s.is_default
     GROUP BY s.position, s.stage, s.probability, s.is_won, s.is_lost)
SELECT x.*, rpad(repeat('#', round(30 * x.amount / nullif(max(x.amount) OVER (), 0))::int), 30) AS amount_bar,
       row_number() OVER (ORDER BY x.pos) AS rk_lo, row_number() OVER (ORDER BY x.pos) AS rk_hi
FROM x;
COMMENT ON TABLE rc_pipeline IS 'Recomputed: Acme''s default pipeline stage by stage.';

-- the forecast's rows of a tenant: n orders them; periods quarters from today's
CREATE FUNCTION forecast_rows(periods integer, by_owner boolean)
    RETURNS TABLE (n integer, bucket text, "from" date, "to" date, owner_id uuid, closed_won numeric, commit numeric, best_case numeric,
                   pipeline numeric, omitted numeric, weighted numeric, quota numeric, attainment_pct numeric)
    LANGUAGE sql STABLE AS
$$
    WITH q AS (SELECT p.acme, p.today, date_trunc('quarter', p.today)::date AS first_day,
                      (date_trunc('quarter', p.today) + periods * interval '3 months' - interval '1 day')::date AS last_day FROM p),
    b AS (SELECT 0 AS n, 'overdue' AS bucket, NULL::date AS ps, q.today - 1 AS pe FROM q
          UNION ALL
          SELECT k, 'period', (q.first_day + (k - 1) * interval '3 months')::date, (q.first_day + k * interval '3 months' - interval '1 day')::date
            FROM q, generate_series(1, periods) k
          UNION ALL
          SELECT periods + 1, 'later', greatest(q.last_day + 1, q.today), NULL FROM q
          UNION ALL
          SELECT periods + 2, 'no_close_date', NULL, NULL FROM q),
    d AS (SELECT o.*, CASE WHEN by_owner THEN o.owner_id END AS g,
                 CASE WHEN o.is_won THEN 'period' WHEN o.expected_close_date IS NULL THEN 'no_close_date'
                      WHEN o.expected_close_date < q.today THEN 'overdue' WHEN o.expected_close_date > q.last_day THEN 'later'
                      ELSE 'period' END AS bucket,
                 CASE WHEN o.is_won THEN (o.closed_at AT TIME ZONE 'UTC')::date ELSE o.expected_close_date END AS day
            FROM opportunities o, q
           WHERE o.tenant = q.acme AND ((o.is_won AND o.closed_at >= q.first_day::timestamptz AND o.closed_at < (q.last_day + 1)::timestamptz)
                                        OR o.closed_at IS NULL)),
    quota AS (SELECT x.user_id, x.period_start, x.amount FROM quotas x, q
               WHERE x.tenant = q.acme AND x.period = 'quarter' AND x.user_id IS NOT NULL AND x.period_start BETWEEN q.first_day AND q.last_day),
    team_quota AS (SELECT x.period_start, sum(x.amount) AS amount FROM quotas x, q
                    WHERE x.tenant = q.acme AND x.period = 'quarter' AND x.team_id IS NOT NULL AND x.period_start BETWEEN q.first_day AND q.last_day
                    GROUP BY 1),
    groups AS (SELECT NULL::uuid AS g WHERE NOT by_owner
               UNION SELECT d.g FROM d WHERE by_owner
               UNION SELECT quota.user_id FROM quota WHERE by_owner)
    SELECT b.n, b.bucket, b.ps, b.pe, g.g,
           coalesce(sum(d.amount) FILTER (WHERE d.is_won), 0),
           coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'commit'), 0),
           coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'best_case'), 0),
           coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category = 'pipeline'), 0),
           coalesce(sum(d.amount) FILTER (WHERE NOT d.is_won AND d.forecast_category NOT IN ('commit', 'best_case', 'pipeline')), 0),
           round(coalesce(sum(CASE WHEN d.is_won THEN d.amount WHEN d.forecast_category IN ('commit', 'best_case', 'pipeline')
                                   THEN d.amount * d.probability / 100 ELSE 0 END), 0), 2),
           y.amount,
           round(100 * coalesce(sum(d.amount) FILTER (WHERE d.is_won), 0) / nullif(y.amount, 0), 2)
      FROM b CROSS JOIN groups g
      LEFT JOIN d ON d.g IS NOT DISTINCT FROM g.g AND d.bucket = b.bucket AND (b.bucket <> 'period' OR d.day BETWEEN b.ps AND b.pe)
      LEFT JOIN LATERAL (SELECT CASE WHEN g.g IS NULL
                                     THEN coalesce((SELECT sum(quota.amount) FROM quota WHERE quota.period_start = b.ps),
                                                   (SELECT t.amount FROM team_quota t WHERE t.period_start = b.ps))
                                     ELSE (SELECT sum(quota.amount) FROM quota WHERE quota.period_start = b.ps AND quota.user_id = g.g) END AS amount
                          WHERE b.bucket = 'period') y ON true
     GROUP BY b.n, b.bucket, b.ps, b.pe, g.g, y.amount
$$;
COMMENT ON FUNCTION forecast_rows(integer, boolean) IS 'Recomputed: Acme''s forecast over periods quarters from today''s, in total or per owner: per row (overdue, each quarter, later, no_close_date) the won amount, the open amounts by category, the weighted amount, the quota and the attainment.';

CREATE TABLE rc_forecast AS
SELECT f.bucket, f."from", f."to", f.closed_won, f.commit, f.best_case, f.pipeline, f.omitted, f.weighted, f.quota, f.attainment_pct,
       row_number() OVER (ORDER BY f.n) AS rk_lo, row_number() OVER (ORDER BY f.n) AS rk_hi
FROM forecast_rows(4, false) f;
COMMENT ON TABLE rc_forecast IS 'Recomputed: Acme''s forecast, this quarter and the next three.';

CREATE TABLE rc_forecast_reps AS
SELECT x.rep, x.won_this_quarter, x.open_pipeline, x.overdue, x.weighted, x.quota, x.attainment_pct, x.rk AS rk_lo, x.rk AS rk_hi
FROM (SELECT u.name AS rep, sum(f.closed_won) AS won_this_quarter, sum(f.commit + f.best_case + f.pipeline + f.omitted) AS open_pipeline,
             sum(f.commit + f.best_case + f.pipeline + f.omitted) FILTER (WHERE f.bucket = 'overdue') AS overdue,
             sum(f.weighted) AS weighted, max(f.quota) AS quota, max(f.attainment_pct) AS attainment_pct,
             row_number() OVER (ORDER BY sum(f.weighted) DESC, u.name) AS rk
        FROM forecast_rows(1, true) f JOIN users u ON u.user_id = f.owner_id
       GROUP BY u.name) x
WHERE x.rk <= 8;
COMMENT ON TABLE rc_forecast_reps IS 'Recomputed: this quarter''s forecast per owner, the 8 with the most weighted.';

------------------------------------------------------------------------------------------------------
-- The last 12 months: sales metrics, stage conversion, lead sources, attribution
------------------------------------------------------------------------------------------------------
CREATE TABLE sales AS
WITH d AS (
    SELECT count(*) FILTER (WHERE o.is_won AND o.closed_at >= p.lo AND o.closed_at < p.hi) AS won_deals,
           count(*) FILTER (WHERE o.is_lost AND o.closed_at >= p.lo AND o.closed_at < p.hi) AS lost_deals,
           coalesce(sum(o.amount) FILTER (WHERE o.is_won AND o.closed_at >= p.lo AND o.closed_at < p.hi), 0) AS won_amount,
           round(avg(o.amount) FILTER (WHERE o.is_won AND o.closed_at >= p.lo AND o.closed_at < p.hi), 2) AS average_deal_size,
           round(avg(extract(epoch FROM o.closed_at - o.created_at) / 86400) FILTER (WHERE o.is_won AND o.closed_at >= p.lo AND o.closed_at < p.hi), 1)
               AS sales_cycle_days,
           count(*) FILTER (WHERE o.closed_at IS NULL) AS open_deals,
           coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0) AS open_amount
      FROM opportunities o, p WHERE o.tenant = p.acme),
r AS (SELECT d.*, round(100.0 * d.won_deals / nullif(d.won_deals + d.lost_deals, 0), 2) AS win_rate FROM d),
l AS (
    SELECT count(*) AS leads_created, count(*) FILTER (WHERE l.converted_at IS NOT NULL) AS leads_converted,
           round(100.0 * count(*) FILTER (WHERE l.converted_at IS NOT NULL) / nullif(count(*), 0), 2) AS lead_conversion_rate,
           round(100.0 * count(*) FILTER (WHERE EXISTS (SELECT 1 FROM opportunities o WHERE o.opportunity_id = l.converted_opportunity_id AND o.is_won))
                 / nullif(count(*), 0), 2) AS lead_to_customer_rate
      FROM leads l, p WHERE l.tenant = p.acme AND l.created_at >= p.lo AND l.created_at < p.hi)
SELECT r.*, round(r.open_deals::numeric * r.win_rate / 100 * r.average_deal_size / nullif(r.sales_cycle_days, 0), 2) AS pipeline_velocity, l.*
FROM r, l;
COMMENT ON TABLE sales IS 'Recomputed: Acme''s sales metrics of the 12 months (one row).';

CREATE TABLE rc_sales_metrics AS
SELECT m.metric, m.figure, row_number() OVER (ORDER BY m.metric) AS rk_lo, row_number() OVER (ORDER BY m.metric) AS rk_hi
FROM sales s, LATERAL (VALUES ('average_deal_size', s.average_deal_size), ('lead_conversion_rate', s.lead_conversion_rate),
                              ('lead_to_customer_rate', s.lead_to_customer_rate), ('leads_converted', s.leads_converted),
                              ('leads_created', s.leads_created), ('lost_deals', s.lost_deals), ('open_amount', s.open_amount),
                              ('open_deals', s.open_deals), ('pipeline_velocity', s.pipeline_velocity), ('sales_cycle_days', s.sales_cycle_days),
                              ('win_rate', s.win_rate), ('won_amount', s.won_amount), ('won_deals', s.won_deals)) m(metric, figure);
COMMENT ON TABLE rc_sales_metrics IS 'Recomputed: the sales metrics table.';

CREATE TABLE rc_stage_conversion AS
WITH h AS (SELECT h.*, s.position, s.is_lost FROM stage_history h
             JOIN pipeline_stages s ON s.tenant = h.tenant AND s.pipeline = h.pipeline AND s.stage = h.to_stage, p WHERE h.tenant = p.acme),
entered AS (SELECT DISTINCT ON (h.opportunity_id, h.pipeline, h.to_stage) h.* FROM h, p
             WHERE h.changed_at >= p.lo AND h.changed_at < p.hi ORDER BY h.opportunity_id, h.pipeline, h.to_stage, h.changed_at, h.history_id),
per_stage AS (SELECT e.pipeline, e.to_stage AS stage, count(*) AS entered,
                     count(*) FILTER (WHERE EXISTS (SELECT 1 FROM h n WHERE n.opportunity_id = e.opportunity_id AND n.pipeline = e.pipeline
                                                        AND (n.changed_at, n.history_id) > (e.changed_at, e.history_id)
                                                        AND n.position > e.position AND NOT n.is_lost)) AS advanced
                FROM entered e GROUP BY 1, 2)
SELECT s.stage, coalesce(x.entered, 0) AS entered, coalesce(x.advanced, 0) AS advanced,
       round(100.0 * x.advanced / nullif(x.entered, 0), 2) AS conversion_pct,
       row_number() OVER (ORDER BY s.is_default DESC, s.pipeline, s.position) AS rk_lo,
       row_number() OVER (ORDER BY s.is_default DESC, s.pipeline, s.position) AS rk_hi
FROM pipeline_stages s CROSS JOIN p LEFT JOIN per_stage x ON x.pipeline = s.pipeline AND x.stage = s.stage
WHERE s.tenant = p.acme AND NOT s.is_won AND NOT s.is_lost;
COMMENT ON TABLE rc_stage_conversion IS 'Recomputed: per open stage, the deals that entered it in the 12 months and those that went further.';

CREATE TABLE rc_lead_sources AS
WITH l AS (SELECT l.*, (SELECT o.amount FROM opportunities o WHERE o.opportunity_id = l.converted_opportunity_id AND o.is_won) AS won_amount,
                  (SELECT c.spent / nullif((SELECT count(*) FROM leads x WHERE x.tenant = l.tenant AND x.campaign_id = c.campaign_id), 0)
                     FROM campaigns c WHERE c.campaign_id = l.campaign_id AND c.spent IS NOT NULL) AS cost
             FROM leads l, p WHERE l.tenant = p.acme AND l.created_at >= p.lo AND l.created_at < p.hi)
SELECT l.source, count(*) AS leads, count(l.converted_at) AS converted, round(100.0 * count(l.converted_at) / count(*), 2) AS conversion_rate,
       coalesce(sum(l.won_amount), 0) AS won_revenue, round(avg(l.won_amount), 2) AS average_deal_value, round(avg(l.cost), 2) AS cost_per_lead,
       row_number() OVER (ORDER BY count(*) DESC, l.source) AS rk_lo, row_number() OVER (ORDER BY count(*) DESC, l.source) AS rk_hi
FROM l GROUP BY l.source;
COMMENT ON TABLE rc_lead_sources IS 'Recomputed: Acme''s leads of the 12 months per source.';

CREATE TABLE attribution AS
WITH won AS (SELECT o.* FROM opportunities o, p WHERE o.tenant = p.acme AND o.is_won AND o.closed_at >= p.lo AND o.closed_at < p.hi),
deal_leads AS (SELECT DISTINCT w.opportunity_id AS opp, l.lead_id, l.converted_contact_id
                 FROM won w JOIN leads l ON l.tenant = w.tenant AND (l.lead_id = w.lead_id OR l.converted_opportunity_id = w.opportunity_id)),
deal_contacts AS (SELECT w.opportunity_id AS opp, w.contact_id FROM won w WHERE w.contact_id IS NOT NULL
                  UNION SELECT w.opportunity_id, c.contact_id FROM won w JOIN contacts c ON c.tenant = w.tenant AND c.account_id = w.account_id
                  UNION SELECT d.opp, d.converted_contact_id FROM deal_leads d WHERE d.converted_contact_id IS NOT NULL),
touches AS (
    SELECT DISTINCT w.opportunity_id AS opp, 'activity' AS kind, a.activity_id AS touch, a.type AS channel, a.occurred_at AS at
      FROM won w JOIN activities a ON a.tenant = w.tenant AND a.occurred_at <= w.closed_at
     WHERE a.opportunity_id = w.opportunity_id
        OR a.contact_id IN (SELECT c.contact_id FROM deal_contacts c WHERE c.opp = w.opportunity_id)
        OR a.lead_id IN (SELECT d.lead_id FROM deal_leads d WHERE d.opp = w.opportunity_id)
    UNION ALL
    SELECT m.opp, 'campaign', m.campaign_id, cg.type, min(m.at)
      FROM (SELECT d.opp, cm.campaign_id, coalesce(cm.responded_at, cm.created_at) AS at, cm.status
              FROM deal_leads d JOIN campaign_members cm ON cm.lead_id = d.lead_id
            UNION ALL
            SELECT c.opp, cm.campaign_id, coalesce(cm.responded_at, cm.created_at), cm.status
              FROM deal_contacts c JOIN campaign_members cm ON cm.contact_id = c.contact_id) m
      JOIN won w ON w.opportunity_id = m.opp JOIN campaigns cg ON cg.campaign_id = m.campaign_id
     WHERE m.status NOT IN ('targeted', 'bounced') AND m.at <= w.closed_at
     GROUP BY m.opp, m.campaign_id, cg.type),
ordered AS (SELECT t.*, row_number() OVER (PARTITION BY t.opp ORDER BY t.at, t.kind, t.touch) AS i, count(*) OVER (PARTITION BY t.opp) AS n
              FROM touches t),
weighted AS (SELECT o.*, w.amount,
                    CASE WHEN o.n = 1 THEN 1 WHEN o.n = 2 THEN 0.5 WHEN o.i = 1 OR o.i = o.n THEN 0.4 ELSE 0.2 / (o.n - 2) END AS weight
               FROM ordered o JOIN won w ON w.opportunity_id = o.opp),
shares AS (SELECT x.*, round(x.amount * x.weight, 30) / sum(x.weight) OVER (PARTITION BY x.opp) AS exact FROM weighted x),
cents AS (SELECT x.*, floor(x.exact * 100) / 100 AS floored FROM shares x),
ranked AS (SELECT x.*, ((x.amount - sum(x.floored) OVER (PARTITION BY x.opp)) * 100)::bigint AS remainder,
                  row_number() OVER (PARTITION BY x.opp ORDER BY x.exact - x.floored DESC, x.i) AS k
             FROM cents x)
SELECT r.opp, r.kind, r.touch, r.channel, (r.floored + CASE WHEN r.k <= r.remainder THEN 0.01 ELSE 0 END)::numeric(18,2) AS credit
FROM ranked r
UNION ALL
SELECT w.opportunity_id, 'unattributed', NULL, NULL, w.amount FROM won w WHERE NOT EXISTS (SELECT 1 FROM touches t WHERE t.opp = w.opportunity_id);
COMMENT ON TABLE attribution IS 'Recomputed: position-based credit of each touchpoint of each deal Acme won in the 12 months (unattributed: a deal without any).';

CREATE TABLE rc_attribution AS
SELECT coalesce(a.channel, a.kind) AS channel, count(*) AS touchpoints, sum(a.credit) AS credited_revenue,
       rank() OVER (ORDER BY sum(a.credit) DESC) AS rk_lo,
       rank() OVER (ORDER BY sum(a.credit) DESC) + count(*) OVER (PARTITION BY sum(a.credit)) - 1 AS rk_hi
FROM attribution a GROUP BY 1;
COMMENT ON TABLE rc_attribution IS 'Recomputed: the credited revenue per channel.';

------------------------------------------------------------------------------------------------------
-- The dashboard (all time)
------------------------------------------------------------------------------------------------------
CREATE TABLE dashboard AS
SELECT (SELECT count(*) FROM accounts a WHERE a.tenant = p.acme AND a.lifecycle_stage = 'customer') AS total_customers,
       (SELECT count(*) FROM leads l WHERE l.tenant = p.acme) AS total_leads,
       (SELECT round(100.0 * count(*) FILTER (WHERE l.status = 'converted') / nullif(count(*), 0), 2) FROM leads l WHERE l.tenant = p.acme)
           AS conversion_rate,
       count(*) FILTER (WHERE o.closed_at IS NULL) AS open_opportunities,
       coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0) AS pipeline_value,
       round(coalesce(sum(o.amount * o.probability) FILTER (WHERE o.closed_at IS NULL), 0) / 100, 2) AS weighted_pipeline_value,
       round(100.0 * count(*) FILTER (WHERE o.is_won) / nullif(count(*) FILTER (WHERE o.is_won OR o.is_lost), 0), 2) AS win_rate,
       round(avg(o.amount) FILTER (WHERE o.is_won), 2) AS average_deal_size,
       round((avg(extract(epoch FROM o.closed_at - o.created_at)) FILTER (WHERE o.is_won) / 86400)::numeric, 1) AS sales_cycle_days,
       (SELECT count(*) FROM segment_fields a WHERE a.tenant = p.acme AND a.f->>'health_band' = 'red') AS at_risk_count
FROM opportunities o, p WHERE o.tenant = p.acme GROUP BY p.acme;
COMMENT ON TABLE dashboard IS 'Recomputed: Acme''s dashboard figures (one row).';

CREATE TABLE rc_dashboard AS
SELECT m.figure, m.value, row_number() OVER (ORDER BY m.figure) AS rk_lo, row_number() OVER (ORDER BY m.figure) AS rk_hi
FROM dashboard d, LATERAL (VALUES ('at_risk_count', d.at_risk_count), ('average_deal_size', d.average_deal_size),
                                  ('conversion_rate', d.conversion_rate), ('open_opportunities', d.open_opportunities),
                                  ('pipeline_value', d.pipeline_value), ('sales_cycle_days', d.sales_cycle_days),
                                  ('total_customers', d.total_customers), ('total_leads', d.total_leads),
                                  ('weighted_pipeline_value', d.weighted_pipeline_value), ('win_rate', d.win_rate)) m(figure, value)
WHERE m.value IS NOT NULL;
COMMENT ON TABLE rc_dashboard IS 'Recomputed: the dashboard''s figures table.';

CREATE TABLE rc_dashboard_sources AS
SELECT l.source, count(*) AS leads, rank() OVER (ORDER BY count(*) DESC) AS rk_lo,
       rank() OVER (ORDER BY count(*) DESC) + count(*) OVER (PARTITION BY count(*)) - 1 AS rk_hi
FROM leads l, p WHERE l.tenant = p.acme GROUP BY l.source;
COMMENT ON TABLE rc_dashboard_sources IS 'Recomputed: Acme''s leads per source (ties may come in any order).';

CREATE TABLE rc_dashboard_top AS
SELECT x.name AS top_opportunity, x.stage, x.probability AS prob, x.amount, x.rk AS rk_lo, x.rk AS rk_hi
FROM (SELECT o.*, row_number() OVER (ORDER BY o.amount DESC, o.opportunity_id) AS rk FROM opportunities o, p
       WHERE o.tenant = p.acme AND o.closed_at IS NULL) x
WHERE x.rk <= 5;
COMMENT ON TABLE rc_dashboard_top IS 'Recomputed: Acme''s 5 largest open deals.';

CREATE TABLE rc_dashboard_at_risk AS
SELECT x.name AS at_risk_account, x.score AS health, x.trend, x.rk AS rk_lo, x.rk AS rk_hi
FROM (SELECT a.name, s.score, s.trend, row_number() OVER (ORDER BY s.score, a.account_id) AS rk
        FROM segment_fields a JOIN health_scores s ON s.account_id = a.account_id, p
       WHERE a.tenant = p.acme AND s.band = 'red') x
WHERE x.rk <= 5;
COMMENT ON TABLE rc_dashboard_at_risk IS 'Recomputed: Acme''s 5 lowest red accounts, by score then id.';

SELECT expect('tenants', ARRAY['tenant']), expect('sees', ARRAY['viewer', 'context_from']),
       expect('attempts', ARRAY['who', 'attempt'], ARRAY['outcome']), expect('rep_view', ARRAY['viewer']),
       expect('top_leads'), expect('lead_counts'), expect('health_red'), expect('health_bands', ARRAY['band']),
       expect('segments', ARRAY['name']), expect('pipeline', ARRAY['stage']), expect('forecast', ARRAY['bucket', 'from']),
       expect('forecast_reps'), expect('sales_metrics', ARRAY['metric']), expect('stage_conversion', ARRAY['stage']),
       expect('lead_sources', ARRAY['source']), expect('attribution', ARRAY['channel']), expect('dashboard', ARRAY['figure']),
       expect('dashboard_sources', ARRAY['source']), expect('dashboard_top'), expect('dashboard_at_risk') \g /dev/null

------------------------------------------------------------------------------------------------------
-- The comparisons
------------------------------------------------------------------------------------------------------
-- 1. the printed figures (figures.csv) against the recomputed ones: every cell of either side
CREATE VIEW differences AS
SELECT coalesce(f.table_name, e.table_name) AS table_name, coalesce(f.row_key, e.row_key) AS row_key,
       coalesce(f.column_name, e.column_name) AS column_name, f.value AS printed, e.value AS recomputed,
       CASE WHEN e.table_name IS NULL THEN 'printed, not recomputed'
            WHEN f.table_name IS NULL THEN 'recomputed, not printed'
            WHEN NOT same(f.value, e.value, e.how) THEN 'differs'
            ELSE format('row %s, expected at %s', f.row_no, CASE WHEN e.rk_lo = e.rk_hi THEN e.rk_lo::text ELSE e.rk_lo || '-' || e.rk_hi END) END AS what
FROM (SELECT * FROM figures WHERE row_no > 0) f
FULL JOIN expected e ON e.table_name = f.table_name AND e.row_key = f.row_key AND e.column_name = f.column_name
WHERE e.table_name IS NULL OR f.table_name IS NULL OR NOT same(f.value, e.value, e.how) OR f.row_no NOT BETWEEN e.rk_lo AND e.rk_hi;
COMMENT ON VIEW differences IS 'Every printed figure (figures.csv) that is not what the recomputation gives: a different value, a row in another place, a cell on one side only.';

-- 2. figures.csv against the report as printed
CREATE VIEW misprints AS
SELECT coalesce(f.table_no, x.table_no) AS table_no, coalesce(f.row_no, x.row_no) AS row_no, coalesce(f.column_no, x.column_no) AS column_no,
       f.column_name || ' = ' || f.value AS in_figures_csv, x.column_name || ' = ' || x.value AS in_report
FROM (SELECT * FROM figures WHERE row_no > 0) f
FULL JOIN printed x ON x.table_no = f.table_no AND x.row_no = f.row_no AND x.column_no = f.column_no
WHERE f.table_no IS NULL OR x.table_no IS NULL OR f.column_name IS DISTINCT FROM x.column_name OR btrim(f.value) IS DISTINCT FROM btrim(x.value);
COMMENT ON VIEW misprints IS 'Every cell where figures.csv and the report as printed (report.txt) disagree: its column (place and name) or its value.';

-- 3. what crm reported of its scores (the factor breakdowns and stored scores) against the recomputation
CREATE VIEW factor_differences AS
SELECT 'lead_score_parts.csv' AS source, x.lead_id::text AS what, x.rule AS item, x.points::text AS reported, r.points::text AS recomputed
  FROM lead_score_parts x LEFT JOIN rule_points r ON r.lead_id = x.lead_id AND r.rule_no = x.rule_no
 WHERE r.points IS DISTINCT FROM x.points OR r.rule IS DISTINCT FROM x.rule
UNION ALL
SELECT 'leads.csv score', l.lead_id::text, l.lead, l.score::text || ' ' || coalesce(l.grade, '-'), s.score::text || ' ' || coalesce(grade(s.score), '-')
  FROM leads l JOIN lead_scores s ON s.lead_id = l.lead_id
 WHERE l.status IN ('new', 'contacted', 'qualified') AND (s.score IS DISTINCT FROM l.score OR grade(s.score) IS DISTINCT FROM l.grade)
UNION ALL
SELECT 'lead_win_counts.csv', x.tenant || ' ' || x.field, x.value, x.won || '/' || x.lost, c.won || '/' || c.lost
  FROM lead_win_counts x FULL JOIN win_counts c ON c.tenant = x.tenant AND c.field = x.field AND c.value = x.value
 WHERE (x.won, x.lost) IS DISTINCT FROM (c.won, c.lost) AND coalesce(x.won + x.lost, 0) + coalesce(c.won + c.lost, 0) > 0
UNION ALL
SELECT 'account_health.csv', h.account, m.name, m.reported::text, m.recomputed::text
  FROM account_health h JOIN health_scores s ON s.account_id = h.account_id AND s.on_date = h.scored_on,
       LATERAL (VALUES ('engagement', h.engagement, s.engagement::numeric), ('activity', h.activity, s.activity::numeric),
                       ('satisfaction', h.satisfaction, s.satisfaction::numeric), ('commercial', h.commercial, s.commercial::numeric),
                       ('engagement_weight', h.engagement_weight, CASE WHEN s.engagement IS NULL THEN 0 ELSE s.we END::numeric),
                       ('activity_weight', h.activity_weight, CASE WHEN s.activity IS NULL THEN 0 ELSE s.wa END::numeric),
                       ('satisfaction_weight', h.satisfaction_weight, CASE WHEN s.satisfaction IS NULL THEN 0 ELSE s.ws END::numeric),
                       ('commercial_weight', h.commercial_weight, CASE WHEN s.commercial IS NULL THEN 0 ELSE s.wc END::numeric),
                       ('activities_30d', h.activities_30d, s.n30::numeric), ('activities_90d', h.activities_90d, s.n90::numeric),
                       ('days_since_last_activity', h.days_since_last_activity, floor(s.days)::numeric),
                       ('open_opportunities', h.open_opportunities, s.open_opps::numeric),
                       ('csat', h.csat, round(s.csat::float8::numeric, 2)), ('nps', h.nps, round(s.nps::float8::numeric, 2)),
                       ('open_cases', h.open_cases, s.open_cases::numeric), ('overdue_cases', h.overdue_cases, s.overdue::numeric),
                       ('won_last_180d', h.won_last_180d, s.won_recent), ('won_previous_180d', h.won_previous_180d, s.won_before),
                       ('lost_last_180d', h.lost_last_180d, s.lost_recent::numeric),
                       ('score', h.score::numeric, s.score::numeric)) m(name, reported, recomputed)
 WHERE m.reported IS DISTINCT FROM m.recomputed
UNION ALL
SELECT 'account_health.csv', h.account, 'band, risk, trend, recommendations',
       concat_ws(' | ', h.band, h.risk_level, h.trend, h.recommendations),
       concat_ws(' | ', s.band, s.risk_level, s.trend, array_to_string(s.recommendations, '; '))
  FROM account_health h JOIN health_scores s ON s.account_id = h.account_id AND s.on_date = h.scored_on
 WHERE (h.band, h.risk_level, h.trend, coalesce(h.recommendations, ''))
       IS DISTINCT FROM (s.band, s.risk_level, s.trend, array_to_string(s.recommendations, '; '))
UNION ALL
SELECT 'account_health.csv', a.name, 'a snapshot of today', 'none', 'one per account'
  FROM accounts a, p WHERE a.tenant = p.acme AND NOT EXISTS (SELECT 1 FROM health_inputs h WHERE h.account_id = a.account_id)
UNION ALL
SELECT 'lead_scores', 'the scoring model', 'engagement rules', 'present', 'not recomputed'
 WHERE EXISTS (SELECT 1 FROM scoring_rules WHERE match = 'engagement');
COMMENT ON VIEW factor_differences IS 'Every rule''s points (lead_score_parts.csv), stored score, win count (lead_win_counts.csv) and health factor (account_health.csv) that is not what the recomputation gives.';

\echo '== figures that are not what the CSV files give'
SELECT * FROM differences ORDER BY table_name, row_key, column_name;
\echo '== figures.csv against the report as printed'
SELECT * FROM misprints ORDER BY table_no, row_no, column_no;
\echo '== crm''s factor breakdowns and stored scores against the recomputation'
SELECT * FROM factor_differences ORDER BY source, what, item;

-- 4. the check itself: one cell of every table made wrong, in turn (in figures.csv and the report alike,
-- then in the report alone), must show as a difference, then as a misprint
SET client_min_messages = notice;
DO $$
DECLARE
    c record;
    n bigint;
    m bigint;
    tables integer := 0;
BEGIN
    FOR c IN SELECT DISTINCT ON (f.table_name) f.* FROM figures f WHERE f.row_no > 0
              ORDER BY f.table_name, f.value !~ '^-?[0-9]+(\.[0-9]+)?$', f.row_no, f.column_name LOOP
        tables := tables + 1;
        BEGIN
            UPDATE figures SET value = CASE WHEN value ~ '^-?[0-9]+(\.[0-9]+)?$' THEN (value::numeric + 1)::text ELSE value || ' (wrong)' END
             WHERE table_no = c.table_no AND row_no = c.row_no AND column_no = c.column_no;
            UPDATE printed SET value = (SELECT f.value FROM figures f WHERE f.table_no = c.table_no AND f.row_no = c.row_no AND f.column_no = c.column_no)
             WHERE table_no = c.table_no AND row_no = c.row_no AND column_no = c.column_no;
            SELECT count(*) INTO n FROM differences;
            UPDATE printed SET value = c.value WHERE table_no = c.table_no AND row_no = c.row_no AND column_no = c.column_no;
            SELECT count(*) INTO m FROM misprints;
            RAISE EXCEPTION USING ERRCODE = 'P0T01', MESSAGE = n || ' ' || m;
        EXCEPTION WHEN SQLSTATE 'P0T01' THEN
            IF split_part(SQLERRM, ' ', 1)::bigint = 0 OR split_part(SQLERRM, ' ', 2)::bigint = 0 THEN
                RAISE EXCEPTION 'recheck: a wrong % (%, row %, %) went unnoticed: % differences, % misprints',
                    c.column_name, c.table_name, c.row_key, c.value, split_part(SQLERRM, ' ', 1), split_part(SQLERRM, ' ', 2);
            END IF;
        END;
    END LOOP;
    RAISE NOTICE 'recheck: a wrong figure in each of the % tables, in turn, was caught (as a difference and as a misprint)', tables;
END
$$;
SET client_min_messages = warning;

SELECT (SELECT count(*) FROM figures WHERE row_no > 0) AS figures, (SELECT count(DISTINCT table_name) FROM figures) AS tables,
       (SELECT count(*) FROM expected) AS recomputed, (SELECT count(*) FROM differences) AS differences,
       (SELECT count(*) FROM misprints) AS misprints, (SELECT count(*) FROM factor_differences) AS factor_differences \gset
\echo 'recheck:' :figures 'figures in' :tables 'tables,' :recomputed 'recomputed from the CSV files:' :differences 'differ,' :misprints 'misprinted,' :factor_differences 'factor differences'
SELECT CASE WHEN :differences + :misprints + :factor_differences > 0 OR :figures = 0 OR :figures <> :recomputed
            THEN fail('the figures are not all what the CSV files give (see above)') END \g /dev/null
