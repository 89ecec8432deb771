-- 30_router.sql (pgTAP, make test-citus): a tenant's requests are single-shard (router) queries; a query
-- across tenants (the operator's) still fans out and pushes its aggregate down.
\ir ../lib/preamble.psql
\ir lib.psql
\ir ../lib/become.psql

BEGIN;
SELECT plan(7);

-- Task Count of a query's plan (its first Citus node)
CREATE FUNCTION pg_temp.tasks(q text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF line ~ 'Task Count: ' THEN
            RETURN substring(line FROM 'Task Count: ([0-9]+)')::integer;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT is(pg_temp.tasks('SELECT * FROM crm_api.pipeline_stages ORDER BY position'), 1, 'a tenant''s list through crm_api is one task (a router query)');
SELECT is(pg_temp.tasks('SELECT s.name, count(*) FROM crm.segments s JOIN crm.segment_members m ON m.tenant_id = s.tenant_id AND m.segment_id = s.id GROUP BY s.name'), 1,
    '    and so is a join of two of its tables');
SELECT ok(pg_temp.plan_of('SELECT * FROM crm_api.pipeline_stages') ~ 'tenant_id = ''a0000000-0000-7000-8000-00000000000a''::uuid',
    '    the policy''s crm.current_tenant() was planned as the tenant''s id');
SELECT pg_temp.become('crm_admin', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b1', 'guc');
SELECT is(pg_temp.n($q$SELECT count(*) FROM crm.segments WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'$q$), 0::bigint,
    'another tenant''s context in the same session: the other tenant''s rows stay out of reach');
SELECT ok(pg_temp.plan_of('SELECT * FROM crm_api.pipeline_stages') ~ 'tenant_id = ''b0000000-0000-7000-8000-00000000000b''::uuid',
    '    and the same query is planned for the new tenant');

-- the operator, across tenants: one task per shard, partial aggregates on the workers
RESET ROLE;
SELECT crm.set_context(NULL, NULL);
SELECT ok(pg_temp.plan_of('SELECT tenant_id, count(*) FROM crm.pipeline_stages GROUP BY tenant_id') ~ 'Task Count: 32',
    'the operator''s query across every tenant runs on every shard (32 tasks)');

SELECT ok(pg_temp.verbose_plan_of('SELECT crm.pipeline_totals(stage_id, amount, probability, stage_changed_at) FROM crm.opportunities')
          ~ 'coord_combine_agg(.|\n)*Task Count: 32(.|\n)*worker_partial_agg\(''crm.pipeline_totals',
    'crm.pipeline_totals across every tenant pushes down as a partial aggregate (worker_partial_agg, combined on the coordinator)');

SELECT * FROM finish();
ROLLBACK;
