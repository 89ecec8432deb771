-- data.sql: the benchmark data set: :tenants tenants, :rows users and :leads leads spread evenly over
-- them, generated once per cluster. Later capabilities add their tables here.
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

-- The bulk rows are loaded as a restore would load them: without crm's triggers (no audit entries,
-- no events for generated rows); the data is consistent by construction.
SET session_replication_role = replica;

-- One known rep per tenant (it owns the bench leads), then the bulk users.
INSERT INTO crm.users (tenant_id, id, email, name, role)
SELECT md5('crm bench:tenant:' || t)::uuid, md5('crm bench:user:' || t)::uuid, format('rep@tenant%s.example', t), 'Bench rep', 'rep'
FROM generate_series(1, :tenants) t;

INSERT INTO crm.users (tenant_id, email, name, role, active)
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid,
       format('user%s@tenant%s.example', n, 1 + n % :tenants), format('User %s', n),
       (ARRAY['rep', 'rep', 'rep', 'rep', 'manager', 'admin'])[1 + n % 6]::crm.user_role,
       n % 10 <> 0
FROM generate_series(1, :rows) n;

-- Leads: :leads of them over the tenants, round-robin, changed at spread-out times, scored and
-- qualified as the trigger would have done (crm.lead_score_fields is what crm.lead_score(l) runs on a scan).
INSERT INTO crm.leads (tenant_id, first_name, last_name, email, company, source, status, budget, employee_count, industry,
                       purchase_timeline, is_decision_maker, owner_id, created_at, updated_at, score, grade, scored_at, qualified_at)
SELECT g.tenant_id, g.first_name, g.last_name, g.email, g.company, g.source,
       -- new and contacted leads at the threshold were qualified by it, as the trigger does
       CASE WHEN s.score >= 70 AND g.status IN ('new', 'contacted') THEN 'qualified' ELSE g.status END,
       g.budget, g.employee_count, g.industry, g.purchase_timeline, g.is_decision_maker, g.owner_id, g.created_at, g.updated_at,
       s.score, crm.lead_grade(s.score), now(),
       CASE WHEN s.score >= 70 AND g.status IN ('new', 'contacted') OR g.status = 'qualified' THEN now() END
FROM (
SELECT md5('crm bench:tenant:' || (1 + n % :tenants))::uuid AS tenant_id, 'Lead', 'No. ' || n,
       format('lead%s@company%s.example', n, n % 5000), format('Company %s', n % 5000),
       (enum_range(NULL::crm.lead_source))[1 + n % 9], (ARRAY['new', 'contacted', 'qualified', 'unqualified'])[1 + n % 4]::crm.lead_status,
       CASE WHEN n % 11 = 0 THEN NULL ELSE ((n * 13) % 150) * 1000 END,
       CASE WHEN n % 7 = 0 THEN NULL ELSE (n * 37) % 3000 END,
       (ARRAY['software', 'retail', 'healthcare', 'energy', NULL, 'Technology', 'food', 'manufacturing'])[1 + n % 8],
       (enum_range(NULL::crm.purchase_timeline))[1 + n % 5], n % 3 = 0,
       md5('crm bench:user:' || (1 + n % :tenants))::uuid,
       timestamptz '2026-01-01' + (n % 300000) * interval '1 minute', timestamptz '2026-01-01' + ((n::bigint * 7919) % 500000) * interval '1 minute'
FROM generate_series(1, :leads) n) g (tenant_id, first_name, last_name, email, company, source, status, budget, employee_count, industry,
                                      purchase_timeline, is_decision_maker, owner_id, created_at, updated_at),
LATERAL (SELECT crm.lead_score_fields(g.tenant_id, g.employee_count, NULL, g.budget, g.industry, NULL, NULL, g.company, g.source,
                                      g.purchase_timeline, g.is_decision_maker, NULL) AS score) s;
RESET session_replication_role;

-- Indexes freshly built, as a copy of the table would have them (test/bench/context.sql compares against one).
REINDEX TABLE crm.users;
VACUUM ANALYZE crm.tenants;
VACUUM ANALYZE crm.teams;
VACUUM ANALYZE crm.users;
VACUUM ANALYZE crm.leads;
SELECT format('bench data: %s tenants, %s users, %s leads', (SELECT count(*) FROM crm.tenants), (SELECT count(*) FROM crm.users),
              (SELECT count(*) FROM crm.leads)) AS loaded;
