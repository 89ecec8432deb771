-- leads.sql: a page of 50 leads of one tenant, most recently changed first, exactly as PostgREST asks
-- for it (GET /leads?order=updated_at.desc&limit=50, a rep's token), against the same statement run
-- by the owner on the table with an explicit WHERE tenant_id (no view, no RLS). Issue 3.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;

SELECT md5('crm bench:tenant:42')::uuid AS tenant, md5('crm bench:user:42')::uuid AS user_id \gset
SELECT format('SELECT set_config(%L, %L, true), set_config(%L, %L, true), set_config(%L, %L, true)',
              'search_path', '"crm_api", "public"', 'role', 'crm_rep', 'request.jwt.claims',
              json_build_object('role', 'crm_rep', 'tenant_id', :'tenant', 'sub', :'user_id')) AS as_postgrest \gset
\set q_postgrest 'WITH pgrst_source AS (SELECT "crm_api"."leads".* FROM "crm_api"."leads" ORDER BY "crm_api"."leads"."updated_at" DESC LIMIT 50 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), ''[]'') AS body, nullif(current_setting(''response.headers'', true), '''') AS response_headers, nullif(current_setting(''response.status'', true), '''') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t'
SELECT format('WITH pgrst_source AS (SELECT l.tenant_id, l.id, l.first_name, l.last_name, l.email, l.phone, l.company, l.title, l.source, l.status, l.employee_count, l.industry, l.annual_revenue, l.budget, l.purchase_timeline, l.is_decision_maker, l.country, l.score, l.grade, l.scored_at, l.qualified_at, l.score_dropped_at, l.owner_id, l.converted_at, l.converted_account_id, l.converted_contact_id, l.converted_opportunity_id, l.lost_reason, l.campaign_id, l.custom, l.created_at, l.updated_at, l.search FROM crm.leads l WHERE l.tenant_id = %L ORDER BY l.updated_at DESC LIMIT 50 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), ''[]'') AS body, nullif(current_setting(''response.headers'', true), '''') AS response_headers, nullif(current_setting(''response.status'', true), '''') AS response_status FROM (SELECT * FROM pgrst_source) _postgrest_t', :'tenant') AS q_owner \gset

BEGIN;
SELECT bench.same_answer('leads page', :'q_postgrest', :'as_postgrest', :'q_owner', '');
SELECT bench.compare('leads: GET /leads?order=updated_at.desc&limit=50 (1 tenant of many)',
    'crm_rep via crm_api.leads, RLS, claims', :'q_postgrest', :'as_postgrest',
    'owner on crm.leads, explicit WHERE tenant_id', :'q_owner', '', 'median latency');
COMMIT;
