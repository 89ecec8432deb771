-- data.sql: the demo data set. Two tenants, generated from a fixed seed, the same on every run.
-- Ids are derived from names (md5), so a report, a bookmark or a psql session can name them.
-- Running it again replaces the two demo tenants (and everything they own) and nothing else.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

BEGIN;
-- The transaction's time, as a value: on Citus a now() in a query sent to a worker is the worker's
-- (a few milliseconds later), and day counts near a whole day would come out one lower.
SELECT now() AS t0 \gset
\ir ids.psql

DELETE FROM crm.tenants WHERE id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid);

SELECT crm.create_tenant('Acme Robotics', '{"currency": "USD", "sharing": "public"}', md5('crm demo:' || 'tenant:acme')::uuid) \gset
SELECT crm.create_tenant('Borealis Foods', '{"currency": "EUR", "sharing": "private", "qualification_threshold": 60}',
                         md5('crm demo:' || 'tenant:borealis')::uuid) \gset

SELECT setseed(0.2026);

-- Teams: three per tenant
INSERT INTO crm.teams (tenant_id, id, name)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('team:%s:%s', t, team)))::uuid, team_name
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
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('user:%s:%s', t, n)))::uuid,
       lower(format('%s.%s%s@%s', first, last, n, domain)), first || ' ' || last, role::crm.user_role,
       CASE WHEN team IS NOT NULL THEN md5('crm demo:' || (format('team:%s:%s', t, team)))::uuid END,
       n % 9 <> 0
FROM named;

-- Accounts: 40 per tenant, owned round-robin by the reps, some with a parent (a subsidiary of an
-- earlier account); names from fixed lists.
WITH words AS (SELECT array['Apex','Birch','Cobalt','Delta','Ember','Fjord','Granite','Harbor','Iris','Juniper',
                            'Keystone','Lumen','Meridian','Nimbus','Orchid','Pinnacle','Quarry','Redwood','Summit','Tidal'] AS first,
                      array['Systems','Logistics','Foods','Health','Labs','Retail','Energy','Capital','Media','Works'] AS second,
                      array['software','logistics','food','healthcare','biotech','retail','energy','finance','media','manufacturing'] AS industry,
                      array['US','GB','DE','FR','SE','NL','ES','IT','CA','AU'] AS country),
     slots AS (SELECT t, n FROM unnest(array['acme', 'borealis']) t, generate_series(1, 40) n)
INSERT INTO crm.accounts (tenant_id, id, name, domain, industry, employee_count, annual_revenue, country,
                          parent_account_id, lifecycle_stage, owner_id)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('account:%s:%s', t, n)))::uuid,
       -- names unique in the tenant: the first word repeats every 20 accounts, the second shifts then
       w.first[1 + (n * 7) % 20] || ' ' || w.second[1 + (n * 3 + (n - 1) / 20) % 10],
       lower(w.first[1 + (n * 7) % 20] || w.second[1 + (n * 3 + (n - 1) / 20) % 10]) || n || '.example',
       w.industry[1 + (n * 3) % 10],
       (10 + floor(random() * 5000))::int,
       round((100000 + random() * 50000000)::numeric, -3),
       w.country[1 + n % 10],
       CASE WHEN n > 30 THEN md5('crm demo:' || (format('account:%s:%s', t, n - 30)))::uuid END,
       (array['lead','prospect','customer','customer','churned'])[1 + n % 5]::crm.lifecycle_stage,
       md5('crm demo:' || (format('user:%s:%s', t, 5 + n % (CASE t WHEN 'acme' THEN 14 ELSE 10 END))))::uuid
FROM slots, words w
ORDER BY t, n;

-- Contacts: three per account, most with an email and a phone; a second address for some.
WITH first_names AS (SELECT array['Alex','Blair','Casey','Dana','Eli','Frankie','Gray','Harper','Indy','Jules',
                                  'Kit','Lane','Morgan','Noel','Oakley','Parker','Quinn','Reese','Sage','Taylor'] AS a),
     last_names AS (SELECT array['Adams','Berg','Chen','Diaz','Evans','Fox','Gupta','Hale','Ivanova','Jones',
                                 'Khan','Lopez','Meyer','Nguyen','Olsen','Park','Quinn','Reyes','Singh','Tran'] AS a),
     slots AS (SELECT t, a, k FROM unnest(array['acme', 'borealis']) t, generate_series(1, 40) a, generate_series(1, 3) k
               ORDER BY t, a, k),
     -- (materialized: the names are drawn in slot order whatever plan the insert gets, on Citus too)
     named AS MATERIALIZED (SELECT s.*, f.a[1 + floor(random() * 20)::int] AS first, l.a[1 + floor(random() * 20)::int] AS last
               FROM slots s, first_names f, last_names l)
INSERT INTO crm.contacts (tenant_id, id, account_id, first_name, last_name, title, email, phone, owner_id)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('contact:%s:%s:%s', t, a, k)))::uuid,
       md5('crm demo:' || (format('account:%s:%s', t, a)))::uuid, first, last,
       (array['CEO','CTO','VP Sales','Head of Operations','Buyer','Engineer'])[1 + (a + k) % 6],
       CASE WHEN (a + k) % 7 <> 0 THEN lower(format('%s.%s%s@%s', first, last, k, acc.domain)) END,
       CASE WHEN (a + k) % 4 <> 0 THEN format('+44 20 7946 %s', lpad(((a * 3 + k) % 10000)::text, 4, '0')) END,
       acc.owner_id
FROM named
-- (a join, not a subquery per row: Citus plans no correlated subquery over a distributed table)
JOIN crm.accounts acc ON acc.tenant_id = md5('crm demo:' || ('tenant:' || named.t))::uuid
                     AND acc.id = md5('crm demo:' || (format('account:%s:%s', named.t, named.a)))::uuid;
INSERT INTO crm.contact_emails (tenant_id, contact_id, email, type)
SELECT tenant_id, id, lower(first_name || '.' || last_name || '@mail.example'), 'personal'
FROM crm.contacts
WHERE tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid) AND email IS NOT NULL
  AND get_byte(uuid_send(id), 15) % 5 = 0
ON CONFLICT DO NOTHING;

-- Leads: 60 per tenant, from every source, in every open status.
WITH first_names AS (SELECT array['Ava','Bo','Cy','Di','Ed','Flo','Gus','Hal','Ida','Jo','Kai','Lou','Mo','Ned','Ola','Pia'] AS a),
     companies AS (SELECT array['Northwind','Contoso','Fabrikam','Tailspin','Wingtip','Adatum','Litware','Proseware','Coho','Lucerne'] AS a),
     slots AS (SELECT t, n FROM unnest(array['acme', 'borealis']) t, generate_series(1, 60) n ORDER BY t, n),
     named AS (SELECT s.*, f.a[1 + floor(random() * 16)::int] AS first, c.a[1 + floor(random() * 10)::int] AS company,
                      random() AS r1, random() AS r2
               FROM slots s, first_names f, companies c)
INSERT INTO crm.leads (tenant_id, id, first_name, last_name, email, company, title, source, status, employee_count, industry,
                       budget, purchase_timeline, is_decision_maker, country, owner_id, lost_reason)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('lead:%s:%s', t, n)))::uuid, first, 'Lead' || n,
       lower(format('%s.lead%s@%s.example', first, n, company)), company,
       (array['CEO','CTO','Buyer','Engineer','Analyst'])[1 + n % 5],
       (enum_range(NULL::crm.lead_source))[1 + n % 9],
       (array['new','new','contacted','contacted','qualified','unqualified','lost'])[1 + n % 7]::crm.lead_status,
       (10 + floor(r1 * 2000))::int, (array['software','retail','food','energy','finance'])[1 + n % 5],
       round((r2 * 100000)::numeric, -2), (enum_range(NULL::crm.purchase_timeline))[1 + n % 5], n % 3 = 0,
       (array['US','GB','DE','SE','FR'])[1 + n % 5],
       md5('crm demo:' || (format('user:%s:%s', t, 5 + n % (CASE t WHEN 'acme' THEN 14 ELSE 10 END))))::uuid,
       CASE WHEN n % 7 = 6 THEN 'no budget this year' END
FROM named;

-- Products: five per tenant, in its currency.
-- (placed before the conversions below, which create opportunities)
INSERT INTO crm.products (tenant_id, id, name, sku, unit_price, currency)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('product:%s:%s', t, n)))::uuid,
       (array['Starter','Team','Business','Enterprise','Support'])[n], upper(t) || '-' || n,
       (array[49, 199, 499, 1999, 299])[n], CASE t WHEN 'acme' THEN 'USD' ELSE 'EUR' END
FROM unnest(array['acme', 'borealis']) t, generate_series(1, 5) n;

-- Opportunities: 30 per tenant, one per account, spread over the default pipeline's stages. Open deals
-- are expected to close over the coming quarters (three a little overdue, three with no date yet);
-- decided ones closed in the past.
-- (the amounts drawn first, in order, where the data is generated: on Citus a random() in a query joined
-- with a distributed table would be drawn on the workers, and every later draw would differ)
WITH draws AS MATERIALIZED (
    SELECT t, n, round((5000 + random() * 95000)::numeric, -2) AS amount
      FROM unnest(array['acme', 'borealis']) t CROSS JOIN generate_series(1, 30) n ORDER BY t, n)
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, amount, expected_close_date, owner_id, stage_id, lost_reason, created_at)
SELECT a.tenant_id, md5('crm demo:' || (format('opportunity:%s:%s', t, n)))::uuid, a.name || ': ' || (array['pilot','rollout','renewal','expansion'])[1 + n % 4],
       a.id, d.amount,
       CASE WHEN n % 6 IN (4, 5) THEN current_date - (3 + n % 25)
            WHEN n % 10 = 7 THEN NULL
            WHEN n % 10 = 3 THEN current_date - (5 + n % 20)
            ELSE current_date + (10 + (n * 37) % 330) END,
       a.owner_id,
       (SELECT s.id FROM crm.pipeline_stages s JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default
         WHERE s.tenant_id = a.tenant_id AND s.position = n % 6),
       CASE WHEN n % 6 = 5 THEN 'chose a competitor' END, :'t0'::timestamptz - (15 + n * 4) * interval '1 day'
FROM draws d
JOIN crm.accounts a ON a.tenant_id = md5('crm demo:' || ('tenant:' || d.t))::uuid AND a.id = md5('crm demo:' || (format('account:%s:%s', d.t, d.n)))::uuid
ORDER BY d.t, d.n;
INSERT INTO crm.opportunity_line_items (tenant_id, opportunity_id, product_id, quantity, discount)
SELECT o.tenant_id, o.id, md5('crm demo:' || (format('product:%s:%s', t, 1 + n % 5)))::uuid, 1 + n % 20, (n % 4) * 5
FROM unnest(array['acme', 'borealis']) t CROSS JOIN generate_series(1, 30, 3) n
JOIN crm.opportunities o ON o.tenant_id = md5('crm demo:' || ('tenant:' || t))::uuid AND o.id = md5('crm demo:' || (format('opportunity:%s:%s', t, n)))::uuid;

-- Their way through the pipeline: each deal moved stage by stage from prospecting to where it is (a lost
-- one from the stage it reached), a move every 6 to 20 days since it was created. The history its
-- insert recorded (one row, today) is replaced by those moves, and the deals' stage and close times
-- follow them: written as a migration would, without the triggers, so nothing else is derived twice.
SET LOCAL session_replication_role = replica;
DELETE FROM crm.opportunity_stage_history h
 WHERE h.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid);
CREATE TEMP TABLE demo_moves ON COMMIT DROP AS
WITH deals AS (
    SELECT o.tenant_id, o.id, o.created_at, o.owner_id, s.position AS at, s.pipeline_id,
           get_byte(uuid_send(o.id), 15) AS r
      FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id
     WHERE o.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)),
path AS (
    -- the positions visited: 0 .. at for an open or won deal; 0 .. the stage it reached, then 5, for a lost one
    SELECT d.*, k, CASE WHEN d.at = 5 AND k = 1 + d.r % 4 THEN 5 ELSE k END AS pos,
           count(*) OVER (PARTITION BY d.tenant_id, d.id) AS steps
      FROM deals d, generate_series(0, CASE WHEN d.at = 5 THEN 1 + d.r % 4 ELSE d.at END) k),
timed AS (
    SELECT p.*, p.created_at + sum(CASE WHEN p.k = 0 THEN 0 ELSE 6 + (p.r + p.k * 5) % 15 END)
                                 OVER (PARTITION BY p.tenant_id, p.id ORDER BY p.k) * interval '1 day' AS changed_at
      FROM path p)
SELECT x.tenant_id, x.id AS opportunity_id, x.k, s.id AS stage_id, x.owner_id, least(x.changed_at, :'t0'::timestamptz) AS changed_at
  FROM timed x JOIN crm.pipeline_stages s ON s.tenant_id = x.tenant_id AND s.pipeline_id = x.pipeline_id AND s.position = x.pos;
INSERT INTO crm.opportunity_stage_history (tenant_id, opportunity_id, from_stage_id, to_stage_id, changed_by, changed_at,
                                           reason, time_in_previous_stage)
SELECT m.tenant_id, m.opportunity_id, lag(m.stage_id) OVER w, m.stage_id, m.owner_id, m.changed_at,
       CASE WHEN m.k = 0 THEN 'created' END, m.changed_at - lag(m.changed_at) OVER w
  FROM demo_moves m
WINDOW w AS (PARTITION BY m.tenant_id, m.opportunity_id ORDER BY m.k)
ORDER BY m.tenant_id, m.opportunity_id, m.k;
UPDATE crm.opportunities o
   SET stage_changed_at = last.changed_at,
       closed_at = CASE WHEN o.closed_at IS NOT NULL THEN last.changed_at END
  FROM (SELECT DISTINCT ON (tenant_id, opportunity_id) tenant_id, opportunity_id, changed_at
          FROM demo_moves ORDER BY tenant_id, opportunity_id, k DESC) last
 WHERE o.tenant_id = last.tenant_id AND o.id = last.opportunity_id;
SET LOCAL session_replication_role = origin;

-- A few qualified leads were converted, by their owners (active users: an inactive one can do nothing),
-- through the action itself.
DO $convert$
DECLARE
    l record;
BEGIN
    FOR l IN SELECT tenant_id, id, owner_id
               FROM (SELECT x.*, row_number() OVER (PARTITION BY x.tenant_id ORDER BY x.id) AS rn FROM crm.leads x
                      WHERE x.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)
                        AND x.status = 'qualified'
                        AND EXISTS (SELECT 1 FROM crm.users u WHERE u.tenant_id = x.tenant_id AND u.id = x.owner_id AND u.active)) q
              WHERE rn <= 4 ORDER BY tenant_id, id
    LOOP
        PERFORM crm.set_context(l.tenant_id, l.owner_id);
        PERFORM crm.convert_lead(l.id);
    END LOOP;
    PERFORM crm.set_context(NULL, NULL);
END
$convert$;

-- Earlier years' leads, 300 per tenant, every one decided: imported the way a migration loads history (a
-- restore, without crm's triggers), won ones with their won opportunity. Whether a lead was won follows
-- a hidden propensity (deciding, buying soon, a target industry, a referral, a larger company) plus
-- chance, so the predictive model has something true to find. Then the model is rebuilt from them and
-- every lead rescored: the two jobs a DBA runs after such an import.
SET LOCAL session_replication_role = replica;
CREATE TEMP TABLE history ON COMMIT DROP AS
SELECT t, n, md5('crm demo:' || ('tenant:' || t))::uuid AS tenant_id, md5('crm demo:' || (format('history:%s:%s', t, n)))::uuid AS id,
       (enum_range(NULL::crm.lead_source))[1 + floor(random() * 9)::int] AS source,
       (array['software','retail','food','energy','finance'])[1 + floor(random() * 5)::int] AS industry,
       (enum_range(NULL::crm.purchase_timeline))[1 + floor(random() * 5)::int] AS purchase_timeline,
       random() < 0.4 AS is_decision_maker, (5 + floor(random() * 1500))::int AS employee_count,
       round((random() * 120000)::numeric, -2) AS budget, (array['US','GB','DE','SE','FR'])[1 + floor(random() * 5)::int] AS country,
       random() AS luck, 5 + floor(random() * 10)::int AS rep
FROM unnest(array['acme', 'borealis']) t, generate_series(1, 300) n ORDER BY t, n;
ALTER TABLE history ADD COLUMN won boolean;
UPDATE history SET won = luck < 1 / (1 + exp(-(-2.4 + 2.0 * is_decision_maker::int
                                               + 1.5 * (purchase_timeline IN ('immediate', 'this_quarter'))::int
                                               + 1.0 * (industry IN ('software', 'finance'))::int
                                               + 1.2 * (source IN ('referral', 'partner'))::int
                                               + 0.8 * (employee_count >= 200)::int)));
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, pipeline_id, stage_id, amount, currency, probability,
                               forecast_category, closed_at, stage_changed_at, owner_id, created_at)
SELECT h.tenant_id, md5('crm demo:' || (format('history-deal:%s:%s', h.t, h.n)))::uuid, format('Past deal %s', h.n),
       md5('crm demo:' || (format('account:%s:%s', h.t, 1 + h.n % 40)))::uuid, s.pipeline_id, s.id, h.budget,
       CASE h.t WHEN 'acme' THEN 'USD' ELSE 'EUR' END, 100, 'closed', TIMESTAMPTZ '2024-09-01' + h.n * interval '1 day',
       TIMESTAMPTZ '2024-09-01' + h.n * interval '1 day', md5('crm demo:' || (format('user:%s:%s', h.t, h.rep)))::uuid, TIMESTAMPTZ '2024-06-01'
FROM history h
JOIN crm.pipeline_stages s ON s.tenant_id = h.tenant_id AND s.name = 'closed_won'
JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id AND p.is_default
WHERE h.won;
INSERT INTO crm.leads (tenant_id, id, first_name, last_name, company, source, status, employee_count, industry, budget,
                       purchase_timeline, is_decision_maker, country, owner_id, lost_reason, converted_at, converted_account_id,
                       converted_opportunity_id, created_at)
SELECT h.tenant_id, h.id, 'Past', 'Lead' || h.n, format('Prospect %s', h.n), h.source,
       CASE WHEN h.won THEN 'converted' ELSE 'lost' END::crm.lead_status, h.employee_count, h.industry, h.budget,
       h.purchase_timeline, h.is_decision_maker, h.country, md5('crm demo:' || (format('user:%s:%s', h.t, h.rep)))::uuid,
       CASE WHEN NOT h.won THEN 'went quiet' END,
       CASE WHEN h.won THEN TIMESTAMPTZ '2024-08-01' + h.n * interval '1 day' END,
       CASE WHEN h.won THEN md5('crm demo:' || (format('account:%s:%s', h.t, 1 + h.n % 40)))::uuid END,
       CASE WHEN h.won THEN md5('crm demo:' || (format('history-deal:%s:%s', h.t, h.n)))::uuid END,
       TIMESTAMPTZ '2024-06-01' + h.n * interval '1 day'
FROM history h;
SET LOCAL session_replication_role = origin;
SELECT sum((crm.rebuild_win_model(md5('crm demo:' || ('tenant:' || t))::uuid)->>'changed')::bigint) AS counted,
       sum((crm.rescore_leads(md5('crm demo:' || ('tenant:' || t))::uuid)->>'changed')::bigint) AS rescored
FROM unnest(array['acme', 'borealis']) t \gset

-- The customer side of the last months: calls, emails and meetings with the accounts' contacts (more
-- with some accounts than with others, some long ago), support cases with their satisfaction, NPS
-- answers. Then the day's health snapshots and the segments, as the scheduled jobs would make them.
-- (ids from names too: attribution breaks a tie of two touches at the same time by id)
INSERT INTO crm.activities (tenant_id, id, type, direction, subject, occurred_at, sentiment, contact_id, owner_id)
SELECT c.tenant_id, md5('crm demo:activity:' || c.id::text || ':' || k::text)::uuid,
       (ARRAY['call', 'email', 'meeting']::crm.activity_type[])[1 + k % 3], 'outbound', 'Check-in',
       :'t0'::timestamptz - ((a.n % 6) * 9 + k * 2) * interval '1 day',
       (ARRAY['positive', 'positive', 'neutral', 'negative', NULL]::crm.sentiment[])[1 + (a.n + k) % 5], c.id, c.owner_id
FROM (SELECT x.*, row_number() OVER (PARTITION BY x.tenant_id ORDER BY x.id) AS n FROM crm.accounts x
       WHERE x.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)) a
JOIN LATERAL (SELECT y.* FROM crm.contacts y WHERE y.tenant_id = a.tenant_id AND y.account_id = a.id ORDER BY y.id LIMIT 1) c ON true
CROSS JOIN generate_series(1, 6) k
WHERE k <= 6 - a.n % 6;
INSERT INTO crm.cases (tenant_id, subject, account_id, assignee_id, opened_at, status, satisfaction, priority)
SELECT a.tenant_id, format('Case %s of %s', k, a.name), a.id, a.owner_id, :'t0'::timestamptz - (k * 9 + a.n % 5) * interval '1 day',
       CASE WHEN (a.n + k) % 3 = 0 THEN 'open' ELSE 'resolved' END::crm.case_status,
       CASE WHEN (a.n + k) % 3 <> 0 THEN 2 + (a.n * 7 + k) % 4 END, 'medium'
FROM (SELECT x.*, row_number() OVER (PARTITION BY x.tenant_id ORDER BY x.id) AS n FROM crm.accounts x
       WHERE x.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)) a
CROSS JOIN generate_series(1, 3) k
WHERE a.n % 4 = 0 OR k = 1 AND a.n % 3 = 0;
INSERT INTO crm.nps_responses (tenant_id, contact_id, score, responded_at)
SELECT c.tenant_id, c.id, (c.n * 7) % 11, :'t0'::timestamptz - (c.n % 90) * interval '1 day'
FROM (SELECT y.*, row_number() OVER (PARTITION BY y.tenant_id ORDER BY y.id) AS n FROM crm.contacts y
       WHERE y.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid)) c
WHERE c.n % 5 = 0;
-- Marketing and targets: two campaigns per tenant (a webinar and paid ads, with what they cost); a third
-- of the campaign leads came from them; the first contact of every account was reached by one of them
-- (as a touchpoint before its deals were won). Quarterly quotas for every rep, this quarter and the next
-- three. Then a first forecast snapshot, as the weekly job takes it.
INSERT INTO crm.campaigns (tenant_id, id, name, type, status, budget, spent, starts_on, ends_on, owner_id)
SELECT md5('crm demo:' || ('tenant:' || t))::uuid, md5('crm demo:' || (format('campaign:%s:%s', t, n)))::uuid,
       (ARRAY['Autumn webinar', 'Search ads'])[n], (ARRAY['webinar', 'paid_ads']::crm.campaign_type[])[n], 'active',
       (ARRAY[8000, 20000])[n], (ARRAY[6500, 18200])[n], current_date - 120, current_date + 30, md5('crm demo:' || (format('user:%s:2', t)))::uuid
FROM unnest(array['acme', 'borealis']) t, generate_series(1, 2) n;
-- (|| rather than format(): Citus takes no STABLE function over a column in an UPDATE)
UPDATE crm.leads l SET campaign_id = md5('crm demo:campaign:' || CASE WHEN l.tenant_id = md5('crm demo:tenant:acme')::uuid THEN 'acme' ELSE 'borealis' END
                                         || ':' || (1 + get_byte(uuid_send(l.id), 15) % 2)::text)::uuid
 WHERE l.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid) AND l.source IN ('campaign', 'email', 'social')
   AND get_byte(uuid_send(l.id), 14) % 3 = 0;
-- (created_at given: a default now() of a row inserted by a query sent to a worker is the worker's time,
-- a few milliseconds after the transaction's, and attribution compares it with the deals' close times)
INSERT INTO crm.campaign_members (tenant_id, campaign_id, lead_id, status, responded_at, created_at)
SELECT l.tenant_id, l.campaign_id, l.id, 'converted', l.created_at, :'t0'::timestamptz FROM crm.leads l WHERE l.campaign_id IS NOT NULL;
INSERT INTO crm.campaign_members (tenant_id, campaign_id, contact_id, status, responded_at, created_at)
SELECT c.tenant_id, md5('crm demo:' || (format('campaign:%s:%s', CASE WHEN c.tenant_id = md5('crm demo:tenant:acme')::uuid THEN 'acme' ELSE 'borealis' END, 1 + c.n % 2)))::uuid,
       c.id, CASE WHEN c.n % 3 = 0 THEN 'sent' ELSE 'responded' END::crm.campaign_member_status,
       CASE WHEN c.n % 3 <> 0 THEN :'t0'::timestamptz - (20 + c.n % 60) * interval '1 day' END, :'t0'::timestamptz
FROM (SELECT DISTINCT ON (y.tenant_id, y.account_id) y.*, dense_rank() OVER (PARTITION BY y.tenant_id ORDER BY y.account_id) AS n
        FROM crm.contacts y WHERE y.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid) AND y.account_id IS NOT NULL
       ORDER BY y.tenant_id, y.account_id, y.id) c;
INSERT INTO crm.quotas (tenant_id, user_id, period, period_start, amount)
SELECT u.tenant_id, u.id, 'quarter', (date_trunc('quarter', current_date) + k * interval '3 months')::date, 25000
FROM crm.users u, generate_series(0, 3) k
WHERE u.tenant_id IN (md5('crm demo:' || 'tenant:acme')::uuid, md5('crm demo:' || 'tenant:borealis')::uuid) AND u.role = 'rep';
SELECT crm.snapshot_forecast()->>'changed' AS forecast_rows \gset
SELECT crm.refresh_health_scores()->>'changed' AS snapshots, crm.refresh_segments(NULL)->'added' AS segment_members \gset
COMMIT;
