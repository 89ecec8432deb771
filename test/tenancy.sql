-- tenancy.sql (pgTAP): the shape every crm table must have (docs/design.md §3-4), tenant settings,
-- crm.create_tenant, and the roles.
\ir lib/preamble.psql

BEGIN;
SELECT plan(52);

-- The contract of every table of the extension, checked over the catalog so that tables added later
-- are held to it without a new test.
CREATE TEMP VIEW crm_tables AS
    SELECT c.oid, c.relname FROM pg_class c
    WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p');

SELECT ok((SELECT count(*) >= 3 FROM crm_tables), 'the extension has its tables');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables WHERE NOT (SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = crm_tables.oid)),
    '{}'::text[], 'every crm table has row-level security enabled and forced');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables t
                WHERE NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = t.oid)),
    '{}'::text[], 'every crm table has policies');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables t
                WHERE t.oid <> ALL (SELECT unnest(extconfig) FROM pg_extension WHERE extname = 'crm')),
    '{}'::text[], 'every crm table is registered with pg_extension_config_dump');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables t
                WHERE relname <> 'tenants'
                  AND (SELECT attname FROM pg_attribute WHERE attrelid = t.oid AND attnum = 1) <> 'tenant_id'),
    '{}'::text[], 'every tenant-owned table has tenant_id as its first column');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables t
                WHERE relname <> 'tenants'
                  AND pg_get_expr((SELECT adbin FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                                   WHERE d.adrelid = t.oid AND a.attname = 'tenant_id'), t.oid) IS DISTINCT FROM 'crm.current_tenant()'),
    '{}'::text[], 'every tenant_id defaults to crm.current_tenant()');
SELECT is(ARRAY(SELECT relname::text FROM crm_tables t
                WHERE relname <> 'tenants'
                  AND (SELECT a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                       WHERE k.conrelid = t.oid AND k.contype = 'p') IS DISTINCT FROM 'tenant_id'),
    '{}'::text[], 'every primary key starts with tenant_id');
SELECT is(ARRAY(SELECT conname::text FROM pg_constraint k JOIN crm_tables t ON t.oid = k.conrelid
                WHERE k.contype IN ('f', 'u')
                  AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = k.conrelid AND attname = 'tenant_id') = ANY (k.conkey)),
    '{}'::text[], 'every foreign key and unique constraint includes tenant_id');
SELECT is(ARRAY(SELECT format('%s.%s', c.relname, a.attname) FROM pg_class c
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum >= 0 AND NOT a.attisdropped
                WHERE c.relnamespace IN ('crm'::regnamespace, 'crm_api'::regnamespace) AND c.relkind IN ('r', 'v')
                  AND (col_description(c.oid, a.attnum) IS NULL AND a.attnum > 0 OR a.attnum = 0 AND obj_description(c.oid, 'pg_class') IS NULL)),
    '{}'::text[], 'every table, view and column of crm and crm_api has a comment');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace IN ('crm'::regnamespace, 'crm_api'::regnamespace)
                  AND obj_description(p.oid, 'pg_proc') IS NULL),
    '{}'::text[], 'every function of crm and crm_api has a comment');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace IN ('crm'::regnamespace, 'crm_api'::regnamespace) AND p.prosecdef
                  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')),
    '{}'::text[], 'every SECURITY DEFINER function pins its search_path');
SELECT is(ARRAY(SELECT c.relname::text FROM pg_class c
                WHERE c.relnamespace = 'crm_api'::regnamespace AND c.relkind = 'v'
                  AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)),
    '{}'::text[], 'every crm_api view is security_invoker');

-- Roles: created, NOLOGIN, and ordered anon < rep < manager < admin by membership.
SELECT is(ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname IN ('crm_anon', 'crm_rep', 'crm_manager', 'crm_admin') AND NOT rolcanlogin ORDER BY 1),
    '{crm_admin,crm_anon,crm_manager,crm_rep}'::text[], 'the four crm roles exist and cannot log in');
SELECT ok(pg_has_role('crm_admin', 'crm_manager', 'MEMBER') AND pg_has_role('crm_manager', 'crm_rep', 'MEMBER'),
    'crm_admin has crm_manager''s rights, which has crm_rep''s');
SELECT ok(NOT pg_has_role('crm_rep', 'crm_manager', 'MEMBER') AND NOT pg_has_role('crm_anon', 'crm_rep', 'MEMBER'),
    'the ladder goes one way: a rep is not a manager, anon is not a rep');

-- Tenant settings: defaults, merge, validation.
SELECT is(crm.tenant_settings('{}'), '{"currency": "USD", "sharing": "public", "qualification_threshold": 70, "win_model_min_history": 50, "default_close_days": 30,
      "health_weights": {"activity": 20, "commercial": 20, "engagement": 30, "satisfaction": 30}}'::jsonb,
    'tenant settings default to USD, public sharing, a threshold of 70');
SELECT is(crm.tenant_settings(NULL), crm.tenant_settings('{}'), 'NULL settings are the defaults');
SELECT is(crm.tenant_settings('{"sharing": "private", "qualification_threshold": 0}'),
    '{"currency": "USD", "sharing": "private", "qualification_threshold": 0, "win_model_min_history": 50, "default_close_days": 30,
      "health_weights": {"activity": 20, "commercial": 20, "engagement": 30, "satisfaction": 30}}'::jsonb,
    'given settings are merged over the defaults');
SELECT is(crm.tenant_settings('{"qualification_threshold": 100, "currency": "EUR"}')->>'currency', 'EUR', 'a currency is kept');
SELECT throws_ok($$SELECT crm.tenant_settings('{"colour": "blue"}')$$, '22023', 'unknown tenant setting "colour"',
    'an unknown setting is refused with 22023');
SELECT throws_ok($$SELECT crm.tenant_settings('{"currency": "usd"}')$$, '22023', NULL, 'a lowercase currency is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"currency": 840}')$$, '22023', NULL, 'a numeric currency is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"sharing": "team"}')$$, '22023', NULL, 'an unknown sharing mode is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"qualification_threshold": 101}')$$, '22023', NULL, 'a threshold above 100 is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"qualification_threshold": -1}')$$, '22023', NULL, 'a negative threshold is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"qualification_threshold": "70"}')$$, '22023', NULL, 'a threshold given as a string is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('[1, 2]')$$, '22023', NULL, 'settings that are not an object are refused');
SELECT is(crm.tenant_settings('{"default_close_days": 90}')->'default_close_days', '90'::jsonb, 'a default close of 90 days is kept');
SELECT throws_ok($$SELECT crm.tenant_settings('{"default_close_days": 0}')$$, '22023', 'invalid tenant setting "default_close_days": 0',
    'a default close of 0 days is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"default_close_days": 3651}')$$, '22023', NULL, 'more than 3650 days is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"default_close_days": 7.5}')$$, '22023', NULL, 'a fraction of a day is refused');
SELECT throws_ok($$SELECT crm.tenant_settings('{"default_close_days": "30"}')$$, '22023', NULL, 'days given as a string are refused');

-- crm.create_tenant
SELECT isa_ok(crm.create_tenant('Acme'), 'uuid', 'create_tenant returns the new id');
SELECT is(crm.create_tenant('Given', '{"currency": "GBP"}', 'c0000000-0000-7000-8000-00000000000c'),
    'c0000000-0000-7000-8000-00000000000c'::uuid, 'create_tenant keeps a given id');
SELECT is((SELECT settings FROM crm.tenants WHERE id = 'c0000000-0000-7000-8000-00000000000c'),
    '{"currency": "GBP", "sharing": "public", "qualification_threshold": 70, "win_model_min_history": 50, "default_close_days": 30,
      "health_weights": {"activity": 20, "commercial": 20, "engagement": 30, "satisfaction": 30}}'::jsonb, 'the new tenant''s settings are complete');
SELECT is(substr((SELECT id FROM crm.tenants WHERE name = 'Acme')::text, 15, 1), '7', 'a generated tenant id is a uuid_v7');
SELECT throws_ok($$SELECT crm.create_tenant('  ')$$, '22023', 'tenant name must not be empty', 'an empty name is refused');
SELECT throws_ok($$SELECT crm.create_tenant('Bad', '{"sharing": 1}')$$, '22023', NULL, 'bad settings are refused');
SELECT is((SELECT count(*) FROM crm.tenants WHERE name = 'Bad'), 0::bigint, 'and leave no tenant behind');
SELECT throws_ok($$SELECT crm.create_tenant('Again', '{}', 'c0000000-0000-7000-8000-00000000000c')$$, '23505', NULL,
    'a tenant id is unique');
SELECT ok(NOT has_function_privilege('crm_admin', 'crm.create_tenant(text, jsonb, uuid)', 'EXECUTE'),
    'tenants are created by the operator: crm_admin may not call create_tenant');

-- Users: email shape and uniqueness per tenant, team of the same tenant, updated_at.
INSERT INTO crm.teams (tenant_id, id, name) VALUES ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000f1', 'Sales');
SELECT throws_ok($$INSERT INTO crm.users (tenant_id, email, name) VALUES ('c0000000-0000-7000-8000-00000000000c', 'not-an-email', 'X')$$,
    '22P02', NULL, 'a user''s email must be a crm.email');
INSERT INTO crm.users (tenant_id, email, name) VALUES ('c0000000-0000-7000-8000-00000000000c', 'Ann@Given.test', 'Ann');
SELECT throws_ok($$INSERT INTO crm.users (tenant_id, email, name) VALUES ('c0000000-0000-7000-8000-00000000000c', 'ann@given.TEST', 'Ann Again')$$,
    '23505', NULL, 'emails are unique per tenant regardless of case');
SELECT throws_ok(format($$INSERT INTO crm.users (tenant_id, email, name, team_id) VALUES (%L, 'z@acme.test', 'Z', 'c0000000-0000-7000-8000-0000000000f1')$$,
                        (SELECT id FROM crm.tenants WHERE name = 'Acme')),
    '23503', NULL, 'a user cannot join another tenant''s team');
UPDATE crm.users SET name = 'Ann B', updated_at = '2000-01-01' WHERE email = 'Ann@Given.test';
SELECT is((SELECT updated_at FROM crm.users WHERE email = 'Ann@Given.test'), now(), 'an update sets updated_at, whatever it is given');
-- the trigger behind it (C) belongs on tables with a timestamptz updated_at, as a row trigger before update
CREATE TEMP TABLE no_stamp (x integer);
CREATE TRIGGER touch BEFORE UPDATE ON no_stamp FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
INSERT INTO no_stamp VALUES (1);
SELECT throws_ok($$UPDATE no_stamp SET x = 2$$, '39P01', 'crm.touch_updated_at needs a timestamptz column updated_at in table "no_stamp"',
    'crm.touch_updated_at on a table without updated_at: 39P01, named');
CREATE TEMP TABLE stamped (x integer, updated_at timestamptz);
CREATE TRIGGER touch AFTER UPDATE ON stamped FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
INSERT INTO stamped VALUES (1, NULL);
SELECT throws_ok($$UPDATE stamped SET x = 2$$, '39P01', NULL, '    and as an AFTER trigger: 39P01');


-- Deleting a user clears who did what (plain keys and its delete path, docs/design.md §12): the stage
-- history's changed_by, case comments' author_id and taggings' tagged_by, of its tenant only (Acme has
-- a user of the same id, whose tagging keeps it).
SELECT id AS acme FROM crm.tenants WHERE name = 'Acme' \gset
INSERT INTO crm.users (tenant_id, id, email, name) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c7', 'leaver@given.test', 'Leaver'),
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c8', 'stayer@given.test', 'Stayer'),
    (:'acme', 'c0000000-0000-7000-8000-0000000000c7', 'leaver@acme.test', 'Same id in Acme');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000cc1', 'Skynet', 'c0000000-0000-7000-8000-0000000000c8'),
    (:'acme', 'c0000000-0000-7000-8000-000000000cc1', 'Same id in Acme', 'c0000000-0000-7000-8000-0000000000c7');
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, owner_id) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000ce1', 'Deal', 'c0000000-0000-7000-8000-000000000cc1',
     'c0000000-0000-7000-8000-0000000000c8');
INSERT INTO crm.opportunity_stage_history (tenant_id, opportunity_id, from_stage_id, to_stage_id, changed_by)
SELECT s.tenant_id, 'c0000000-0000-7000-8000-000000000ce1', s.id, s.id, 'c0000000-0000-7000-8000-0000000000c7'
  FROM crm.pipeline_stages s WHERE s.tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND s.name = 'proposal';
INSERT INTO crm.cases (tenant_id, id, subject, account_id, assignee_id) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000c91', 'Help', 'c0000000-0000-7000-8000-000000000cc1',
     'c0000000-0000-7000-8000-0000000000c8');
INSERT INTO crm.case_comments (tenant_id, case_id, body, author_id) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000c91', 'On it', 'c0000000-0000-7000-8000-0000000000c7');
INSERT INTO crm.tags (tenant_id, id, name) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000c81', 'key'), (:'acme', 'c0000000-0000-7000-8000-000000000c81', 'key');
INSERT INTO crm.taggings (tenant_id, tag_id, entity_type, entity_id, tagged_by) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-000000000c81', 'account', 'c0000000-0000-7000-8000-000000000cc1',
     'c0000000-0000-7000-8000-0000000000c7'),
    (:'acme', 'c0000000-0000-7000-8000-000000000c81', 'account', 'c0000000-0000-7000-8000-000000000cc1', 'c0000000-0000-7000-8000-0000000000c7');
SELECT lives_ok($$DELETE FROM crm.users WHERE tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND id = 'c0000000-0000-7000-8000-0000000000c7'$$,
    'a user who moved a deal, commented a case and tagged an account is deleted');
SELECT row_eq($$SELECT count(*), count(changed_by) FROM crm.opportunity_stage_history WHERE opportunity_id = 'c0000000-0000-7000-8000-000000000ce1'
                   AND from_stage_id IS NOT NULL$$, ROW(1::bigint, 0::bigint), 'the stage change it made stays, without changed_by');
SELECT row_eq($$SELECT count(*), count(author_id) FROM crm.case_comments WHERE case_id = 'c0000000-0000-7000-8000-000000000c91'$$,
    ROW(1::bigint, 0::bigint), 'its case comment stays, without author_id');
SELECT row_eq($$SELECT count(*), count(tagged_by) FROM crm.taggings WHERE tenant_id = 'c0000000-0000-7000-8000-00000000000c'$$,
    ROW(1::bigint, 0::bigint), 'its tagging stays, without tagged_by');
SELECT is((SELECT tagged_by FROM crm.taggings WHERE tenant_id = :'acme' AND tag_id = 'c0000000-0000-7000-8000-000000000c81'),
    'c0000000-0000-7000-8000-0000000000c7'::uuid, 'Acme''s tagging by its own user of the same id keeps it');

SELECT * FROM finish();
ROLLBACK;
