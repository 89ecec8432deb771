-- isolation.sql (pgTAP): two tenants and every role. A user of one tenant reads, inserts, updates and
-- deletes nothing of the other, through the crm tables and the crm_api views, with the context given by
-- the GUCs (crm.set_context) and by PostgREST's request.jwt.claims. No context: no rows, 42501 on insert.
\ir lib/preamble.psql

BEGIN;
-- Every tenant-owned table of the extension, read from the catalog: tables added later are checked
-- here without a new line of test (5 assertions per table for each of the 12 role/context cases).
CREATE TEMP VIEW tenant_tables AS
    SELECT c.oid::regclass AS tbl FROM pg_class c
    WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r'
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id');
GRANT SELECT ON tenant_tables TO PUBLIC;
-- And every view of the HTTP API that shows tenant rows (4 assertions each per case), and the RPCs.
CREATE TEMP VIEW api_views AS
    SELECT c.oid::regclass AS tbl FROM pg_class c
    WHERE c.relnamespace = 'crm_api'::regnamespace AND c.relkind = 'v'
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id');
GRANT SELECT ON api_views TO PUBLIC;
SELECT plan(320 + 1 + 12 * 5 * (SELECT count(*)::int FROM tenant_tables) + 12 * 4 * (SELECT count(*)::int FROM api_views) + 12 * 7);

\ir lib/two_tenants.psql
\ir lib/become.psql

-- A row of each table for each tenant, as the superuser reads it: the model of a smuggled insert.
CREATE FUNCTION pg_temp.sample(t regclass, tenant uuid) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    EXECUTE format('SELECT to_jsonb(x) FROM %s x WHERE x.tenant_id = $1 ORDER BY x.id LIMIT 1', t) INTO r USING tenant;
    RETURN r;
END
$$;
CREATE TEMP TABLE samples AS
    SELECT tt.tbl, tenant, pg_temp.sample(tt.tbl, tenant) AS row_
    FROM tenant_tables tt, unnest('{a0000000-0000-7000-8000-00000000000a,b0000000-0000-7000-8000-00000000000b}'::uuid[]) tenant;
GRANT SELECT ON samples TO PUBLIC;
SELECT is(ARRAY(SELECT DISTINCT tbl::text FROM samples WHERE row_ IS NULL ORDER BY 1), '{}'::text[],
    'the fixture puts rows of both tenants in every tenant table, so the checks below bite');

-- A fingerprint of everything a tenant owns, to prove afterwards that nothing of it changed.
CREATE FUNCTION pg_temp.fingerprint(t uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    tbl regclass;
    part text;
    acc text := (SELECT to_jsonb(x)::text FROM crm.tenants x WHERE id = t);
BEGIN
    FOR tbl IN SELECT tt.tbl FROM tenant_tables tt ORDER BY tt.tbl::text LOOP
        EXECUTE format('SELECT string_agg(to_jsonb(x)::text, %L ORDER BY x.id) FROM %s x WHERE x.tenant_id = $1', ';', tbl)
            INTO part USING t;
        acc := acc || '|' || tbl::text || ':' || coalesce(part, '');
    END LOOP;
    RETURN md5(acc);
END
$$;
CREATE TEMP TABLE fingerprints AS
    SELECT t AS tenant, pg_temp.fingerprint(t) AS before
    FROM unnest('{a0000000-0000-7000-8000-00000000000a,b0000000-0000-7000-8000-00000000000b}'::uuid[]) t;
GRANT SELECT ON fingerprints TO PUBLIC;

-- Runs a data-modifying statement; 'ok' when it touched no row or was refused with 42501. Any other
-- error is what it returns, so that the assertion fails and the matrix goes on. The statement runs as
-- it is, not in a WITH (… RETURNING) SELECT count(*): Citus 13.2.2 fails such a CTE with XX000 "could
-- not find valid entry for shard 0" when it prunes to no shard (citusdata/citus#8693, fixed after
-- 13.2.2), as a statement on the other tenant does once the policy's tenant is a constant.
CREATE FUNCTION pg_temp.no_leak(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE q;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN CASE WHEN n = 0 THEN 'ok' ELSE format('%s rows changed', n) END;
EXCEPTION
    WHEN insufficient_privilege THEN
        RETURN 'ok';
    WHEN OTHERS THEN
        RETURN format('error %s: %s', SQLSTATE, SQLERRM);
END
$$;

-- Runs a statement that moves rows to the other tenant: 'ok' as for no_leak. On Citus only, also when
-- Citus itself refuses it, 0A000 "modifying the partition value of rows is not allowed" (tenant_id is
-- the distribution column of every distributed table): the rows stay where they were all the same. On
-- a single node there is no such refusal, and a 0A000 fails like any other error.
CREATE FUNCTION pg_temp.no_move(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text := pg_temp.no_leak(q);
BEGIN
    IF r = 'error 0A000: modifying the partition value of rows is not allowed'
       AND EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN 'ok';
    END IF;
    RETURN r;
END
$$;

-- Every tenant table, generically: nothing of `other` is visible, changed, deleted or inserted.
CREATE FUNCTION pg_temp.every_table(me uuid, other uuid, label text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    n bigint;
    theirs jsonb;
    cols text;
    vals text[];
BEGIN
    FOR t IN SELECT tt.tbl FROM tenant_tables tt ORDER BY tt.tbl::text LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id = $1', t) INTO n USING other;
        EXCEPTION WHEN insufficient_privilege THEN
            n := 0;   -- no SELECT privilege at all: nothing visible either
        END;
        RETURN NEXT is(n, 0::bigint, format('%s: %s shows no row of the other tenant', label, t));
        RETURN NEXT is(pg_temp.no_leak(format('UPDATE %s SET tenant_id = tenant_id WHERE tenant_id = %L', t, other)), 'ok',
                       format('%s: UPDATE of the other tenant''s %s touches nothing', label, t));
        RETURN NEXT is(pg_temp.no_leak(format('DELETE FROM %s WHERE tenant_id = %L', t, other)), 'ok',
                       format('%s: DELETE of the other tenant''s %s touches nothing', label, t));
        theirs := (SELECT s.row_ FROM samples s WHERE s.tbl = t AND s.tenant = other)
                  || jsonb_build_object('id', gen_random_uuid());
        cols := (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '');
        -- the row as constants (INSERT … VALUES): Citus routes it to the other tenant's shard, whose
        -- policies judge it; an INSERT … SELECT from a function would reach the shard as a COPY, which
        -- PostgreSQL refuses on any table with row-level security (0A000), whatever the row
        EXECUTE format('SELECT ARRAY[%s] FROM jsonb_populate_record(NULL::%s, $1) r',
                       (SELECT string_agg(format('format(%L, r.%I)', '%L::' || format_type(a.atttypid, a.atttypmod), a.attname), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a
                        WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), t)
            INTO vals USING theirs;
        RETURN NEXT throws_ok(format('INSERT INTO %s (%s) VALUES (%s)', t, cols, array_to_string(vals, ', ')),
                              '42501', NULL, format('%s: INSERT of a row for the other tenant into %s is refused', label, t));
        RETURN NEXT is(pg_temp.no_move(format('UPDATE %s SET tenant_id = %L WHERE tenant_id = %L', t, other, me)), 'ok',
                       format('%s: moving rows of %s to the other tenant is refused', label, t));
    END LOOP;
END
$$;

-- Every crm_api view: nothing of `other` is visible, changed, deleted or inserted through it.
CREATE FUNCTION pg_temp.every_view(me uuid, other uuid, label text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    v regclass;
    n bigint;
BEGIN
    FOR v IN SELECT av.tbl FROM api_views av ORDER BY av.tbl::text LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id = $1', v) INTO n USING other;
        EXCEPTION WHEN insufficient_privilege THEN
            n := 0;
        END;
        RETURN NEXT is(n, 0::bigint, format('%s: %s shows no row of the other tenant', label, v));
        RETURN NEXT is(pg_temp.no_leak(format('UPDATE %s SET tenant_id = tenant_id WHERE tenant_id = %L', v, other)), 'ok',
                       format('%s: UPDATE through %s touches nothing of the other tenant', label, v));
        RETURN NEXT is(pg_temp.no_leak(format('DELETE FROM %s WHERE tenant_id = %L', v, other)), 'ok',
                       format('%s: DELETE through %s touches nothing of the other tenant', label, v));
        RETURN NEXT is(pg_temp.no_move(format('UPDATE %s SET tenant_id = %L WHERE tenant_id = %L', v, other, me)), 'ok',
                       format('%s: moving rows to the other tenant through %s is refused', label, v));
    END LOOP;
END
$$;

-- Every action, aimed at the other tenant's records: PT404 (not found), whatever the role.
CREATE FUNCTION pg_temp.every_rpc(me uuid, other uuid, label text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    theirs text := CASE WHEN other::text LIKE 'a%' THEN 'a' ELSE 'b' END;
    mine text := CASE WHEN me::text LIKE 'a%' THEN 'a' ELSE 'b' END;
    id_ text := theirs || '0000000-0000-7000-8000-000000000' || theirs;
BEGIN
    RETURN NEXT throws_ok(format('SELECT crm_api.convert_lead(%L)', id_ || 'b1'), 'PT404', NULL, label || ': convert_lead on the other tenant''s lead: PT404');
    RETURN NEXT throws_ok(format('SELECT crm_api.move_opportunity(%L, %L)', id_ || 'e1', 'proposal'), 'PT404', NULL,
                          label || ': move_opportunity on the other tenant''s opportunity: PT404');
    RETURN NEXT throws_ok(format('SELECT crm_api.complete_task(%L)', id_ || '51'), 'PT404', NULL, label || ': complete_task on the other tenant''s task: PT404');
    RETURN NEXT throws_ok(format('SELECT crm_api.close_lead(%L, %L)', id_ || 'b1', 'x'), 'PT404', NULL, label || ': close_lead on the other tenant''s lead: PT404');
    RETURN NEXT throws_ok(format('SELECT * FROM crm_api.timeline(%L, %L)', 'account', id_ || 'c1'), 'PT404', NULL,
                          label || ': the timeline of the other tenant''s account: PT404');
    RETURN NEXT throws_ok(format('SELECT crm_api.reassign_owner(%L, %L, %L)', 'contact', id_ || 'd1',
                                 mine || '0000000-0000-7000-8000-0000000000' || mine || '3'), 'PT404', NULL,
                          label || ': reassigning the other tenant''s contact: PT404');
    RETURN NEXT throws_ok(format('SELECT crm_api.log_activity(%L, lead_id => %L)', 'call', id_ || 'b1'), 'PT404', NULL,
                          label || ': logging an activity on the other tenant''s lead: PT404');
END
$$;

-- The user of tenant `me` tries everything on tenant `other`. Runs as the role `become` set.
CREATE FUNCTION pg_temp.cross_tenant(me uuid, other uuid, my_user uuid, label text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    app text := crm.current_app_role();
    q text;
    n bigint;
    qs text[];
BEGIN
    -- reads: exactly one's own tenant, through the tables and the views
    RETURN NEXT is(crm.current_tenant(), me, label || ': the context names my tenant');
    RETURN NEXT results_eq('SELECT id FROM crm.tenants', ARRAY[me], label || ': crm.tenants shows only my tenant');
    RETURN NEXT results_eq('SELECT DISTINCT tenant_id FROM crm.users', ARRAY[me], label || ': crm.users shows only my tenant');
    RETURN NEXT is((SELECT count(*) FROM crm.users), 3::bigint, label || ': crm.users shows my three users');
    RETURN NEXT results_eq('SELECT DISTINCT tenant_id FROM crm.teams', ARRAY[me], label || ': crm.teams shows only my tenant');
    RETURN NEXT results_eq('SELECT DISTINCT tenant_id FROM crm_api.users', ARRAY[me], label || ': crm_api.users shows only my tenant');
    RETURN NEXT results_eq('SELECT DISTINCT tenant_id FROM crm_api.teams', ARRAY[me], label || ': crm_api.teams shows only my tenant');
    RETURN NEXT is((SELECT count(*) FROM crm.users u WHERE u.tenant_id = other)
                   + (SELECT count(*) FROM crm_api.users u WHERE u.tenant_id = other)
                   + (SELECT count(*) FROM crm.teams t WHERE t.tenant_id = other)
                   + (SELECT count(*) FROM crm.tenants t WHERE t.id = other), 0::bigint,
                   label || ': asking for the other tenant by id finds nothing');

    -- inserts carrying the other tenant's id: refused whatever the role
    RETURN NEXT throws_ok(format('INSERT INTO crm.users (tenant_id, email, name) VALUES (%L, %L, %L)',
                                 other, 'intruder@x.test', 'Intruder'),
                          '42501', NULL, label || ': INSERT into crm.users for the other tenant is refused');
    RETURN NEXT throws_ok(format('INSERT INTO crm_api.users (tenant_id, email, name) VALUES (%L, %L, %L)',
                                 other, 'intruder@x.test', 'Intruder'),
                          '42501', NULL, label || ': INSERT into crm_api.users for the other tenant is refused');
    RETURN NEXT throws_ok(format('INSERT INTO crm.teams (tenant_id, name) VALUES (%L, %L)', other, 'Intruders'),
                          '42501', NULL, label || ': INSERT into crm.teams for the other tenant is refused');
    RETURN NEXT throws_ok(format('INSERT INTO crm_api.teams (tenant_id, name) VALUES (%L, %L)', other, 'Intruders'),
                          '42501', NULL, label || ': INSERT into crm_api.teams for the other tenant is refused');

    -- moving one's own row to the other tenant: refused
    RETURN NEXT throws_ok(format('UPDATE crm.users SET tenant_id = %L WHERE id = %L', other, my_user),
                          '42501', NULL, label || ': moving a user to the other tenant is refused');
    RETURN NEXT throws_ok(format('UPDATE crm_api.teams SET tenant_id = %L', other),
                          '42501', NULL, label || ': moving teams to the other tenant through crm_api is refused');

    -- updates and deletes aimed at the other tenant: a rep or a manager has no such privilege (42501);
    -- an admin has it, and RLS makes the other tenant's rows invisible to it (0 rows)
    qs := ARRAY[
        format('UPDATE crm.users SET name = ''Hacked'' WHERE tenant_id = %L RETURNING 1', other),
        format('UPDATE crm_api.users SET name = ''Hacked'' WHERE tenant_id = %L RETURNING 1', other),
        format('UPDATE crm.teams SET name = ''Hacked'' WHERE tenant_id = %L RETURNING 1', other),
        format('UPDATE crm_api.teams SET name = ''Hacked'' WHERE tenant_id = %L RETURNING 1', other),
        format('DELETE FROM crm.users WHERE tenant_id = %L RETURNING 1', other),
        format('DELETE FROM crm_api.users WHERE tenant_id = %L RETURNING 1', other),
        format('DELETE FROM crm.teams WHERE tenant_id = %L RETURNING 1', other),
        format('DELETE FROM crm_api.teams WHERE tenant_id = %L RETURNING 1', other),
        format('UPDATE crm.tenants SET name = ''Hacked'' WHERE id = %L RETURNING 1', other)];
    FOREACH q IN ARRAY qs LOOP
        IF app = 'admin' THEN
            BEGIN
                EXECUTE format('WITH w AS (%s) SELECT count(*) FROM w', q) INTO n;
                RETURN NEXT is(n, 0::bigint, label || ': touches no row: ' || split_part(q, ' WHERE', 1));
            EXCEPTION WHEN OTHERS THEN   -- an error fails the assertion, and the matrix goes on
                RETURN NEXT fail(label || ': touches no row: ' || split_part(q, ' WHERE', 1))
                            || E'\n' || diag(format('error %s: %s', SQLSTATE, SQLERRM));
            END;
        ELSE
            RETURN NEXT throws_ok(q, '42501', NULL, label || ': not allowed: ' || split_part(q, ' WHERE', 1));
        END IF;
    END LOOP;
END
$$;

-- One case of the matrix: the user of tenant `me` (prefix: its ids' first letter) in role r, with the
-- context given the way m says, tries everything on tenant `other`.
CREATE FUNCTION pg_temp.matrix_case(name text, me uuid, other uuid, prefix text, m text, r text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    -- user ids: x1 admin, x2 manager, x3 rep
    PERFORM pg_temp.become('crm_' || r, me,
        (prefix || '0000000-0000-7000-8000-0000000000' || prefix
         || CASE r WHEN 'admin' THEN '1' WHEN 'manager' THEN '2' ELSE '3' END)::uuid, m);
    RETURN QUERY SELECT * FROM pg_temp.cross_tenant(me, other,
        (prefix || '0000000-0000-7000-8000-0000000000' || prefix || '3')::uuid,
        format('tenant %s %s by %s', name, r, m));
    RETURN QUERY SELECT * FROM pg_temp.every_table(me, other, format('tenant %s %s by %s', name, r, m));
    RETURN QUERY SELECT * FROM pg_temp.every_view(me, other, format('tenant %s %s by %s', name, r, m));
    RETURN QUERY SELECT * FROM pg_temp.every_rpc(me, other, format('tenant %s %s by %s', name, r, m));
    PERFORM set_config('role', 'none', true);
END
$$;

-- The matrix: both tenants x both contexts x the three roles, one statement per case (\gexec runs the
-- statements this query writes, in its order). On Citus each case is followed by COMMIT; BEGIN: Citus
-- holds one connection per user to each worker and refuses a query on a placement that another user
-- changed in the same transaction (a refused or empty UPDATE of the other tenant's shard counts), so
-- each role's attempts are committed before the next role's. They change nothing, as the fingerprints
-- below check. On a single node the whole matrix stays in the test's one transaction.
SELECT format('SELECT * FROM pg_temp.matrix_case(%L, %L, %L, %L, %L, %L)', pair.name, pair.me, pair.other, pair.prefix, m, r),
       CASE WHEN :'on_citus'::boolean THEN 'COMMIT' END,
       CASE WHEN :'on_citus'::boolean THEN 'BEGIN' END
FROM (VALUES
        (1, 'A', 'a0000000-0000-7000-8000-00000000000a'::uuid, 'b0000000-0000-7000-8000-00000000000b'::uuid, 'a'),
        (2, 'B', 'b0000000-0000-7000-8000-00000000000b'::uuid, 'a0000000-0000-7000-8000-00000000000a'::uuid, 'b')) pair(i, name, me, other, prefix),
     unnest(ARRAY['guc', 'claims']) WITH ORDINALITY AS modes(m, mi),
     unnest(ARRAY['rep', 'manager', 'admin']) WITH ORDINALITY AS roles(r, ri)
ORDER BY pair.i, modes.mi, roles.ri
\gexec

-- Nothing of either tenant changed.
SELECT results_eq(
    'SELECT tenant, pg_temp.fingerprint(tenant) FROM fingerprints ORDER BY tenant',
    'SELECT tenant, before FROM fingerprints ORDER BY tenant',
    'after every attempt, both tenants'' rows are exactly as they were');

-- Positive controls: within its own tenant an admin writes, through the table and the view; a rep does not.
-- pg_temp.tried(q): how many rows q touched, or the error it raised (an assertion that fails, not the file).
CREATE FUNCTION pg_temp.tried(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN pg_temp.affected(q)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN format('error %s: %s', SQLSTATE, SQLERRM);
END
$$;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'claims');
SELECT lives_ok($$INSERT INTO crm.users (email, name) VALUES ('new@acme.test', 'New Hire')$$,
    'an admin inserts a user in its own tenant (tenant_id defaults to the context)');
SELECT is((SELECT tenant_id FROM crm.users WHERE email = 'new@acme.test'), 'a0000000-0000-7000-8000-00000000000a'::uuid,
    'the new user belongs to the admin''s tenant');
SELECT lives_ok($$INSERT INTO crm_api.users (email, name, role) VALUES ('api@acme.test', 'Api Hire', 'manager')$$,
    'an admin inserts a user through crm_api.users');
SELECT is((SELECT count(*) FROM crm.users WHERE email IN ('new@acme.test', 'api@acme.test')), 2::bigint,
    'both new users are visible to their admin');
SELECT is(pg_temp.tried($$UPDATE crm_api.users SET active = false WHERE email = 'api@acme.test'$$),
    '1', 'an admin updates a user of its own tenant through crm_api');
SELECT is(pg_temp.affected($$DELETE FROM crm.users WHERE email IN ('new@acme.test', 'api@acme.test')$$),
    2::bigint, 'an admin deletes users of its own tenant');
SELECT is(pg_temp.affected($$UPDATE crm.tenants SET name = 'Acme Inc'$$),
    1::bigint, 'an admin renames its own tenant');
SELECT throws_ok($$UPDATE crm.tenants SET id = 'c0000000-0000-7000-8000-00000000000c'$$, '42501', NULL,
    'an admin cannot change its tenant''s id');
SELECT throws_ok($$INSERT INTO crm.users (tenant_id, email, name) VALUES ('c0000000-0000-7000-8000-00000000000c', 'x@y.test', 'X')$$,
    '42501', NULL, 'an admin cannot insert for a tenant that does not exist either');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$UPDATE crm.users SET name = 'Renamed' WHERE id = 'a0000000-0000-7000-8000-0000000000a3'$$, '42501', NULL,
    'a manager does not administer users, even of its own tenant');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$INSERT INTO crm.teams (name) VALUES ('Rogue')$$, '42501', NULL,
    'a rep does not create teams, even in its own tenant');
SELECT throws_ok($$SELECT crm.create_tenant('Rogue Inc')$$, '42501', NULL,
    'a rep cannot create a tenant');

-- No context: every role sees nothing and inserts nothing.
CREATE FUNCTION pg_temp.no_context() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['crm_rep', 'crm_manager', 'crm_admin'] LOOP
        PERFORM pg_temp.become(r, NULL, NULL, 'none');
        RETURN NEXT is(crm.current_tenant(), NULL, r || ' without context: no tenant');
        RETURN NEXT is((SELECT count(*) FROM crm.tenants), 0::bigint, r || ' without context: crm.tenants is empty');
        RETURN NEXT is((SELECT count(*) FROM crm.users), 0::bigint, r || ' without context: crm.users is empty');
        RETURN NEXT is((SELECT count(*) FROM crm.teams), 0::bigint, r || ' without context: crm.teams is empty');
        RETURN NEXT is((SELECT count(*) FROM crm_api.users), 0::bigint, r || ' without context: crm_api.users is empty');
        RETURN NEXT is((SELECT count(*) FROM crm_api.teams), 0::bigint, r || ' without context: crm_api.teams is empty');
        RETURN NEXT throws_ok($q$INSERT INTO crm.users (email, name) VALUES ('ghost@x.test', 'Ghost')$q$, '42501', NULL,
            r || ' without context: INSERT into crm.users is refused');
        RETURN NEXT throws_ok($q$INSERT INTO crm_api.teams (name) VALUES ('Ghosts')$q$, '42501', NULL,
            r || ' without context: INSERT into crm_api.teams is refused');
        RETURN NEXT throws_ok(
            $q$INSERT INTO crm.users (tenant_id, email, name) VALUES ('a0000000-0000-7000-8000-00000000000a', 'ghost@x.test', 'Ghost')$q$,
            '42501', NULL, r || ' without context: INSERT naming a tenant is refused');
    END LOOP;
    PERFORM set_config('role', 'none', true);
END
$$;
SELECT * FROM pg_temp.no_context();

-- The anonymous role reads no table at all.
SELECT pg_temp.become('crm_anon', 'a0000000-0000-7000-8000-00000000000a', NULL, 'claims');
SELECT throws_ok('SELECT * FROM crm.users', '42501', NULL, 'crm_anon cannot read crm.users');
SELECT throws_ok('SELECT * FROM crm_api.users', '42501', NULL, 'crm_anon cannot read crm_api.users');
SELECT throws_ok('SELECT * FROM crm_api.teams', '42501', NULL, 'crm_anon cannot read crm_api.teams');
SELECT throws_ok('SELECT * FROM crm.tenants', '42501', NULL, 'crm_anon cannot read crm.tenants');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
