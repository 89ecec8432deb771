-- 45_api_writes.sql (pgTAP, make test-citus): writes through the crm_api views on Citus, as PostgREST
-- makes them (docs/design.md §6, §9): the crm roles insert, update and delete through the coordinator
-- with the single node's defaults (tenant and owner from the context, ids), RETURNING, privileges (of
-- the view, and the table's column privileges) and refusals with their SQLSTATE. Two tenants of its
-- own (E and F), committed: Citus opens one connection per user to each worker, so each role works in
-- a transaction of its own, and every transaction commits (pgTAP keeps its results in the session's
-- tables). The tenants are deleted at the end.
\ir ../lib/preamble.psql
\ir lib.psql
\ir ../lib/become.psql

\set E '''e0000000-0000-7000-8000-00000000000e'''
\set F '''f0000000-0000-7000-8000-00000000000f'''
\set e1 '''e0000000-0000-7000-8000-0000000000e1'''
\set e2 '''e0000000-0000-7000-8000-0000000000e2'''
\set e3 '''e0000000-0000-7000-8000-0000000000e3'''
\set e4 '''e0000000-0000-7000-8000-0000000000e4'''
\set f1 '''f0000000-0000-7000-8000-0000000000f1'''
\set f3 '''f0000000-0000-7000-8000-0000000000f3'''

BEGIN;
SELECT plan(39);
\o /dev/null
DELETE FROM crm.tenants WHERE id IN (:E, :F);
SELECT crm.create_tenant('API writes E', '{}', :E);
SELECT crm.create_tenant('API writes F', '{}', :F);
\o
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    (:E, :e1, 'admin@e.test', 'E Admin', 'admin'), (:E, :e2, 'manager@e.test', 'E Manager', 'manager'),
    (:E, :e3, 'rep@e.test', 'E Rep', 'rep'), (:E, :e4, 'rep2@e.test', 'E Rep Two', 'rep'),
    (:F, :f1, 'admin@f.test', 'F Admin', 'admin'), (:F, :f3, 'rep@f.test', 'F Rep', 'rep');
INSERT INTO crm.leads (tenant_id, id, company, owner_id) VALUES
    (:E, 'e0000000-0000-7000-8000-000000000eb4', 'Other Rep Co', :e4),
    (:F, 'f0000000-0000-7000-8000-000000000fb3', 'F Co', :f3);
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES (:F, 'f0000000-0000-7000-8000-000000000fc3', 'F Account', :f3);
INSERT INTO crm.tasks (tenant_id, id, title, assignee_id) VALUES (:E, 'e0000000-0000-7000-8000-000000000e51', 'Call back', :e3);
COMMIT;

-- The view's own privileges are still checked when the planner hook hands Citus the table's statement
-- (the executor checks every entry of the range table, the view's too): with UPDATE on crm_api.leads
-- narrowed to its status column, for this transaction only, a rep's update of the company through the view
-- is refused, while the same update of crm.leads, whose privileges are unchanged, goes through.
BEGIN;
REVOKE UPDATE ON crm_api.leads FROM crm_rep;
GRANT UPDATE (status) ON crm_api.leads TO crm_rep;
SELECT pg_temp.become('crm_rep', :E, :e3, 'guc');
SELECT throws_ok($q$UPDATE crm_api.leads SET company = 'Renamed' WHERE company = 'Other Rep Co'$q$, '42501', NULL,
    'the view''s column privileges are checked on Citus: a rep may not update a column of crm_api.leads it was not granted');
SELECT lives_ok($q$UPDATE crm.leads SET company = 'Renamed' WHERE company = 'Other Rep Co'$q$,
    '    while the table''s privileges let the same statement on crm.leads run (no row of the other rep changes)');
ROLLBACK;

-- A rep of E, through PostgREST's claims
BEGIN;
SELECT pg_temp.become('crm_rep', :E, :e3, 'claims');
SELECT is(pg_temp.v($q$WITH w AS (INSERT INTO crm_api.leads (first_name, company, email) VALUES ('Nina', 'Flingers', 'Nina@Flingers.test')
                                   RETURNING tenant_id, owner_id, email, id, status)
                       SELECT concat_ws(' ', tenant_id, owner_id, email, id IS NOT NULL, status) FROM w$q$),
    'e0000000-0000-7000-8000-00000000000e e0000000-0000-7000-8000-0000000000e3 nina@flingers.test t new',
    'INSERT through crm_api.leads: tenant and owner from the context, the id and status defaulted, the email normalized, RETURNING');
SELECT is(pg_temp.v($q$WITH pgrst_source AS (INSERT INTO crm_api.accounts(name, domain) SELECT pgrst_body.name, pgrst_body.domain
                         FROM (SELECT '[{"name": "Acme Rockets", "domain": "rockets.test"}, {"name": "Acme Anvils", "domain": "anvils.test"}]'::json AS json_data) pgrst_payload,
                         LATERAL (SELECT * FROM json_to_recordset(pgrst_payload.json_data) AS _(name text, domain text)) pgrst_body
                         RETURNING crm_api.accounts.name, crm_api.accounts.owner_id)
                       SELECT pg_catalog.count(_postgrest_t) || ' ' || string_agg(_postgrest_t.name || '/' || _postgrest_t.owner_id, ',' ORDER BY _postgrest_t.name)
                         FROM (SELECT * FROM pgrst_source) _postgrest_t$q$),
    '2 Acme Anvils/e0000000-0000-7000-8000-0000000000e3,Acme Rockets/e0000000-0000-7000-8000-0000000000e3',
    'POST /accounts?select=name,owner_id with two rows, PostgREST''s INSERT ... SELECT FROM json_to_recordset: both, with return=representation');
-- crm_api.accounts's health columns are subqueries (of crm.account_health_latest): Citus refuses an
-- INSERT whose RETURNING holds one (0A000, "subqueries are not supported within INSERT queries"), so
-- POST /accounts returns them only on a single node (as NULL, for a new account); on Citus a client
-- asks for the table's columns (select=) or for return=minimal. UPDATE and DELETE return them.
SELECT throws_ok($$INSERT INTO crm_api.accounts (name) VALUES ('Acme Health') RETURNING health_score$$, '0A000', NULL,
    'an INSERT through crm_api.accounts RETURNING its health columns is refused on Citus (0A000; a single node returns NULL)');
SELECT is(pg_temp.v($q$WITH pgrst_source AS (UPDATE crm_api.leads SET status = pgrst_body.status
                         FROM (SELECT '{"status": "qualified"}'::json AS json_data) pgrst_payload,
                         LATERAL (SELECT status FROM json_to_record(pgrst_payload.json_data) AS _(status crm.lead_status)) pgrst_body
                         WHERE crm_api.leads.company = 'Flingers' RETURNING crm_api.leads.*)
                       SELECT pg_catalog.count(_postgrest_t) || ' ' || string_agg(_postgrest_t.status::text, ',') FROM (SELECT * FROM pgrst_source) _postgrest_t$q$),
    '1 qualified', 'PATCH /leads?company=eq.Flingers, PostgREST''s UPDATE ... FROM json_to_record: the row, updated');
SELECT is(pg_temp.n($q$WITH w AS (UPDATE crm_api.leads SET status = 'qualified' WHERE company = 'Other Rep Co' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    'a rep updates no lead of another rep through the view (0 rows)');
SELECT is(pg_temp.n($q$WITH w AS (UPDATE crm_api.leads SET status = 'qualified' WHERE company = 'F Co' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    '    nor one of another tenant');
SELECT throws_ok($$INSERT INTO crm_api.leads (company, owner_id) VALUES ('X', 'e0000000-0000-7000-8000-0000000000e2')$$, '42501', NULL,
    'a rep may not insert a lead owned by someone else (42501, as on one node)');
SELECT throws_ok($$INSERT INTO crm_api.leads (tenant_id, company) VALUES ('f0000000-0000-7000-8000-00000000000f', 'X')$$, '42501', NULL,
    '    nor one of another tenant (42501)');
SELECT throws_ok($$INSERT INTO crm_api.leads (company, email) VALUES ('X', 'not an email')$$, '22P02', NULL,
    'a malformed email is refused (22P02)');
SELECT throws_ok($$UPDATE crm_api.leads SET status = 'lost' WHERE company = 'Flingers'$$, '23514', NULL,
    'a lead lost without a reason is refused (23514)');
-- Citus refuses a change of the distribution column before any policy sees it: 0A000 ("modifying the
-- partition value of rows is not allowed") here, 42501 (the tenant guard) on a single node.
SELECT throws_ok($$UPDATE crm_api.leads SET tenant_id = 'f0000000-0000-7000-8000-00000000000f' WHERE company = 'Flingers'$$, '0A000', NULL,
    'moving a lead to another tenant is refused (Citus: 0A000; a single node: 42501)');
SELECT throws_ok($$INSERT INTO crm_api.contacts (first_name, account_id) VALUES ('X', 'f0000000-0000-7000-8000-000000000fc3')$$, '23503', NULL,
    'a contact at another tenant''s account is refused by the foreign key (23503)');
SELECT throws_ok($$INSERT INTO crm_api.pipelines (name) VALUES ('Rep pipeline')$$, '42501', NULL,
    'a rep may not insert into crm_api.pipelines (no INSERT on the view: 42501)');
SELECT throws_ok($$UPDATE crm_api.taggings SET entity_type = entity_type$$, '42501', NULL,
    '    nor update crm_api.taggings (no UPDATE on the view)');
SELECT throws_ok($$INSERT INTO crm_api.tags (name, usage_count) VALUES ('x', 5)$$, '42501', NULL,
    '    nor set a tag''s usage_count (the table''s column privileges)');
SELECT is(pg_temp.v($q$WITH w AS (INSERT INTO crm_api.tags (name) VALUES ('vip') RETURNING name, usage_count) SELECT name || ' ' || usage_count FROM w$q$),
    'vip 0', 'a rep inserts a tag through the view (its columns)');
SELECT throws_ok($$UPDATE crm_api.accounts SET health_score = 1$$, '0A000', NULL,
    'a computed column of a view is not updatable (0A000, as on one node)');
SELECT is(pg_temp.v($q$WITH w AS (DELETE FROM crm_api.tasks WHERE title = 'Call back' RETURNING title, assignee_id) SELECT title || ' ' || assignee_id FROM w$q$),
    'Call back e0000000-0000-7000-8000-0000000000e3', 'DELETE /tasks?title=eq.Call back: its assignee deletes it, RETURNING the row');
SELECT is(pg_temp.n($q$WITH pgrst_source AS (DELETE FROM crm_api.leads WHERE crm_api.leads.company = 'Other Rep Co' RETURNING crm_api.leads.*)
                       SELECT count(*) FROM pgrst_source$q$), 0::bigint, 'a rep deletes no lead of another rep (0 rows)');
SELECT id AS vip FROM crm_api.tags WHERE name = 'vip' \gset
SELECT is(pg_temp.v(format($q$WITH w AS (INSERT INTO crm_api.tags (id, name, color) VALUES (%L, 'vip', '#00ff00')
                                   ON CONFLICT (tenant_id, id) DO UPDATE SET color = EXCLUDED.color RETURNING name, color)
                       SELECT name || ' ' || color FROM w$q$, :'vip')),
    'vip #00ff00', 'an upsert through a view (INSERT ... ON CONFLICT DO UPDATE, PostgREST''s resolution=merge-duplicates) updates the row');
COMMIT;

-- A rep of F sees and changes nothing of E
BEGIN;
SELECT pg_temp.become('crm_rep', :F, :f3, 'claims');
SELECT is(pg_temp.n($q$WITH w AS (UPDATE crm_api.leads SET company = 'Taken' WHERE company = 'Flingers' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    'PATCH of another tenant''s lead, as a rep of F: 0 rows');
SELECT is(pg_temp.n($q$WITH w AS (DELETE FROM crm_api.accounts WHERE name LIKE 'Acme%' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    'DELETE of another tenant''s accounts: 0 rows');
SELECT is(pg_temp.n($q$WITH w AS (UPDATE crm_api.leads SET company = 'F Co 2' WHERE company = 'F Co' RETURNING 1) SELECT count(*) FROM w$q$), 1::bigint,
    'its own lead: 1 row');
COMMIT;

-- A manager of E changes every record of E
BEGIN;
SELECT pg_temp.become('crm_manager', :E, :e2, 'claims');
SELECT is(pg_temp.v($q$WITH w AS (UPDATE crm_api.leads SET status = 'qualified' WHERE company = 'Other Rep Co' RETURNING status) SELECT string_agg(status::text, ',') FROM w$q$),
    'qualified', 'a manager updates another rep''s lead through the view');
SELECT is(pg_temp.n($q$WITH w AS (INSERT INTO crm_api.quotas (user_id, period, period_start, amount)
                                   VALUES ('e0000000-0000-7000-8000-0000000000e3', 'quarter', '2026-10-01', 50000) RETURNING 1) SELECT count(*) FROM w$q$), 1::bigint,
    'a manager sets a quota through crm_api.quotas');
COMMIT;

-- An admin of E: configuration and the reference tables (users, teams)
BEGIN;
SELECT pg_temp.become('crm_admin', :E, :e1, 'claims');
SELECT is(pg_temp.v($q$WITH w AS (INSERT INTO crm_api.pipelines (name) VALUES ('Renewals') RETURNING tenant_id, name, is_default) SELECT concat_ws(' ', tenant_id, name, is_default) FROM w$q$),
    'e0000000-0000-7000-8000-00000000000e Renewals f', 'an admin inserts a pipeline through crm_api.pipelines');
SELECT is(pg_temp.v($q$WITH w AS (INSERT INTO crm_api.teams (name) VALUES ('E North') RETURNING tenant_id, name) SELECT concat_ws(' ', tenant_id, name) FROM w$q$),
    'e0000000-0000-7000-8000-00000000000e E North', 'an admin inserts a team (a reference table) through crm_api.teams');
SELECT is(pg_temp.v($q$WITH w AS (INSERT INTO crm_api.users (email, name, role) VALUES ('new@e.test', 'E New', 'rep') RETURNING tenant_id, email, role, active)
                       SELECT concat_ws(' ', tenant_id, email, role, active) FROM w$q$),
    'e0000000-0000-7000-8000-00000000000e new@e.test rep t', 'an admin inserts a user (a reference table) through crm_api.users');
SELECT is(pg_temp.v($q$WITH w AS (UPDATE crm_api.users SET name = 'E Newer' WHERE email = 'new@e.test' RETURNING name) SELECT string_agg(name, ',') FROM w$q$),
    'E Newer', '    updates it');
SELECT is(pg_temp.n($q$WITH w AS (DELETE FROM crm_api.users WHERE email = 'new@e.test' RETURNING 1) SELECT count(*) FROM w$q$), 1::bigint,
    '    and deletes it');
SELECT throws_ok($$UPDATE crm_api.users SET tenant_id = 'f0000000-0000-7000-8000-00000000000f' WHERE email = 'rep2@e.test'$$, '42501', NULL,
    'a user is not moved to another tenant (42501)');
-- Every view a single node lets the admin change takes an UPDATE and a DELETE on Citus (of no row:
-- id IS NULL, routed to the tenant's shard). From the catalog, so that a new view is covered.
CREATE TEMP TABLE writable ON COMMIT DROP AS
    SELECT c.relname AS view, (SELECT a.attname FROM pg_catalog.pg_attribute a
                                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attname NOT IN ('tenant_id', 'id')
                                  AND has_column_privilege(c.oid, a.attnum, 'UPDATE')
                                  AND has_column_privilege(format('crm.%I', c.relname), a.attname, 'UPDATE')
                                  AND EXISTS (SELECT FROM information_schema.columns i WHERE i.table_schema = 'crm_api' AND i.table_name = c.relname
                                                 AND i.column_name = a.attname AND i.is_updatable = 'YES')
                                ORDER BY a.attnum LIMIT 1) AS col,
           has_table_privilege(c.oid, 'DELETE') AS may_delete
      FROM pg_catalog.pg_class c
     WHERE c.relnamespace = 'crm_api'::regnamespace AND c.relkind = 'v' AND pg_catalog.pg_relation_is_updatable(c.oid, false) & 20 = 20;
CREATE FUNCTION pg_temp.refused_writes() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    w record;
    m text;
BEGIN
    FOR w IN SELECT * FROM writable ORDER BY view LOOP
        BEGIN
            IF w.col IS NOT NULL THEN
                EXECUTE format('UPDATE crm_api.%I SET %I = %I WHERE id IS NULL', w.view, w.col, w.col);
            END IF;
            IF w.may_delete THEN
                EXECUTE format('DELETE FROM crm_api.%I WHERE id IS NULL', w.view);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
            RETURN NEXT w.view || ': ' || m;
        END;
    END LOOP;
END
$$;
SELECT cmp_ok(pg_temp.n('SELECT count(*) FROM writable WHERE col IS NOT NULL AND may_delete'), '>=', 25::bigint,
    'the catalog lists the views the admin updates and deletes through (25 at least)');
SELECT is(pg_temp.v('SELECT string_agg(r, E''\n'') FROM pg_temp.refused_writes() r'), NULL,
    'every one of them takes an UPDATE and a DELETE on Citus');
COMMIT;

-- An admin of F changes no user of E
BEGIN;
SELECT pg_temp.become('crm_admin', :F, :f1, 'claims');
SELECT is(pg_temp.n($q$WITH w AS (UPDATE crm_api.users SET name = 'Taken' WHERE email = 'rep2@e.test' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    'an admin of F updates no user of E');
SELECT is(pg_temp.n($q$WITH w AS (DELETE FROM crm_api.pipelines WHERE name = 'Renewals' RETURNING 1) SELECT count(*) FROM w$q$), 0::bigint,
    '    and deletes no pipeline of E');
COMMIT;

-- What the writes left, as the operator
BEGIN;
SELECT is(pg_temp.v($$SELECT string_agg(company || ':' || status, ',' ORDER BY company) FROM crm.leads WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e'$$),
    'Flingers:qualified,Other Rep Co:qualified', 'E''s leads on the shards: what the writes through the views left');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.events WHERE tenant_id = 'e0000000-0000-7000-8000-00000000000e' AND type = 'lead.created'$$), 2::bigint,
    'a lead inserted through the view emits lead.created like one inserted into the table');
SELECT * FROM finish();
\o /dev/null
DELETE FROM crm.tenants WHERE id IN (:E, :F);
\o
COMMIT;
