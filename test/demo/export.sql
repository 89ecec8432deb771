-- export.sql: the rows behind the figures of report.sql, as CSV files with a header line, written into
-- the directory of the psql variable demo_out (no spaces in it: \g takes it as it is) by the operator,
-- who reads every row, inside report.sql's transaction: the same snapshot and the same now() as the figures.
-- Both demo tenants; a column "tenant" names each row's tenant. Times are UTC, without an offset
-- (2026-12-03 08:42:57.629009); true and false are spelt out. test/demo/recheck.sql reads them back.
-- (report.sql includes this file with \ir; it is not meant to run alone.)

CREATE TEMP TABLE demo_tenants AS
SELECT t.id, t.name FROM crm.tenants t WHERE t.id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid);
COMMENT ON TABLE pg_temp.demo_tenants IS 'The demo''s two tenants, whose rows export.sql writes.';

-- when the figures were computed: the report's one transaction
COPY (SELECT (now() AT TIME ZONE 'UTC') AS as_of, current_date AS today) TO STDOUT (FORMAT csv, HEADER) \g :demo_out/as_of.csv

COPY (SELECT d.name AS tenant, t.id AS tenant_id, t.settings->>'currency' AS currency, t.settings->>'sharing' AS sharing,
             t.settings->>'qualification_threshold' AS qualification_threshold,
             t.settings->>'win_model_min_history' AS win_model_min_history,
             coalesce(t.settings->'health_weights'->>'engagement', '0') AS weight_engagement,
             coalesce(t.settings->'health_weights'->>'activity', '0') AS weight_activity,
             coalesce(t.settings->'health_weights'->>'satisfaction', '0') AS weight_satisfaction,
             coalesce(t.settings->'health_weights'->>'commercial', '0') AS weight_commercial
        FROM crm.tenants t JOIN demo_tenants d ON d.id = t.id ORDER BY d.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/tenants.csv

COPY (SELECT d.name AS tenant, m.id AS team_id, m.name AS team
        FROM crm.teams m JOIN demo_tenants d ON d.id = m.tenant_id ORDER BY d.name, m.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/teams.csv

COPY (SELECT d.name AS tenant, u.id AS user_id, u.name, u.email::text AS email, u.role::text AS role, m.name AS team,
             u.active::text AS active, u.db_role
        FROM crm.users u JOIN demo_tenants d ON d.id = u.tenant_id
        LEFT JOIN crm.teams m ON m.tenant_id = u.tenant_id AND m.id = u.team_id
       ORDER BY d.name, u.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/users.csv

COPY (SELECT d.name AS tenant, a.id AS account_id, a.name, a.industry, a.employee_count, a.annual_revenue, a.country,
             a.lifecycle_stage::text AS lifecycle_stage, a.owner_id, u.name AS owner, a.parent_account_id
        FROM crm.accounts a JOIN demo_tenants d ON d.id = a.tenant_id
        JOIN crm.users u ON u.tenant_id = a.tenant_id AND u.id = a.owner_id
       ORDER BY d.name, a.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/accounts.csv

COPY (SELECT d.name AS tenant, c.id AS contact_id, c.account_id, c.first_name || ' ' || c.last_name AS name, c.owner_id
        FROM crm.contacts c JOIN demo_tenants d ON d.id = c.tenant_id ORDER BY d.name, c.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/contacts.csv

COPY (SELECT d.name AS tenant, l.id AS lead_id, l.first_name || ' ' || l.last_name AS lead, l.company, l.title, l.status::text AS status,
             l.source::text AS source, l.industry, l.country, l.employee_count, l.annual_revenue, l.budget,
             l.purchase_timeline::text AS purchase_timeline, l.is_decision_maker::text AS is_decision_maker,
             l.score, l.grade, l.owner_id, u.name AS owner, l.campaign_id, l.created_at AT TIME ZONE 'UTC' AS created_at,
             l.converted_at AT TIME ZONE 'UTC' AS converted_at, l.converted_opportunity_id, l.converted_contact_id,
             l.qualified_at AT TIME ZONE 'UTC' AS qualified_at, l.score_dropped_at AT TIME ZONE 'UTC' AS score_dropped_at
        FROM crm.leads l JOIN demo_tenants d ON d.id = l.tenant_id
        JOIN crm.users u ON u.tenant_id = l.tenant_id AND u.id = l.owner_id
       ORDER BY d.name, l.created_at, l.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/leads.csv

-- The active scoring model, one row per way a rule gives points: a range (min / above / max / below), a
-- value of an "in" list (and its "else"), a value of a "values" map, an "equals"; then the caps.
COPY (WITH m AS (SELECT d.name AS tenant, s.rules FROM crm.scoring_models s JOIN demo_tenants d ON d.id = s.tenant_id WHERE s.is_active),
      r AS (SELECT m.tenant, m.rules, f.value AS rule, f.n AS rule_no FROM m, jsonb_array_elements(m.rules->'fit') WITH ORDINALITY f(value, n))
      SELECT x.* FROM (
        SELECT r.tenant, r.rule_no, r.rule->>'name' AS rule, r.rule->>'reason' AS reason, coalesce(r.rule->>'group', r.rule->>'name') AS rule_group,
               r.rule->>'field' AS field, g.n AS option_no, 'range' AS match, g.value->>'min' AS min, g.value->>'above' AS above,
               g.value->>'max' AS max, g.value->>'below' AS below, NULL AS value, (g.value->>'points')::int AS points
          FROM r, jsonb_array_elements(r.rule->'ranges') WITH ORDINALITY g(value, n)
        UNION ALL
        SELECT r.tenant, r.rule_no, r.rule->>'name', r.rule->>'reason', coalesce(r.rule->>'group', r.rule->>'name'), r.rule->>'field', g.n,
               'in', NULL, NULL, NULL, NULL, g.value, (r.rule->>'points')::int
          FROM r, jsonb_array_elements_text(r.rule->'in') WITH ORDINALITY g(value, n)
        UNION ALL
        SELECT r.tenant, r.rule_no, r.rule->>'name', r.rule->>'reason', coalesce(r.rule->>'group', r.rule->>'name'), r.rule->>'field', NULL,
               'else', NULL, NULL, NULL, NULL, NULL, coalesce((r.rule->>'else')::int, 0)
          FROM r WHERE r.rule ? 'in'
        UNION ALL
        SELECT r.tenant, r.rule_no, r.rule->>'name', r.rule->>'reason', coalesce(r.rule->>'group', r.rule->>'name'), r.rule->>'field', NULL,
               'value', NULL, NULL, NULL, NULL, g.key, g.value::int
          FROM r, jsonb_each_text(r.rule->'values') g
        UNION ALL
        SELECT r.tenant, r.rule_no, r.rule->>'name', r.rule->>'reason', coalesce(r.rule->>'group', r.rule->>'name'), r.rule->>'field', NULL,
               'equals', NULL, NULL, NULL, NULL, r.rule->>'equals', (r.rule->>'points')::int
          FROM r WHERE r.rule ? 'equals'
        UNION ALL
        SELECT m.tenant, NULL, NULL, NULL, c.key, NULL, NULL, 'group_cap', NULL, NULL, NULL, NULL, NULL, c.value::int
          FROM m, jsonb_each_text(coalesce(m.rules->'caps', '{}')) c
        UNION ALL
        SELECT m.tenant, NULL, NULL, NULL, NULL, NULL, NULL, 'total_cap', NULL, NULL, NULL, NULL, NULL, coalesce((m.rules->>'total_cap')::int, 100)
          FROM m
        UNION ALL
        -- engagement rules are not flattened: listed so that a check sees they exist
        SELECT m.tenant, NULL, e.value->>'name', e.value->>'reason', NULL, NULL, NULL, 'engagement', NULL, NULL, NULL, NULL, e.value::text, NULL
          FROM m, jsonb_array_elements(coalesce(m.rules->'engagement', '[]')) e) x
      ORDER BY x.tenant, x.rule_no NULLS LAST, x.match = 'else', x.option_no, x.value)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/scoring_rules.csv

-- What crm.explain_lead_score reports for each open lead: the points of each rule. (The leads are read
-- first: on Citus a function given a row of a query over crm.leads would be sent to the shard, where the
-- row is of the shard's type.)
CREATE TEMP TABLE demo_open_leads AS SELECT * FROM crm.leads WHERE status IN ('new', 'contacted', 'qualified');
COPY (SELECT d.name AS tenant, l.id AS lead_id, l.first_name || ' ' || l.last_name AS lead, r.n AS rule_no, r.value->>'rule' AS rule,
             r.value->>'field' AS field, r.value->>'value' AS value, (r.value->>'points')::int AS points
        FROM demo_open_leads l JOIN demo_tenants d ON d.id = l.tenant_id,
             jsonb_array_elements(crm.explain_lead_score(ROW(l.*)::crm.leads)->'rules') WITH ORDINALITY r(value, n)
       WHERE l.status IN ('new', 'contacted', 'qualified')
       ORDER BY d.name, l.id, r.n)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/lead_score_parts.csv

-- The counts crm keeps for the win probability (crm.lead_win_counts), to set against a recount.
COPY (SELECT d.name AS tenant, c.field, c.value, c.won, c.lost
        FROM crm.lead_win_counts c JOIN demo_tenants d ON d.id = c.tenant_id ORDER BY d.name, c.field, c.value)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/lead_win_counts.csv

COPY (SELECT d.name AS tenant, p.name AS pipeline, p.is_default::text AS is_default, s.position, s.name AS stage, s.probability,
             s.forecast_category::text AS forecast_category, s.is_won::text AS is_won, s.is_lost::text AS is_lost
        FROM crm.pipeline_stages s JOIN demo_tenants d ON d.id = s.tenant_id
        JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
       ORDER BY d.name, p.name, s.position)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/pipeline_stages.csv

COPY (SELECT d.name AS tenant, o.id AS opportunity_id, o.name, o.account_id, o.contact_id, o.lead_id, o.owner_id, u.name AS owner,
             p.name AS pipeline, s.name AS stage, s.is_won::text AS is_won, s.is_lost::text AS is_lost, o.amount, o.currency, o.probability, o.forecast_category::text AS forecast_category,
             o.expected_close_date, o.created_at AT TIME ZONE 'UTC' AS created_at,
             o.stage_changed_at AT TIME ZONE 'UTC' AS stage_changed_at, o.closed_at AT TIME ZONE 'UTC' AS closed_at
        FROM crm.opportunities o JOIN demo_tenants d ON d.id = o.tenant_id
        JOIN crm.pipelines p ON p.tenant_id = o.tenant_id AND p.id = o.pipeline_id
        JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
        JOIN crm.users u ON u.tenant_id = o.tenant_id AND u.id = o.owner_id
       ORDER BY d.name, o.created_at, o.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/opportunities.csv

-- history_id is time-ordered (uuid_v7): two moves at the same time are in the order of their ids
COPY (SELECT d.name AS tenant, h.id AS history_id, h.opportunity_id, p.name AS pipeline, f.name AS from_stage, s.name AS to_stage,
             h.changed_at AT TIME ZONE 'UTC' AS changed_at
        FROM crm.opportunity_stage_history h JOIN demo_tenants d ON d.id = h.tenant_id
        JOIN crm.pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.to_stage_id
        JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
        LEFT JOIN crm.pipeline_stages f ON f.tenant_id = h.tenant_id AND f.id = h.from_stage_id
       ORDER BY d.name, h.opportunity_id, h.changed_at, h.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/stage_history.csv

COPY (SELECT d.name AS tenant, q.user_id, u.name AS "user", q.team_id, m.name AS team, q.period, q.period_start, q.amount
        FROM crm.quotas q JOIN demo_tenants d ON d.id = q.tenant_id
        LEFT JOIN crm.users u ON u.tenant_id = q.tenant_id AND u.id = q.user_id
        LEFT JOIN crm.teams m ON m.tenant_id = q.tenant_id AND m.id = q.team_id
       ORDER BY d.name, q.period_start, u.name, m.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/quotas.csv

COPY (SELECT d.name AS tenant, v.id AS activity_id, v.type::text AS type, v.occurred_at AT TIME ZONE 'UTC' AS occurred_at,
             v.sentiment::text AS sentiment, v.account_id, v.contact_id, v.lead_id, v.opportunity_id, v.owner_id
        FROM crm.activities v JOIN demo_tenants d ON d.id = v.tenant_id ORDER BY d.name, v.occurred_at, v.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/activities.csv

COPY (SELECT d.name AS tenant, c.id AS case_id, c.account_id, c.contact_id, c.status::text AS status,
             c.opened_at AT TIME ZONE 'UTC' AS opened_at, c.satisfaction
        FROM crm.cases c JOIN demo_tenants d ON d.id = c.tenant_id ORDER BY d.name, c.opened_at, c.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/cases.csv

COPY (SELECT d.name AS tenant, r.id AS response_id, r.contact_id, r.account_id, r.score, r.responded_at AT TIME ZONE 'UTC' AS responded_at
        FROM crm.nps_responses r JOIN demo_tenants d ON d.id = r.tenant_id ORDER BY d.name, r.responded_at, r.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/nps_responses.csv

-- Every health snapshot, with the factors crm.health_factors reports (each measure's value and weight,
-- and the inputs shown) and the recommendations, joined with "; ".
COPY (SELECT d.name AS tenant, h.account_id, a.name AS account, h.scored_on, h.computed_at AT TIME ZONE 'UTC' AS computed_at,
             h.score, h.band, h.risk_level, h.trend,
             h.factors->'engagement'->>'value' AS engagement, h.factors->'engagement'->>'weight' AS engagement_weight,
             h.factors->'activity'->>'value' AS activity, h.factors->'activity'->>'weight' AS activity_weight,
             h.factors->'satisfaction'->>'value' AS satisfaction, h.factors->'satisfaction'->>'weight' AS satisfaction_weight,
             h.factors->'commercial'->>'value' AS commercial, h.factors->'commercial'->>'weight' AS commercial_weight,
             h.factors->'inputs'->>'activities_30d' AS activities_30d, h.factors->'inputs'->>'activities_90d' AS activities_90d,
             h.factors->'inputs'->>'days_since_last_activity' AS days_since_last_activity,
             h.factors->'inputs'->>'open_opportunities' AS open_opportunities, h.factors->'inputs'->>'csat' AS csat,
             h.factors->'inputs'->>'nps' AS nps, h.factors->'inputs'->>'open_cases' AS open_cases,
             h.factors->'inputs'->>'overdue_cases' AS overdue_cases, h.factors->'inputs'->>'won_last_180d' AS won_last_180d,
             h.factors->'inputs'->>'won_previous_180d' AS won_previous_180d, h.factors->'inputs'->>'lost_last_180d' AS lost_last_180d,
             array_to_string(h.recommendations, '; ') AS recommendations
        FROM crm.account_health h JOIN demo_tenants d ON d.id = h.tenant_id
        JOIN crm.accounts a ON a.tenant_id = h.tenant_id AND a.id = h.account_id
       ORDER BY d.name, a.name, h.scored_on)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/account_health.csv

COPY (SELECT d.name AS tenant, s.name AS segment, s.is_dynamic::text AS is_dynamic, s.criteria::text AS criteria, s.member_count
        FROM crm.segments s JOIN demo_tenants d ON d.id = s.tenant_id ORDER BY d.name, s.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/segments.csv

COPY (SELECT d.name AS tenant, s.name AS segment, m.account_id, a.name AS account
        FROM crm.segment_members m JOIN demo_tenants d ON d.id = m.tenant_id
        JOIN crm.segments s ON s.tenant_id = m.tenant_id AND s.id = m.segment_id
        JOIN crm.accounts a ON a.tenant_id = m.tenant_id AND a.id = m.account_id
       ORDER BY d.name, s.name, a.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/segment_members.csv

COPY (SELECT d.name AS tenant, c.id AS campaign_id, c.name, c.type::text AS type, c.status::text AS status, c.budget, c.spent, c.currency
        FROM crm.campaigns c JOIN demo_tenants d ON d.id = c.tenant_id ORDER BY d.name, c.name)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/campaigns.csv

COPY (SELECT d.name AS tenant, m.campaign_id, m.lead_id, m.contact_id, m.status::text AS status,
             m.responded_at AT TIME ZONE 'UTC' AS responded_at, m.created_at AT TIME ZONE 'UTC' AS created_at
        FROM crm.campaign_members m JOIN demo_tenants d ON d.id = m.tenant_id ORDER BY d.name, m.campaign_id, m.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/campaign_members.csv

COPY (SELECT d.name AS tenant, k.id AS task_id, k.type::text AS type, k.status::text AS status, k.title, k.lead_id, k.account_id,
             k.assignee_id
        FROM crm.tasks k JOIN demo_tenants d ON d.id = k.tenant_id ORDER BY d.name, k.created_at, k.id)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/tasks.csv

COPY (SELECT d.name AS tenant, j.job, j.status, j.started_at AT TIME ZONE 'UTC' AS started_at, j.processed, j.changed
        FROM crm.job_runs j JOIN demo_tenants d ON d.id = j.tenant_id ORDER BY d.name, j.started_at, j.job)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/job_runs.csv
