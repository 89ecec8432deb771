-- report.sql: what crm computes on the demo data, section by section, and the data to check it by hand.
--
-- The whole report is one transaction (one snapshot, one now() and one today, printed at the top, in
-- UTC). Before the figures, export.sql writes the rows they are computed from, as CSV files, into the
-- directory named by the psql variable demo_out (test/demo.sh sets it; default demo-data); above each
-- table a line says which files and which formula give its figures. Every printed table is also kept,
-- cell by cell, in figures.csv (figures.psql); test/demo_check.sh recomputes every figure from the CSV
-- files with plain SQL (test/demo/recheck.sql, no crm function) and compares.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '(none)'
SET client_min_messages = warning;
-- crm's days are UTC days; the report's "today" is too, wherever it runs
SET TIME ZONE 'UTC';
\ir ids.psql
\ir figures.psql
\if :{?demo_out}
\else
\set demo_out demo-data
\endif

-- One viewer: become its database role with its context (or the operator again, with none).
CREATE FUNCTION pg_temp.act_as(db_role text, tenant uuid, user_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF db_role IS NULL THEN
        PERFORM set_config('role', 'none', true);
        PERFORM crm.set_context(NULL, NULL);
    ELSE
        PERFORM set_config('role', db_role, true);
        PERFORM crm.set_context(tenant, user_id);
    END IF;
END
$$;
COMMENT ON FUNCTION pg_temp.act_as(text, uuid, uuid) IS 'Makes the rest of the transaction run as db_role with the context (tenant, user_id); with a NULL db_role, as the operator without a context.';

BEGIN ISOLATION LEVEL REPEATABLE READ;
-- (on Citus: the report's temporary functions and tables are this session's alone, nothing to send to the
-- workers; a placeholder setting on a single node)
SET LOCAL citus.enable_ddl_propagation = off;
-- (on Citus: the report reads every shard and later writes crm.users and crm.tenants, reference tables;
-- Citus allows that in one transaction only when its multi-shard statements run over one connection per
-- node, as an operator's transaction of that shape must: docs/design.md §9)
SET LOCAL citus.multi_shard_modify_mode = sequential;
SELECT now() AS as_of, current_date AS today, current_date - 365 AS year_ago,
       date_trunc('quarter', current_date)::date AS quarter_start \gset
\ir export.sql
\echo
\echo 'Every figure below is as of' :as_of '(UTC): today is' :today'.'
\echo 'The rows behind them are in' :demo_out '(CSV files with a header line; times in UTC); figures.csv holds'
\echo 'every printed figure (table, row, column, value). Each table says which files and formula give it;'
\echo 'test/demo_check.sh recomputes them all from the files, with plain SQL.'

\echo
\echo '== Tenants (as the operator, who bypasses row-level security)'
\echo '   from tenants.csv, teams.csv, users.csv: teams, users = rows of the tenant; active_users = users rows with active = true'
CREATE TEMP TABLE fig_tenants AS
SELECT t.name AS tenant, t.id AS tenant_id, t.settings->>'currency' AS currency, t.settings->>'sharing' AS sharing,
       (SELECT count(*) FROM crm.teams m WHERE m.tenant_id = t.id) AS teams,
       (SELECT count(*) FROM crm.users u WHERE u.tenant_id = t.id) AS users,
       (SELECT count(*) FROM crm.users u WHERE u.tenant_id = t.id AND u.active) AS active_users
FROM crm.tenants t
WHERE t.id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)
ORDER BY t.name;
TABLE fig_tenants ORDER BY ctid;
SELECT pg_temp.keep('tenants', ARRAY['tenant']) \g /dev/null

-- One viewer: become its database role with its context, count what it sees, become the operator again.
CREATE FUNCTION pg_temp.sees(label text, db_role text, tenant uuid, user_id uuid, via text)
RETURNS TABLE (viewer text, context_from text, current_tenant text, tenants_visible bigint, users_visible bigint,
               other_tenant_users bigint, teams_visible bigint, api_users_visible bigint, accounts_visible bigint,
               contacts_visible bigint, contacts_it_may_change bigint)
LANGUAGE plpgsql AS $$
DECLARE
    mine uuid;
BEGIN
    PERFORM set_config('role', db_role, true);
    IF via = 'GUC' THEN
        PERFORM crm.set_context(tenant, user_id);
    ELSIF via = 'JWT claims' THEN
        -- as PostgREST does it: the claims, then its db-pre-request, crm.pre_request (README, PostgREST)
        PERFORM set_config('request.jwt.claims',
            json_build_object('role', db_role, 'tenant_id', tenant, 'sub', user_id)::text, true);
        PERFORM crm.pre_request();
    END IF;
    mine := crm.current_tenant();
    RETURN QUERY SELECT label, via,
        coalesce((SELECT name FROM crm.tenants WHERE id = mine), '(none)'),
        (SELECT count(*) FROM crm.tenants),
        (SELECT count(*) FROM crm.users),
        (SELECT count(*) FROM crm.users u WHERE u.tenant_id IS DISTINCT FROM mine),
        (SELECT count(*) FROM crm.teams),
        (SELECT count(*) FROM crm_api.users),
        (SELECT count(*) FROM crm.accounts),
        (SELECT count(*) FROM crm_api.contacts),
        (SELECT count(*) FROM crm.contacts c WHERE c.owner_id = user_id OR crm.changes_all_records());
    PERFORM set_config('role', 'none', true), crm.set_context(NULL, NULL), set_config('request.jwt.claims', '', true);
END
$$;
COMMENT ON FUNCTION pg_temp.sees(text, text, uuid, uuid, text) IS 'What one viewer (a database role with a context from the GUCs, the JWT claims or nothing) counts of each table through row-level security.';

-- The viewers of the next sections (written to viewers.csv: the report's own parameters).
CREATE TEMP TABLE viewers (section text, n integer, viewer text, db_role text, tenant uuid, user_id uuid, context_from text);
COMMENT ON TABLE pg_temp.viewers IS 'Who the report looks through: per section, a label, the database role, the context''s tenant and user, and where the context comes from.';
INSERT INTO viewers VALUES
    ('sees', 1, 'Acme admin',        'crm_admin',   md5('crm demo:' || 'tenant:acme')::uuid,     md5('crm demo:' || 'user:acme:1')::uuid,     'GUC'),
    ('sees', 2, 'Acme manager',      'crm_manager', md5('crm demo:' || 'tenant:acme')::uuid,     md5('crm demo:' || 'user:acme:2')::uuid,     'GUC'),
    ('sees', 3, 'Acme rep',          'crm_rep',     md5('crm demo:' || 'tenant:acme')::uuid,     md5('crm demo:' || 'user:acme:5')::uuid,     'GUC'),
    ('sees', 4, 'Acme rep',          'crm_rep',     md5('crm demo:' || 'tenant:acme')::uuid,     md5('crm demo:' || 'user:acme:5')::uuid,     'JWT claims'),
    ('sees', 5, 'Borealis admin',    'crm_admin',   md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:borealis:1')::uuid, 'JWT claims'),
    ('sees', 6, 'Borealis rep',      'crm_rep',     md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:borealis:6')::uuid, 'GUC'),
    ('sees', 7, 'Borealis rep',      'crm_rep',     md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:borealis:6')::uuid, 'JWT claims'),
    ('sees', 8, 'A rep, no context', 'crm_rep',     NULL,                               NULL,                               'nothing'),
    ('rep_view', 1, 'Acme rep (public sharing)',      'crm_rep', md5('crm demo:' || 'tenant:acme')::uuid,     md5('crm demo:' || 'user:acme:5')::uuid,     'GUC'),
    ('rep_view', 2, 'Borealis rep (private sharing)', 'crm_rep', md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:borealis:6')::uuid, 'GUC');
COPY (SELECT v.section, v.n, v.viewer, v.db_role, d.name AS tenant, v.user_id, v.context_from
        FROM viewers v LEFT JOIN demo_tenants d ON d.id = v.tenant ORDER BY v.section DESC, v.n)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/viewers.csv

\echo
\echo '== What each user sees (crm tables and crm_api views, through row-level security)'
\echo '   Acme shares records tenant-wide (sharing public); Borealis is private: a rep sees only what it owns.'
\echo '   from viewers.csv (section sees), tenants.csv, users.csv, teams.csv, accounts.csv, contacts.csv: a viewer with a context'
\echo '   sees its tenant''s rows only (1 tenant; other_tenant_users 0); users, teams: all of its tenant''s; accounts, contacts:'
\echo '   all of them when its role (the weaker of db_role and its users.csv role) is manager or admin or the tenant''s sharing'
\echo '   is public, else those with owner_id = its user_id; contacts_it_may_change: of those, all for a manager or an admin,'
\echo '   else its own. Without a context: nothing (0).'
CREATE TEMP TABLE fig_sees AS
SELECT s.* FROM viewers v, LATERAL pg_temp.sees(v.viewer, v.db_role, v.tenant, v.user_id, v.context_from) s
WHERE v.section = 'sees' ORDER BY v.n;
TABLE fig_sees ORDER BY ctid;
SELECT pg_temp.keep('sees', ARRAY['viewer', 'context_from']) \g /dev/null

-- The CRM as a rep of each tenant sees it: Acme shares records, Borealis does not.
CREATE FUNCTION pg_temp.rep_view(label text, tenant uuid, user_id uuid)
RETURNS TABLE (viewer text, leads_new bigint, leads_working bigint, leads_converted bigint, leads_lost bigint,
               open_opportunities bigint, open_pipeline numeric, weighted_pipeline numeric, won numeric, currency text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'crm_rep', true), crm.set_context(tenant, user_id);
    RETURN QUERY
    SELECT label,
           count(*) FILTER (WHERE l.status = 'new'),
           count(*) FILTER (WHERE l.status IN ('contacted', 'qualified')),
           count(*) FILTER (WHERE l.status = 'converted'),
           count(*) FILTER (WHERE l.status IN ('lost', 'unqualified')),
           (SELECT count(*) FROM crm.opportunities o WHERE o.closed_at IS NULL),
           (SELECT coalesce(sum(o.amount), 0) FROM crm.opportunities o WHERE o.closed_at IS NULL),
           (SELECT coalesce(round(sum(o.amount * o.probability / 100.0), 2), 0) FROM crm.opportunities o WHERE o.closed_at IS NULL),
           (SELECT coalesce(sum(o.amount), 0) FROM crm.opportunities o WHERE o.forecast_category = 'closed'),
           crm.tenant_currency()::text
    FROM crm.leads l;
    PERFORM set_config('role', 'none', true), crm.set_context(NULL, NULL);
END
$$;
COMMENT ON FUNCTION pg_temp.rep_view(text, uuid, uuid) IS 'A rep''s counts of leads by status and of open and won deals, through row-level security.';

\echo
\echo '== The CRM through a rep''s eyes (leads and opportunities it may read)'
\echo '   from viewers.csv (section rep_view), leads.csv, opportunities.csv, tenants.csv: the rows of the rep''s tenant (only those'
\echo '   with owner_id = the rep''s user_id when sharing is private); leads counted by status: new; working = contacted or'
\echo '   qualified; converted; lost = lost or unqualified. Opportunities with no closed_at: count, sum of amount, sum of'
\echo '   amount x probability / 100 (2 decimals); won = sum of amount where forecast_category = closed'
CREATE TEMP TABLE fig_rep_view AS
SELECT r.* FROM viewers v, LATERAL pg_temp.rep_view(v.viewer, v.tenant, v.user_id) r WHERE v.section = 'rep_view' ORDER BY v.n;
TABLE fig_rep_view ORDER BY ctid;
SELECT pg_temp.keep('rep_view', ARRAY['viewer']) \g /dev/null

\echo
\echo '== Acme''s top 10 open leads (as its manager sees them): score, grade, chance to win, and why'
\echo '   (the win probability comes from the naive Bayes model of the tenant''s 300 decided past leads)'
\echo '   from leads.csv (Acme, status new, contacted or qualified), scoring_rules.csv, lead_score_parts.csv: each rule gives'
\echo '   the points of its first option that matches the lead''s field (a range: min <= x, above < x, x <= max, x < below;'
\echo '   in: the listed values, any case, else the else points for any other value; values: the value''s points; equals);'
\echo '   an empty field gives 0. score = the sum, each rule_group capped by its group_cap, at most total_cap; grade: A from'
\echo '   80, B from 60, C from 40, else D; top_reasons: the 3 rules that gave most (ties: in rule order), with their points.'
\echo '   win_pct from leads.csv and opportunities.csv: decided leads are won (converted, its opportunity at a won stage) or'
\echo '   lost (lost, or its opportunity lost); per field (source, industry in lower case, country, purchase_timeline,'
\echo '   decision_maker, company_size band 1-9/10-49/50-199/200-999/1000+, budget band under 5k/5k-25k/25k-100k/100k+)'
\echo '   weight = ln((won with the value + 1) / (won with the field + values of the field seen)) - the same for lost;'
\echo '   win_pct = 100 / (1 + exp(-(ln(won / lost) + sum of the lead''s weights))), 4 decimals (lead_win_counts.csv: the'
\echo '   counts); raises_win_chance: the first 2 fields of weight above 0.05, by the size of the weight.'
\echo '   Ranked by score, then win_pct (highest first), then lead_id.'
SELECT pg_temp.act_as('crm_manager', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:2')::uuid) \g /dev/null
-- (the manager's open leads read first, as the manager: on Citus a function given a row of a query over
-- crm.leads would be sent to the shard, where the row is of the shard's type)
CREATE TEMP TABLE top_lead_rows AS SELECT * FROM crm.leads WHERE status IN ('new', 'contacted', 'qualified');
CREATE TEMP TABLE fig_top_leads AS
SELECT l.first_name || ' ' || l.last_name AS lead, l.company, l.status, l.score, l.grade,
       crm.lead_win_probability(ROW(l.*)::crm.leads) AS win_pct,
       (SELECT string_agg(r, ', ') FROM jsonb_array_elements_text(crm.explain_lead_score(ROW(l.*)::crm.leads)->'top_reasons') r) AS top_reasons,
       (SELECT string_agg(f->>'field' || '=' || (f->>'value'), ', ')
          FROM (SELECT f FROM jsonb_array_elements(crm.explain_lead_win_probability(ROW(l.*)::crm.leads)->'fields') f
                 WHERE f->>'effect' = 'raises' LIMIT 2) x) AS raises_win_chance
FROM top_lead_rows l
ORDER BY l.score DESC, crm.lead_win_probability(ROW(l.*)::crm.leads) DESC, l.id
LIMIT 10;
TABLE fig_top_leads ORDER BY ctid;
\echo '   from leads.csv (Acme): qualified_leads = rows with status qualified and a qualified_at; flagged_for_review = rows with'
\echo '   a score_dropped_at; follow_up_tasks = tasks.csv rows of type follow_up with a lead_id; rescoring_runs = job_runs.csv'
\echo '   rows of job rescore_leads'
CREATE TEMP TABLE fig_lead_counts AS
SELECT count(*) FILTER (WHERE qualified_at IS NOT NULL AND status = 'qualified') AS qualified_leads,
       count(*) FILTER (WHERE score_dropped_at IS NOT NULL) AS flagged_for_review,
       (SELECT count(*) FROM crm.tasks t WHERE t.type = 'follow_up' AND t.lead_id IS NOT NULL) AS follow_up_tasks,
       (SELECT count(*) FROM crm.job_runs j WHERE j.job = 'rescore_leads') AS rescoring_runs
FROM crm.leads l;
TABLE fig_lead_counts ORDER BY ctid;
SELECT pg_temp.act_as(NULL, NULL, NULL) \g /dev/null
SELECT pg_temp.keep('top_leads'), pg_temp.keep('lead_counts') \g /dev/null

\echo
\echo '== Acme''s accounts at risk (today''s health snapshots, as its manager sees them): the 8 lowest and why'
\echo '   from account_health.csv (scored_on' :today'; computed_at is the time "now" of the inputs), activities.csv, contacts.csv,'
\echo '   opportunities.csv, cases.csv, nps_responses.csv, tenants.csv. An activity counts for its account_id, else its contact''s,'
\echo '   else its opportunity''s account. Inputs: activities of the 30 and 90 UTC days ending today, days since the last'
\echo '   (to computed_at), positive / negative / rated ones (90 days); open opportunities; cases opened by then: mean'
\echo '   satisfaction (csat), open or pending ones, those opened over 7 days ago (overdue); mean NPS score of the last 365 days;'
\echo '   won amount of the last 180 days and the 180 before, deals lost in the last 180. Measures (0-100, 2 decimals):'
\echo '   engagement = 0.4 volume + 0.4 recency + 0.2 sentiment (0.5 / 0.5 without rated ones), volume = 10 per activity of'
\echo '   30 days + 4 per other of 90 days (at most 100), recency = 100 x 2^(-days/30), sentiment = 50 + 50 x (positive -'
\echo '   negative) / rated; activity = 0.7 x 100 x 2^(-days/45) + 30 with an open opportunity; satisfaction = mean of'
\echo '   (csat - 1) x 25 and nps x 10 (75 without either) - 5 per open case - 10 per overdue one; commercial = 60 + 40 x'
\echo '   (recent - before) / before (within +-40; before 0: 100 if anything won lately, else 50) - 10 per lost deal. A'
\echo '   measure without data is left out. score = mean of the measures weighted by the tenant''s weight_* (rounded); band:'
\echo '   green from 75, yellow from 50, red; risk: low, medium, high from 25, critical; trend: against the previous snapshot'
\echo '   (more than 3 points), stable without one. The 8 red ones with the lowest score (then name).'
SELECT pg_temp.act_as('crm_manager', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:2')::uuid) \g /dev/null
CREATE TEMP TABLE fig_health_red AS
SELECT a.name AS account, h.score, h.band, h.risk_level, h.trend,
       (SELECT string_agg(m.key || ' ' || round((m.value->>'value')::numeric), ', ' ORDER BY (m.value->>'value')::numeric)
          FROM jsonb_each(h.factors - 'inputs') m WHERE m.value->>'value' IS NOT NULL) AS measures,
       array_to_string(h.recommendations[1:2], '; ') AS what_to_do
FROM crm.account_health h JOIN crm.accounts a ON a.tenant_id = h.tenant_id AND a.id = h.account_id
WHERE h.scored_on = current_date AND h.band = 'red'
ORDER BY h.score, a.name
LIMIT 8;
TABLE fig_health_red ORDER BY ctid;
\echo '   from account_health.csv (scored_on' :today'): accounts per band, as recomputed above'
CREATE TEMP TABLE fig_health_bands AS
SELECT band, count(*) AS accounts FROM crm.account_health WHERE scored_on = current_date GROUP BY band ORDER BY min(score) DESC;
TABLE fig_health_bands ORDER BY ctid;
\echo
\echo '== Acme''s segments and their sizes'
\echo '   from segments.csv, accounts.csv, account_health.csv, opportunities.csv: members = Acme accounts that meet the criteria:'
\echo '   health_band = today''s band (as recomputed above), employee_count, won_revenue_decile = 10 - the number of the 9'
\echo '   tenths (percentile_disc 0.1 ... 0.9 of the accounts'' won revenue, highest first) above the account''s won revenue'
\echo '   (sum of amount of its deals at a won stage; only accounts with some). segment_members.csv lists them.'
CREATE TEMP TABLE fig_segments AS
SELECT name, CASE WHEN is_dynamic THEN 'dynamic' ELSE 'static' END AS kind, member_count AS members, criteria::text AS criteria
FROM crm.segments ORDER BY name;
TABLE fig_segments ORDER BY ctid;
SELECT pg_temp.act_as(NULL, NULL, NULL) \g /dev/null
SELECT pg_temp.keep('health_red'), pg_temp.keep('health_bands', ARRAY['band']), pg_temp.keep('segments', ARRAY['name']) \g /dev/null

\echo
\echo '== Acme''s pipeline (crm.pipeline_summary, as its manager sees it): deals, amount and weighted amount per stage'
\echo '   from opportunities.csv (Acme, pipeline Sales) and pipeline_stages.csv: per stage, deals = count of rows; amount = sum'
\echo '   of amount; weighted = sum of amount x probability / 100; prob_pct = the stage''s probability; amount_bar: 30 x amount'
\echo '   / the largest; days_in_stage (open stages) = mean of the days from stage_changed_at to' :as_of', 1 decimal'
SELECT pg_temp.act_as('crm_manager', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:2')::uuid) \g /dev/null
CREATE TEMP TABLE fig_pipeline AS
SELECT p.position AS pos, p.stage, p.probability AS prob_pct, p.deal_count AS deals, p.amount, round(p.weighted_amount, 2) AS weighted,
       p.avg_days_in_stage AS days_in_stage,
       rpad(repeat('#', round(30 * p.amount / nullif(max(p.amount) OVER (), 0))::int), 30) AS amount_bar
FROM crm.pipeline_summary() p ORDER BY p.position;
TABLE fig_pipeline ORDER BY ctid;

\echo
\echo '== Acme''s forecast (crm.forecast): this quarter and the next three, with the open deals that are overdue, later or undated, in total and per rep'
\echo '   from opportunities.csv (Acme) and quotas.csv, today' :today': an open deal (no closed_at) counts once, by'
\echo '   expected_close_date: overdue (before today), the quarter holding it, later (after the last), no_close_date (none);'
\echo '   commit, best_case, pipeline, omitted = sum of amount by forecast_category (omitted: any other); closed_won = sum of'
\echo '   amount of the deals at a won stage closed in the quarter; weighted = closed_won + sum of amount x probability / 100'
\echo '   of the commit, best_case and pipeline deals; quota = sum of the users'' quotas of the quarter (period_start);'
\echo '   attainment_pct = 100 x closed_won / quota'
CREATE TEMP TABLE fig_forecast AS
SELECT f.bucket, f.period_start AS "from", f.period_end AS "to", f.closed_won, f.commit, f.best_case, f.pipeline, f.omitted, f.weighted,
       f.quota, f.attainment AS attainment_pct
FROM crm.forecast() f;
TABLE fig_forecast ORDER BY ctid;
\echo '   the same for this quarter alone, per owner (owner_id, owner): won_this_quarter = closed_won; open_pipeline = all its'
\echo '   open deals; overdue = those of them due before today; weighted = the sum of its rows'' weighted (each rounded to the'
\echo '   cent); quota and attainment_pct of this quarter. The 8 with the most weighted (then name).'
CREATE TEMP TABLE fig_forecast_reps AS
SELECT u.name AS rep, sum(f.closed_won) AS won_this_quarter,
       sum(f.commit + f.best_case + f.pipeline + f.omitted) AS open_pipeline,
       sum(f.commit + f.best_case + f.pipeline + f.omitted) FILTER (WHERE f.bucket = 'overdue') AS overdue,
       sum(f.weighted) AS weighted, max(f.quota) AS quota, max(f.attainment) AS attainment_pct
FROM crm.forecast(periods => 1, group_by => 'owner') f JOIN crm.users u ON u.id = f.group_key::uuid
GROUP BY u.name ORDER BY sum(f.weighted) DESC, u.name LIMIT 8;
TABLE fig_forecast_reps ORDER BY ctid;

\echo
\echo '== Acme''s sales over the last 12 months (crm.sales_metrics, crm.lead_source_analytics, crm.revenue_attribution)'
\echo '   every figure below covers the deals closed, and the leads created, from a year ago to today'
\echo '   from opportunities.csv and leads.csv (Acme), the UTC days' :year_ago 'to' :today': won_deals, lost_deals, won_amount,'
\echo '   average_deal_size (2 decimals) and sales_cycle_days (closed_at - created_at, 1 decimal) of the deals at a won or'
\echo '   lost stage closed then; open_deals, open_amount: no closed_at; win_rate = 100 x won / (won + lost); pipeline_velocity'
\echo '   = open_deals x win_rate / 100 x average_deal_size / sales_cycle_days (of the rounded figures); leads created then:'
\echo '   leads_converted (a converted_at), lead_conversion_rate, lead_to_customer_rate (its converted_opportunity_id won)'
CREATE TEMP TABLE fig_sales_metrics AS
SELECT key AS metric, (value #>> '{}')::numeric AS figure
FROM jsonb_each(crm.sales_metrics(current_date - 365, current_date) - 'stage_conversion')
WHERE key NOT IN ('from_date', 'to_date', 'owner_id', 'team_id') ORDER BY key;
TABLE fig_sales_metrics ORDER BY ctid;
\echo '   from stage_history.csv and pipeline_stages.csv: per open stage, entered = deals that entered it in the period (each'
\echo '   once); advanced = those of them with a later move (changed_at, then history_id) to a further stage that is not lost'
CREATE TEMP TABLE fig_stage_conversion AS
SELECT x->>'stage' AS stage, (x->>'entered')::int AS entered, (x->>'advanced')::int AS advanced,
       (x->>'conversion_rate')::numeric AS conversion_pct
FROM jsonb_array_elements(crm.sales_metrics(current_date - 365, current_date)->'stage_conversion') x;
TABLE fig_stage_conversion ORDER BY ctid;
\echo '   won revenue per lead source counts the deals converted from the leads created in the period;'
\echo '   attribution credits every deal won in the period to its touchpoints, whenever its leads came in'
\echo '   from leads.csv (Acme, created in the period), opportunities.csv, campaigns.csv: per source, leads, converted (a'
\echo '   converted_at), conversion_rate; won_revenue, average_deal_value: amounts of their converted_opportunity_id at a won'
\echo '   stage; cost_per_lead = mean over the source''s leads of their campaign''s spent / all leads.csv rows of that campaign'
CREATE TEMP TABLE fig_lead_sources AS
SELECT * FROM crm.lead_source_analytics(current_date - 365, current_date);
TABLE fig_lead_sources ORDER BY ctid;
\echo '   from opportunities.csv (won in the period), activities.csv, contacts.csv, leads.csv, campaign_members.csv, campaigns.csv:'
\echo '   a won deal''s touchpoints are the activities (up to its closed_at) logged against it, its contact, its account''s'
\echo '   contacts, its leads (lead_id, and those converted into it) or their converted contacts, and once each campaign that'
\echo '   reached those leads or contacts (not targeted or bounced; at responded_at, else created_at); oldest first, 40% to'
\echo '   the first, 40% to the last, 20% shared by the others (half each for two), in cents, the cents left over to the'
\echo '   largest fractions; unattributed: won deals without any. Per channel (activity or campaign type): count, sum.'
CREATE TEMP TABLE fig_attribution AS
SELECT coalesce(a.channel, a.touchpoint_type) AS channel, count(*) AS touchpoints, sum(a.credit) AS credited_revenue
FROM crm.revenue_attribution(current_date - 365, current_date, 'position_based') a
GROUP BY 1 ORDER BY sum(a.credit) DESC;
TABLE fig_attribution ORDER BY ctid;

\echo
\echo '== Acme''s dashboard (crm.dashboard, one call)'
\echo '   the dashboard''s figures cover all time (every deal and lead of the tenant), unlike the 12 months above'
\echo '   from opportunities.csv, leads.csv, accounts.csv, account_health.csv (Acme, all rows): total_customers = accounts with'
\echo '   lifecycle_stage customer; total_leads; conversion_rate = 100 x leads with status converted / leads; open_opportunities,'
\echo '   pipeline_value, weighted_pipeline_value (x probability / 100): no closed_at; win_rate = 100 x won / (won + lost) deals;'
\echo '   average_deal_size, sales_cycle_days (closed_at - created_at): won deals; at_risk_count = accounts whose latest band is red'
CREATE TEMP TABLE fig_dashboard AS
SELECT key AS figure, (value #>> '{}')::numeric AS value
FROM jsonb_each(crm.dashboard()) WHERE jsonb_typeof(value) = 'number' ORDER BY key;
TABLE fig_dashboard ORDER BY ctid;
\echo '   leads.csv (Acme): rows per source, most first'
CREATE TEMP TABLE fig_dashboard_sources AS
SELECT key AS source, value::int AS leads FROM jsonb_each(crm.dashboard()->'leads_by_source') ORDER BY value::int DESC;
TABLE fig_dashboard_sources ORDER BY ctid;
\echo '   opportunities.csv (Acme, no closed_at): the 5 largest amounts (then opportunity_id)'
CREATE TEMP TABLE fig_dashboard_top AS
SELECT o->>'name' AS top_opportunity, o->>'stage' AS stage, (o->>'probability')::int AS prob, (o->>'amount')::numeric AS amount
FROM jsonb_array_elements(crm.dashboard()->'top_opportunities') o;
TABLE fig_dashboard_top ORDER BY ctid;
\echo '   account_health.csv (Acme, latest snapshot of each account, band red): the lowest scores (then account_id)'
CREATE TEMP TABLE fig_dashboard_at_risk AS
SELECT a->>'name' AS at_risk_account, (a->>'health_score')::int AS health, a->>'health_trend' AS trend
FROM jsonb_array_elements(crm.dashboard()->'at_risk_accounts') a LIMIT 5;
TABLE fig_dashboard_at_risk ORDER BY ctid;
SELECT pg_temp.act_as(NULL, NULL, NULL) \g /dev/null
SELECT pg_temp.keep('pipeline', ARRAY['stage']), pg_temp.keep('forecast', ARRAY['bucket', 'from']), pg_temp.keep('forecast_reps'),
       pg_temp.keep('sales_metrics', ARRAY['metric']), pg_temp.keep('stage_conversion', ARRAY['stage']),
       pg_temp.keep('lead_sources', ARRAY['source']), pg_temp.keep('attribution', ARRAY['channel']),
       pg_temp.keep('dashboard', ARRAY['figure']), pg_temp.keep('dashboard_sources', ARRAY['source']),
       pg_temp.keep('dashboard_top'), pg_temp.keep('dashboard_at_risk') \g /dev/null

-- The attempts come last: on Citus, a write that an attempt makes and undoes still marks the shards it
-- touched as changed by the actor's role in this transaction, and Citus would refuse the operator's reads
-- of them afterwards.
-- One attempt on the other tenant: how many rows it touched, or the error it raised.
CREATE FUNCTION pg_temp.attempt(actor text, db_role text, tenant uuid, user_id uuid, what text, stmt text)
RETURNS TABLE (who text, attempt text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    st text;
    msg text;
BEGIN
    -- (the actor's context set before the block that undoes the statement: on Citus a context cannot be
    -- set inside a subtransaction)
    PERFORM set_config('role', db_role, true);
    PERFORM crm.set_context(tenant, user_id);
    BEGIN
        EXECUTE format('WITH w AS (%s RETURNING 1) SELECT count(*) FROM w', stmt) INTO n;
        outcome := format('%s rows changed', n);
        RAISE EXCEPTION 'undo' USING ERRCODE = 'P0DMO';   -- the demo changes nothing
    EXCEPTION
        WHEN SQLSTATE 'P0DMO' THEN NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            -- (on Citus an error names the shard, users_102010: the report names the table)
            outcome := format('refused, %s: %s', st, regexp_replace(msg, '"([a-z_]+)_[0-9]+"', '"\1"', 'g'));
    END;
    PERFORM set_config('role', 'none', true);
    PERFORM crm.set_context(NULL, NULL);
    who := actor;
    attempt := what;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION pg_temp.attempt(text, text, uuid, uuid, text, text) IS 'Runs one statement as an actor and undoes it: how many rows it changed, or the error that refused it.';

-- The attempts (written to attempts.csv: what each statement does, to what, of which tenant).
CREATE TEMP TABLE attempts (n integer, who text, db_role text, tenant uuid, user_id uuid, attempt text, kind text,
                            target_table text, target_tenant uuid, stmt text);
COMMENT ON TABLE pg_temp.attempts IS 'The statements the report tries on behalf of an actor: kind (update, delete, insert, move), the table and the tenant whose rows they aim at.';
INSERT INTO attempts VALUES
    (1, 'Acme admin', 'crm_admin', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:1')::uuid, 'rename every Borealis user', 'update',
     'users', md5('crm demo:' || 'tenant:borealis')::uuid, format('UPDATE crm.users SET name = %L WHERE tenant_id = %L', 'Hacked', md5('crm demo:' || 'tenant:borealis')::uuid)),
    (2, 'Acme admin', 'crm_admin', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:1')::uuid, 'delete Borealis teams via crm_api', 'delete',
     'teams', md5('crm demo:' || 'tenant:borealis')::uuid, format('DELETE FROM crm_api.teams WHERE tenant_id = %L', md5('crm demo:' || 'tenant:borealis')::uuid)),
    (3, 'Acme admin', 'crm_admin', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:1')::uuid, 'add a user to Borealis', 'insert',
     'users', md5('crm demo:' || 'tenant:borealis')::uuid, format('INSERT INTO crm.users (tenant_id, email, name) VALUES (%L, %L, %L)',
                                                         md5('crm demo:' || 'tenant:borealis')::uuid, 'mole@acme-robotics.example', 'Mole')),
    (4, 'Acme admin', 'crm_admin', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:1')::uuid, 'move an Acme user to Borealis', 'move',
     'users', md5('crm demo:' || 'tenant:borealis')::uuid, format('UPDATE crm.users SET tenant_id = %L WHERE id = %L',
                                                         md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:acme:5')::uuid)),
    (5, 'Acme admin', 'crm_admin', md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'user:acme:1')::uuid, 'rename its own tenant (allowed)', 'update',
     'tenants', md5('crm demo:' || 'tenant:acme')::uuid, format('UPDATE crm.tenants SET name = %L', 'Acme Robotics Inc')),
    (6, 'Borealis rep', 'crm_rep', md5('crm demo:' || 'tenant:borealis')::uuid, md5('crm demo:' || 'user:borealis:6')::uuid, 'add a team to its own tenant', 'insert',
     'teams', md5('crm demo:' || 'tenant:borealis')::uuid, format('INSERT INTO crm.teams (name) VALUES (%L)', 'Rogue'));
COPY (SELECT a.n, a.who, a.db_role, d.name AS actor_tenant, a.attempt, a.kind, a.target_table, t.name AS target_tenant, a.stmt AS statement
        FROM attempts a JOIN demo_tenants d ON d.id = a.tenant JOIN demo_tenants t ON t.id = a.target_tenant ORDER BY a.n)
  TO STDOUT (FORMAT csv, HEADER) \g :demo_out/attempts.csv

\echo
\echo '== Reaching into the other tenant (each attempt rolled back)'
\echo '   from attempts.csv, users.csv, teams.csv, tenants.csv: an update or delete changes the rows of target_table whose tenant'
\echo '   is target_tenant, none when that is not the actor''s tenant (they are invisible to it); a row written into another'
\echo '   tenant, or tenant configuration (users, teams) written by a rep, is refused with 42501 (a rule, not a sum)'
CREATE TEMP TABLE fig_attempts AS
SELECT x.* FROM attempts a, LATERAL pg_temp.attempt(a.who, a.db_role, a.tenant, a.user_id, a.attempt, a.stmt) x ORDER BY a.n;
TABLE fig_attempts ORDER BY ctid;
SELECT pg_temp.keep('attempts', ARRAY['who', 'attempt']) \g /dev/null

COPY (SELECT * FROM pg_temp.figures ORDER BY table_no, row_no, column_no) TO STDOUT (FORMAT csv, HEADER) \g :demo_out/figures.csv
COMMIT;
