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

-- Each refresh in its own transaction, as the scheduler runs them (bench.compare would run them all in
-- one, where the members deleted and re-inserted by every full refresh pile up as dead rows for the
-- others to step over): three full refreshes from an empty, vacuumed membership, three refreshes with
-- nothing changed; medians.
CREATE TEMP TABLE seg_times (kind text, ms double precision);
SELECT format('DELETE FROM crm.segment_members WHERE tenant_id = %L', :'st') AS clear_sql \gset
-- full refreshes
:clear_sql;
VACUUM crm.segment_members;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'full', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
:clear_sql;
VACUUM crm.segment_members;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'full', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
:clear_sql;
VACUUM crm.segment_members;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'full', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
VACUUM ANALYZE crm.segment_members;
-- refreshes with nothing changed
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'same', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'same', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT crm.refresh_segments(:'st') \g /dev/null
INSERT INTO seg_times SELECT 'same', (extract(epoch FROM clock_timestamp()) - :t0) * 1000;
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
SELECT format('segments: 10 dynamic segments over %s accounts', :segment_accounts), 'refresh with nothing changed',
       'the first, full refresh (empty membership)',
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM seg_times WHERE kind = 'same'),
       (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) FROM seg_times WHERE kind = 'full'), 3,
       '>= 10x faster (ratio <= 0.1)',
       format('%s members in the 10 segments; each refresh its own transaction',
              (SELECT sum(member_count) FROM crm.segments WHERE tenant_id = :'st'));
