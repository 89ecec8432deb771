-- data.sql: the demo data set. Two tenants, generated from a fixed seed, the same on every run.
-- Ids are derived from names (md5), so a report, a bookmark or a psql session can name them.
-- Running it again replaces the two demo tenants (and everything they own) and nothing else.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
CREATE FUNCTION pg_temp.demo_id(label text) RETURNS uuid LANGUAGE sql IMMUTABLE AS
$$ SELECT md5('crm demo:' || label)::uuid $$;

DELETE FROM crm.tenants WHERE id IN (pg_temp.demo_id('tenant:acme'), pg_temp.demo_id('tenant:borealis'));

SELECT crm.create_tenant('Acme Robotics', '{"currency": "USD", "sharing": "public"}', pg_temp.demo_id('tenant:acme')) \gset
SELECT crm.create_tenant('Borealis Foods', '{"currency": "EUR", "sharing": "private", "qualification_threshold": 60}',
                         pg_temp.demo_id('tenant:borealis')) \gset

SELECT setseed(0.2026);

-- Teams: three per tenant
INSERT INTO crm.teams (tenant_id, id, name)
SELECT pg_temp.demo_id('tenant:' || t), pg_temp.demo_id(format('team:%s:%s', t, team)), team_name
FROM (VALUES ('acme', 1, 'Enterprise East'), ('acme', 2, 'Enterprise West'), ('acme', 3, 'Mid-Market'),
             ('borealis', 1, 'Retail Nordics'), ('borealis', 2, 'Retail DACH'), ('borealis', 3, 'Food Service'))
     AS v(t, team, team_name);

-- Users: an admin, a manager per team, and reps (Acme 14, Borealis 10), named from fixed lists by the seed
WITH first_names AS (SELECT array['Ada','Ben','Chloe','Dev','Elif','Farid','Greta','Hugo','Ines','Jonas','Kaia',
                                  'Liam','Maya','Noor','Oskar','Priya','Quinn','Rosa','Sami','Tove','Uma','Viktor',
                                  'Wen','Ximena','Yusuf','Zoe'] AS a),
     last_names AS (SELECT array['Andersson','Brennan','Costa','Dubois','Eriksen','Fischer','Garcia','Haddad',
                                 'Ito','Jensen','Kowalski','Lindqvist','Moreau','Novak','Okafor','Petrov','Quist',
                                 'Rossi','Schmidt','Tanaka','Usman','Varga','Weber','Yilmaz'] AS a),
     slots AS (
        SELECT 'acme' AS t, 'acme-robotics.example' AS domain, n,
               CASE WHEN n = 1 THEN 'admin' WHEN n <= 4 THEN 'manager' ELSE 'rep' END AS role,
               CASE WHEN n = 1 THEN NULL ELSE 1 + (n - 2) % 3 END AS team
        FROM generate_series(1, 18) n
        UNION ALL
        SELECT 'borealis', 'borealis-foods.example', n,
               CASE WHEN n = 1 THEN 'admin' WHEN n <= 4 THEN 'manager' ELSE 'rep' END,
               CASE WHEN n = 1 THEN NULL ELSE 1 + (n - 2) % 3 END
        FROM generate_series(1, 14) n),
     named AS (
        SELECT s.*, f.a[1 + floor(random() * array_length(f.a, 1))::int] AS first,
                    l.a[1 + floor(random() * array_length(l.a, 1))::int] AS last
        FROM (SELECT * FROM slots ORDER BY t, n) s, first_names f, last_names l)
INSERT INTO crm.users (tenant_id, id, email, name, role, team_id, active)
SELECT pg_temp.demo_id('tenant:' || t), pg_temp.demo_id(format('user:%s:%s', t, n)),
       lower(format('%s.%s%s@%s', first, last, n, domain)), first || ' ' || last, role::crm.user_role,
       CASE WHEN team IS NOT NULL THEN pg_temp.demo_id(format('team:%s:%s', t, team)) END,
       n % 9 <> 0
FROM named;
COMMIT;
