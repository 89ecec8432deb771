-- data.sql: the benchmark data set: :tenants tenants and :rows users spread evenly over them (the main
-- table of the foundation issue), generated once per cluster. Later capabilities add their tables here.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

SELECT setseed(0.1);
SELECT count(crm.create_tenant(format('Bench tenant %s', t), '{}', md5('crm bench:tenant:' || t)::uuid)) AS tenants_created
FROM generate_series(1, :tenants) t
WHERE NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = md5('crm bench:tenant:' || t)::uuid) \gset

-- One team per tenant, users round-robin over the tenants (so each tenant's rows are spread through the
-- heap, as they are in a live multi-tenant table), 1 in 10 inactive.
INSERT INTO crm.teams (tenant_id, name)
SELECT md5('crm bench:tenant:' || t)::uuid, 'Sales' FROM generate_series(1, :tenants) t
ON CONFLICT DO NOTHING;

INSERT INTO crm.users (tenant_id, email, name, role, active)
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid,
       format('user%s@tenant%s.example', n, 1 + n % :tenants), format('User %s', n),
       (ARRAY['rep', 'rep', 'rep', 'rep', 'manager', 'admin'])[1 + n % 6]::crm.user_role,
       n % 10 <> 0
FROM generate_series(1, :rows) n;

-- Indexes freshly built, as a copy of the table would have them (test/bench/context.sql compares against one).
REINDEX TABLE crm.users;
VACUUM ANALYZE crm.tenants;
VACUUM ANALYZE crm.teams;
VACUUM ANALYZE crm.users;
SELECT format('bench data: %s tenants, %s users', (SELECT count(*) FROM crm.tenants), (SELECT count(*) FROM crm.users)) AS loaded;
