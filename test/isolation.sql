-- isolation.sql (pgTAP): two tenants and every role. A user of one tenant reads, inserts, updates and
-- deletes nothing of the other, through the crm tables and the crm_api views, with the context given by
-- the GUCs (crm.set_context) and by PostgREST's request.jwt.claims. No context: no rows, 42501 on insert.
\ir lib/preamble.psql

BEGIN;
SELECT plan(320);

\ir lib/two_tenants.psql

-- A fingerprint of everything a tenant owns, to prove afterwards that nothing of it changed.
CREATE FUNCTION pg_temp.fingerprint(t uuid) RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(concat_ws(',', id, name, settings, updated_at), ';') FROM crm.tenants WHERE id = t),
        (SELECT string_agg(concat_ws(',', id, name, updated_at), ';' ORDER BY id) FROM crm.teams WHERE tenant_id = t),
        (SELECT string_agg(concat_ws(',', id, email, name, role, team_id, active, updated_at), ';' ORDER BY id)
           FROM crm.users WHERE tenant_id = t)))
$$;
CREATE TEMP TABLE fingerprints AS
    SELECT t AS tenant, pg_temp.fingerprint(t) AS before
    FROM unnest('{a0000000-0000-7000-8000-00000000000a,b0000000-0000-7000-8000-00000000000b}'::uuid[]) t;
GRANT SELECT ON fingerprints TO PUBLIC;

-- Become a crm role with a context: 'guc' (crm.set_context, as an application does) or 'claims'
-- (request.jwt.claims, as PostgREST does, with the GUCs empty). Everything is transaction-local.
CREATE FUNCTION pg_temp.become(db_role text, tenant uuid, user_id uuid, mode text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'none', true);
    PERFORM crm.set_context(NULL, NULL);
    PERFORM set_config('request.jwt.claims', '', true);
    PERFORM set_config('role', db_role, true);
    IF mode = 'guc' THEN
        PERFORM crm.set_context(tenant, user_id);
    ELSIF mode = 'claims' THEN
        PERFORM set_config('request.jwt.claims',
            json_build_object('role', db_role, 'tenant_id', tenant, 'sub', user_id)::text, true);
    ELSIF mode IS DISTINCT FROM 'none' THEN
        RAISE EXCEPTION 'unknown mode %', mode;
    END IF;
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
            EXECUTE format('WITH w AS (%s) SELECT count(*) FROM w', q) INTO n;
            RETURN NEXT is(n, 0::bigint, label || ': touches no row: ' || split_part(q, ' WHERE', 1));
        ELSE
            RETURN NEXT throws_ok(q, '42501', NULL, label || ': not allowed: ' || split_part(q, ' WHERE', 1));
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION pg_temp.matrix() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    pair record;
    r text;
    m text;
BEGIN
    FOR pair IN SELECT * FROM (VALUES
        ('A', 'a0000000-0000-7000-8000-00000000000a'::uuid, 'b0000000-0000-7000-8000-00000000000b'::uuid, 'a'),
        ('B', 'b0000000-0000-7000-8000-00000000000b'::uuid, 'a0000000-0000-7000-8000-00000000000a'::uuid, 'b')) v(name, me, other, prefix)
    LOOP
        FOREACH m IN ARRAY ARRAY['guc', 'claims'] LOOP
            FOREACH r IN ARRAY ARRAY['rep', 'manager', 'admin'] LOOP
                -- user ids: x1 admin, x2 manager, x3 rep
                PERFORM pg_temp.become('crm_' || r, pair.me,
                    (pair.prefix || '0000000-0000-7000-8000-0000000000' || pair.prefix
                     || CASE r WHEN 'admin' THEN '1' WHEN 'manager' THEN '2' ELSE '3' END)::uuid, m);
                RETURN QUERY SELECT * FROM pg_temp.cross_tenant(pair.me, pair.other,
                    (pair.prefix || '0000000-0000-7000-8000-0000000000' || pair.prefix || '3')::uuid,
                    format('tenant %s %s by %s', pair.name, r, m));
            END LOOP;
        END LOOP;
    END LOOP;
    PERFORM set_config('role', 'none', true);
END
$$;

SELECT * FROM pg_temp.matrix();

-- Nothing of either tenant changed.
SELECT results_eq(
    'SELECT tenant, pg_temp.fingerprint(tenant) FROM fingerprints ORDER BY tenant',
    'SELECT tenant, before FROM fingerprints ORDER BY tenant',
    'after every attempt, both tenants'' rows are exactly as they were');

-- How many rows a data-modifying statement touched.
CREATE FUNCTION pg_temp.affected(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('WITH w AS (%s RETURNING 1) SELECT count(*) FROM w', q) INTO n;
    RETURN n;
END
$$;

-- Positive controls: within its own tenant an admin writes, through the table and the view; a rep does not.
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'claims');
SELECT lives_ok($$INSERT INTO crm.users (email, name) VALUES ('new@acme.test', 'New Hire')$$,
    'an admin inserts a user in its own tenant (tenant_id defaults to the context)');
SELECT is((SELECT tenant_id FROM crm.users WHERE email = 'new@acme.test'), 'a0000000-0000-7000-8000-00000000000a'::uuid,
    'the new user belongs to the admin''s tenant');
SELECT lives_ok($$INSERT INTO crm_api.users (email, name, role) VALUES ('api@acme.test', 'Api Hire', 'manager')$$,
    'an admin inserts a user through crm_api.users');
SELECT is((SELECT count(*) FROM crm.users WHERE email IN ('new@acme.test', 'api@acme.test')), 2::bigint,
    'both new users are visible to their admin');
SELECT is(pg_temp.affected($$UPDATE crm_api.users SET active = false WHERE email = 'api@acme.test'$$),
    1::bigint, 'an admin updates a user of its own tenant through crm_api');
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
