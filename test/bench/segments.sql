-- segments.sql: refreshing 10 dynamic segments over one tenant of SEGMENT_ACCOUNTS accounts (default
-- 1 000 000): a refresh with nothing changed against the first, full refresh (every member added):
-- target >= 10x faster, since a refresh writes only the difference. Issue 5.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\if :{?segment_accounts}
\else
\set segment_accounts 1000000
\endif
SELECT md5('crm bench:segments')::uuid AS st, md5('crm bench:segments:user')::uuid AS su \gset
SELECT NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = :'st') AS need_data \gset
\if :need_data
SELECT crm.create_tenant('Bench segments', '{}', :'st') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES (:'st', :'su', 'ops@segments.example', 'Ops', 'admin');
SET session_replication_role = replica;
INSERT INTO crm.accounts (tenant_id, name, industry, country, employee_count, annual_revenue, lifecycle_stage, owner_id)
SELECT :'st', 'Account ' || n, (ARRAY['software', 'fintech', 'retail', 'food', 'energy', 'health tech', NULL])[1 + n % 7],
       (ARRAY['US', 'DE', 'FR', 'GB', 'SE', 'BR', 'JP', 'IN'])[1 + (n / 7) % 8], ((n::bigint * 7919) % 5000)::int / (1 + n % 4),
       ((n::bigint * 104729) % 20000000), (enum_range(NULL::crm.lifecycle_stage))[1 + n % 4], :'su'
FROM generate_series(1, :segment_accounts) n;
RESET session_replication_role;
VACUUM ANALYZE crm.accounts;
-- six segments besides the four every tenant has
INSERT INTO crm.segments (tenant_id, name, criteria) VALUES
    (:'st', 'US software', '{"all": [{"field": "country", "op": "=", "value": "US"}, {"field": "industry", "op": "in", "value": ["software", "fintech"]}]}'),
    (:'st', 'Europe', '{"field": "country", "op": "in", "value": ["DE", "FR", "GB", "SE"]}'),
    (:'st', 'Mid-market', '{"field": "employee_count", "op": "between", "value": [200, 999]}'),
    (:'st', 'Big revenue', '{"field": "annual_revenue", "op": ">=", "value": 15000000}'),
    (:'st', 'Prospects abroad', '{"all": [{"field": "lifecycle_stage", "op": "=", "value": "prospect"}, {"not": {"field": "country", "op": "=", "value": "US"}}]}'),
    (:'st', 'Tech', '{"field": "industry", "op": "contains", "value": "tech"}');
\endif

BEGIN;
SELECT bench.compare(format('segments: 10 dynamic segments over %s accounts', :segment_accounts),
    'refresh with nothing changed', format('SELECT crm.refresh_segments(%L)', :'st'), '',
    'the first, full refresh', format('SELECT crm.refresh_segments(%L)', :'st'), format('DELETE FROM crm.segment_members WHERE tenant_id = %L', :'st'),
    '>= 10x faster (ratio <= 0.1)', reps => 3, warmup => 1);
UPDATE bench.results SET note = format('%s members in the 10 segments', (SELECT sum(member_count) FROM crm.segments WHERE tenant_id = :'st'))
WHERE seq = (SELECT max(seq) FROM bench.results);
COMMIT;
