-- report.sql: what crm computes on the demo data. This issue's section: tenant isolation.
-- Later capabilities add their sections to this file.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '(none)'
SET client_min_messages = warning;
\ir ids.psql

\echo
\echo '== Tenants (as the operator, who bypasses row-level security)'
SELECT t.name AS tenant, t.id AS tenant_id, t.settings->>'currency' AS currency, t.settings->>'sharing' AS sharing,
       (SELECT count(*) FROM crm.teams m WHERE m.tenant_id = t.id) AS teams,
       (SELECT count(*) FROM crm.users u WHERE u.tenant_id = t.id) AS users,
       (SELECT count(*) FROM crm.users u WHERE u.tenant_id = t.id AND u.active) AS active_users
FROM crm.tenants t
WHERE t.id IN (pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('tenant:borealis'))
ORDER BY t.name;

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
        PERFORM set_config('request.jwt.claims',
            json_build_object('role', db_role, 'tenant_id', tenant, 'sub', user_id)::text, true);
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

\echo
\echo '== What each user sees (crm tables and crm_api views, through row-level security)'
\echo '   Acme shares records tenant-wide (sharing public); Borealis is private: a rep sees only what it owns.'
BEGIN;
SELECT * FROM pg_temp.sees('Acme admin',      'crm_admin',   pg_temp.demo_id('tenant:acme'),     pg_temp.demo_id('user:acme:1'),     'GUC')
UNION ALL SELECT * FROM pg_temp.sees('Acme manager',    'crm_manager', pg_temp.demo_id('tenant:acme'),     pg_temp.demo_id('user:acme:2'),     'GUC')
UNION ALL SELECT * FROM pg_temp.sees('Acme rep',        'crm_rep',     pg_temp.demo_id('tenant:acme'),     pg_temp.demo_id('user:acme:5'),     'GUC')
UNION ALL SELECT * FROM pg_temp.sees('Acme rep',        'crm_rep',     pg_temp.demo_id('tenant:acme'),     pg_temp.demo_id('user:acme:5'),     'JWT claims')
UNION ALL SELECT * FROM pg_temp.sees('Borealis admin',  'crm_admin',   pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:borealis:1'), 'JWT claims')
UNION ALL SELECT * FROM pg_temp.sees('Borealis rep',    'crm_rep',     pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:borealis:6'), 'GUC')
UNION ALL SELECT * FROM pg_temp.sees('Borealis rep',    'crm_rep',     pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:borealis:6'), 'JWT claims')
UNION ALL SELECT * FROM pg_temp.sees('A rep, no context', 'crm_rep',   NULL, NULL, 'nothing');
COMMIT;

-- One attempt on the other tenant: how many rows it touched, or the error it raised.
CREATE FUNCTION pg_temp.attempt(actor text, db_role text, tenant uuid, user_id uuid, what text, stmt text)
RETURNS TABLE (who text, attempt text, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    st text;
    msg text;
BEGIN
    BEGIN
        PERFORM set_config('role', db_role, true);
        PERFORM crm.set_context(tenant, user_id);
        EXECUTE format('WITH w AS (%s RETURNING 1) SELECT count(*) FROM w', stmt) INTO n;
        outcome := format('%s rows changed', n);
        RAISE EXCEPTION 'undo' USING ERRCODE = 'P0DMO';   -- the demo changes nothing
    EXCEPTION
        WHEN SQLSTATE 'P0DMO' THEN NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            outcome := format('refused, %s: %s', st, msg);
    END;
    who := actor;
    attempt := what;
    RETURN NEXT;
END
$$;

\echo
\echo '== Reaching into the other tenant (each attempt rolled back)'
BEGIN;
SELECT * FROM pg_temp.attempt('Acme admin', 'crm_admin', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:1'),
    'rename every Borealis user', format('UPDATE crm.users SET name = %L WHERE tenant_id = %L', 'Hacked', pg_temp.demo_id('tenant:borealis')))
UNION ALL SELECT * FROM pg_temp.attempt('Acme admin', 'crm_admin', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:1'),
    'delete Borealis teams via crm_api', format('DELETE FROM crm_api.teams WHERE tenant_id = %L', pg_temp.demo_id('tenant:borealis')))
UNION ALL SELECT * FROM pg_temp.attempt('Acme admin', 'crm_admin', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:1'),
    'add a user to Borealis', format('INSERT INTO crm.users (tenant_id, email, name) VALUES (%L, %L, %L)',
                                     pg_temp.demo_id('tenant:borealis'), 'mole@acme-robotics.example', 'Mole'))
UNION ALL SELECT * FROM pg_temp.attempt('Acme admin', 'crm_admin', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:1'),
    'move an Acme user to Borealis', format('UPDATE crm.users SET tenant_id = %L WHERE id = %L',
                                            pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:acme:5')))
UNION ALL SELECT * FROM pg_temp.attempt('Acme admin', 'crm_admin', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:1'),
    'rename its own tenant (allowed)', format('UPDATE crm.tenants SET name = %L', 'Acme Robotics Inc'))
UNION ALL SELECT * FROM pg_temp.attempt('Borealis rep', 'crm_rep', pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:borealis:6'),
    'add a team to its own tenant', format('INSERT INTO crm.teams (name) VALUES (%L)', 'Rogue'));
COMMIT;

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

\echo
\echo '== The CRM through a rep''s eyes (leads and opportunities it may read)'
BEGIN;
SELECT * FROM pg_temp.rep_view('Acme rep (public sharing)', pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:5'))
UNION ALL SELECT * FROM pg_temp.rep_view('Borealis rep (private sharing)', pg_temp.demo_id('tenant:borealis'), pg_temp.demo_id('user:borealis:6'));
COMMIT;

\echo
\echo '== Acme''s top 10 open leads (as its manager sees them): score, grade, chance to win, and why'
\echo '   (the win probability comes from the naive Bayes model of the tenant''s 300 decided past leads)'
BEGIN;
SELECT set_config('role', 'crm_manager', true), crm.set_context(pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:2')) \g /dev/null
SELECT l.first_name || ' ' || l.last_name AS lead, l.company, l.status, l.score, l.grade,
       crm.lead_win_probability(l) AS win_pct,
       (SELECT string_agg(r, ', ') FROM jsonb_array_elements_text(crm.explain_lead_score(l)->'top_reasons') r) AS top_reasons,
       (SELECT string_agg(f->>'field' || '=' || (f->>'value'), ', ')
          FROM (SELECT f FROM jsonb_array_elements(crm.explain_lead_win_probability(l)->'fields') f
                 WHERE f->>'effect' = 'raises' LIMIT 2) x) AS raises_win_chance
FROM crm.leads l
WHERE l.status IN ('new', 'contacted', 'qualified')
ORDER BY l.score DESC, crm.lead_win_probability(l) DESC, l.id
LIMIT 10;
SELECT count(*) FILTER (WHERE qualified_at IS NOT NULL AND status = 'qualified') AS qualified_leads,
       count(*) FILTER (WHERE score_dropped_at IS NOT NULL) AS flagged_for_review,
       (SELECT count(*) FROM crm.tasks t WHERE t.type = 'follow_up' AND t.lead_id IS NOT NULL) AS follow_up_tasks,
       (SELECT count(*) FROM crm.job_runs j WHERE j.job = 'rescore_leads') AS rescoring_runs
FROM crm.leads l;
COMMIT;

\echo
\echo '== Acme''s accounts at risk (today''s health snapshots, as its manager sees them): the 8 lowest and why'
BEGIN;
SELECT set_config('role', 'crm_manager', true), crm.set_context(pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:2')) \g /dev/null
SELECT a.name AS account, h.score, h.band, h.risk_level, h.trend,
       (SELECT string_agg(m.key || ' ' || round((m.value->>'value')::numeric), ', ' ORDER BY (m.value->>'value')::numeric)
          FROM jsonb_each(h.factors - 'inputs') m WHERE m.value->>'value' IS NOT NULL) AS measures,
       array_to_string(h.recommendations[1:2], '; ') AS what_to_do
FROM crm.account_health h JOIN crm.accounts a ON a.tenant_id = h.tenant_id AND a.id = h.account_id
WHERE h.scored_on = current_date AND h.band = 'red'
ORDER BY h.score, a.name
LIMIT 8;
SELECT band, count(*) AS accounts FROM crm.account_health WHERE scored_on = current_date GROUP BY band ORDER BY min(score) DESC;
\echo
\echo '== Acme''s segments and their sizes'
SELECT name, CASE WHEN is_dynamic THEN 'dynamic' ELSE 'static' END AS kind, member_count AS members, criteria::text AS criteria
FROM crm.segments ORDER BY name;
COMMIT;

\echo
\echo '== Acme''s pipeline (crm.pipeline_summary, as its manager sees it): deals, amount and weighted amount per stage'
BEGIN;
SELECT set_config('role', 'crm_manager', true), crm.set_context(pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('user:acme:2')) \g /dev/null
SELECT p.position AS pos, p.stage, p.probability AS prob_pct, p.deal_count AS deals, p.amount, round(p.weighted_amount, 2) AS weighted,
       p.avg_days_in_stage AS days_in_stage,
       rpad(repeat('#', round(30 * p.amount / nullif(max(p.amount) OVER (), 0))::int), 30) AS amount_bar
FROM crm.pipeline_summary() p ORDER BY p.position;

\echo
\echo '== Acme''s forecast (crm.forecast): this quarter and the next three, with the open deals that are overdue, later or undated, in total and per rep'
SELECT f.bucket, f.period_start AS "from", f.period_end AS "to", f.closed_won, f.commit, f.best_case, f.pipeline, f.omitted, f.weighted,
       f.quota, f.attainment AS attainment_pct
FROM crm.forecast() f;
SELECT u.name AS rep, sum(f.closed_won) AS won_this_quarter,
       sum(f.commit + f.best_case + f.pipeline + f.omitted) AS open_pipeline,
       sum(f.commit + f.best_case + f.pipeline + f.omitted) FILTER (WHERE f.bucket = 'overdue') AS overdue,
       sum(f.weighted) AS weighted, max(f.quota) AS quota, max(f.attainment) AS attainment_pct
FROM crm.forecast(periods => 1, group_by => 'owner') f JOIN crm.users u ON u.id = f.group_key::uuid
GROUP BY u.name ORDER BY sum(f.weighted) DESC, u.name LIMIT 8;

\echo
\echo '== Acme''s sales over the last 12 months (crm.sales_metrics, crm.lead_source_analytics, crm.revenue_attribution)'
\echo '   every figure below covers the deals closed, and the leads created, from a year ago to today'
SELECT key AS metric, (value #>> '{}')::numeric AS figure
FROM jsonb_each(crm.sales_metrics(current_date - 365, current_date) - 'stage_conversion')
WHERE key NOT IN ('from_date', 'to_date', 'owner_id', 'team_id') ORDER BY key;
SELECT x->>'stage' AS stage, (x->>'entered')::int AS entered, (x->>'advanced')::int AS advanced,
       (x->>'conversion_rate')::numeric AS conversion_pct
FROM jsonb_array_elements(crm.sales_metrics(current_date - 365, current_date)->'stage_conversion') x;
\echo '   won revenue per lead source counts the deals converted from the leads created in the period;'
\echo '   attribution credits every deal won in the period to its touchpoints, whenever its leads came in'
SELECT * FROM crm.lead_source_analytics(current_date - 365, current_date);
SELECT coalesce(a.channel, a.touchpoint_type) AS channel, count(*) AS touchpoints, sum(a.credit) AS credited_revenue
FROM crm.revenue_attribution(current_date - 365, current_date, 'position_based') a
GROUP BY 1 ORDER BY sum(a.credit) DESC;

\echo
\echo '== Acme''s dashboard (crm.dashboard, one call)'
\echo '   the dashboard''s figures cover all time (every deal and lead of the tenant), unlike the 12 months above'
SELECT key AS figure, (value #>> '{}')::numeric AS value
FROM jsonb_each(crm.dashboard()) WHERE jsonb_typeof(value) = 'number' ORDER BY key;
SELECT key AS source, value::int AS leads FROM jsonb_each(crm.dashboard()->'leads_by_source') ORDER BY value::int DESC;
SELECT o->>'name' AS top_opportunity, o->>'stage' AS stage, (o->>'probability')::int AS prob, (o->>'amount')::numeric AS amount
FROM jsonb_array_elements(crm.dashboard()->'top_opportunities') o;
SELECT a->>'name' AS at_risk_account, (a->>'health_score')::int AS health, a->>'health_trend' AS trend
FROM jsonb_array_elements(crm.dashboard()->'at_risk_accounts') a LIMIT 5;
COMMIT;
