-- context.sql: what the request context costs (issue 2).
--   1. RLS: a tenant-scoped query through RLS with crm.current_tenant(), against the owner's same query
--      with an explicit WHERE tenant_id = '…'. Target <= 1.10x.
--   2. Claims: the same query with the context from request.jwt.claims against the GUC. Target <= 1.05x.
--   3. Beside it, the naive policy (current_setting('request.jwt.claims')::jsonb->>'tenant_id')::uuid
--      against ours, each on its own identical copy of the table.
--   4-5. The same with index scans disabled, so that the policy runs once per row of the whole table:
--      the per-row price of the C context function, against a constant and against the naive parse.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;

-- The naive policy against ours on two identical copies of crm.users (made once per cluster): the same
-- heap and index layout on both sides, so that the comparison measures the policy expression alone.
DO $$
DECLARE
    copy record;
BEGIN
    FOR copy IN SELECT * FROM (VALUES
        ('users_c', 'tenant_id = crm.current_tenant()'),
        ('users_naive', $p$tenant_id = (current_setting('request.jwt.claims')::jsonb->>'tenant_id')::uuid$p$)) v(name, policy)
    LOOP
        IF to_regclass('bench.' || copy.name) IS NULL THEN
            EXECUTE format('CREATE TABLE bench.%I AS SELECT * FROM crm.users ORDER BY tenant_id, id', copy.name);
            EXECUTE format('ALTER TABLE bench.%I ADD PRIMARY KEY (tenant_id, id)', copy.name);
            EXECUTE format('ALTER TABLE bench.%I ENABLE ROW LEVEL SECURITY', copy.name);
            EXECUTE format('ALTER TABLE bench.%I FORCE ROW LEVEL SECURITY', copy.name);
            EXECUTE format('CREATE POLICY tenant_read ON bench.%I FOR SELECT USING (%s)', copy.name, copy.policy);
            EXECUTE format('GRANT SELECT ON bench.%I TO crm_rep', copy.name);
        END IF;
    END LOOP;
    GRANT USAGE ON SCHEMA bench TO crm_rep;
END
$$;
VACUUM ANALYZE bench.users_c;
VACUUM ANALYZE bench.users_naive;

-- Tenant 42 of the bench data, a user of it, and the three ways of naming them.
SELECT md5('crm bench:tenant:42')::uuid AS tenant, md5('crm bench:user:42')::uuid AS user_id \gset
SELECT format('SELECT set_config(%L, %L, true), crm.set_context(%L, %L)', 'role', 'crm_rep', :'tenant', :'user_id') AS guc,
       format('SELECT set_config(%L, %L, true), set_config(%L, %L, true)', 'role', 'crm_rep', 'request.jwt.claims',
              json_build_object('role', 'crm_rep', 'tenant_id', :'tenant', 'sub', :'user_id', 'aud', 'crm')) AS claims,
       'SELECT set_config(''enable_indexscan'', ''off'', true), set_config(''enable_bitmapscan'', ''off'', true), '
       'set_config(''enable_indexonlyscan'', ''off'', true)' AS seqscan
\gset
\set q_rls 'SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active, max(email) AS last_email FROM crm.users'
SELECT format('SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active, max(email) AS last_email FROM crm.users WHERE tenant_id = %L', :'tenant') AS q_owner \gset
\set q_copy_c 'SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active, max(email) AS last_email FROM bench.users_c'
\set q_naive 'SELECT count(*) AS users, count(*) FILTER (WHERE active) AS active, max(email) AS last_email FROM bench.users_naive'

BEGIN;
-- Each comparison first checks that both sides return the same rows.
SELECT bench.same_answer('rls', :'q_rls', :'guc', :'q_owner', '');
SELECT bench.same_answer('claims', :'q_rls', :'claims', :'q_rls', :'guc');
SELECT bench.same_answer('naive', :'q_copy_c', :'claims', :'q_naive', :'claims');

SELECT bench.compare('context: RLS, tenant-scoped aggregate (index)',
    'crm_rep, RLS + crm.current_tenant() (GUC)', :'q_rls', :'guc',
    'owner, explicit WHERE tenant_id = const', :'q_owner', '', '<= 1.10');
SELECT bench.compare('context: claims vs GUC (index)',
    'crm_rep, context from request.jwt.claims', :'q_rls', :'claims',
    'crm_rep, context from crm.tenant_id GUC', :'q_rls', :'guc', '<= 1.05');
SELECT bench.compare('context: claims, C policy vs naive policy (index)',
    'crm_rep, crm.current_tenant() from claims (copy)', :'q_copy_c', :'claims',
    'crm_rep, naive (current_setting(claims)::jsonb->>tenant_id)::uuid (copy)', :'q_naive', :'claims');
SELECT bench.compare('context: RLS per row, seq scan of every row',
    'crm_rep, RLS + crm.current_tenant() per row', :'q_rls', :'guc' || ', ' || substr(:'seqscan', 8),
    'owner, explicit WHERE tenant_id = const', :'q_owner', :'seqscan');
SELECT bench.compare('context: claims per row, seq scan of every row',
    'crm_rep, crm.current_tenant() from claims (copy)', :'q_copy_c', :'claims' || ', ' || substr(:'seqscan', 8),
    'crm_rep, naive policy parsing the claims (copy)', :'q_naive', :'claims' || ', ' || substr(:'seqscan', 8));
COMMIT;
