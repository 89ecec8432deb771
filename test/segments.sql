-- segments.sql (pgTAP): dynamic segments: every criteria operator and combinations against the same
-- condition written in plain SQL, injection attempts, diffs and bulk events, static segments, the
-- example segments, and who may define and refresh.
\ir lib/preamble.psql

BEGIN;
SELECT plan(74);
\ir lib/two_tenants.psql
\ir lib/become.psql

-- more accounts for tenant A, with every field set or not (as the superuser)
INSERT INTO crm.accounts (tenant_id, id, name, industry, country, employee_count, annual_revenue, lifecycle_stage, owner_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000005a1', 'Globex', 'software', 'US', 5000, 9000000, 'customer', 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000005a2', 'Hooli', 'software', 'US', 150, 1000000, 'prospect', 'a0000000-0000-7000-8000-0000000000a2'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000005a3', 'Vandelay', 'import/export', 'DE', NULL, NULL, 'lead', 'a0000000-0000-7000-8000-0000000000a3'),
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000005a4', 'Soylent', 'Food', 'FR', 800, 2500000, 'churned', 'a0000000-0000-7000-8000-0000000000a2');
INSERT INTO crm.account_health_latest (tenant_id, account_id, scored_on, score, band, trend)
VALUES ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000005a4', current_date, 30, 'red', 'stable');
INSERT INTO crm.taggings (tenant_id, tag_id, entity_type, entity_id) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000a81', 'account', 'a0000000-0000-7000-8000-0000000005a4');
INSERT INTO crm.opportunities (tenant_id, name, account_id, amount, owner_id, stage_id)
SELECT 'a0000000-0000-7000-8000-00000000000a', d.name, d.account_id, d.amount, 'a0000000-0000-7000-8000-0000000000a3', s.id
FROM (VALUES ('Globex deal', 'a0000000-0000-7000-8000-0000000005a1'::uuid, 100000, 'closed_won'),
             ('Hooli pilot', 'a0000000-0000-7000-8000-0000000005a2'::uuid, 50000, 'proposal')) d(name, account_id, amount, stage)
JOIN crm.pipeline_stages s ON s.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND s.name = d.stage;
\ir citus/lib.psql
-- On Citus the superuser's writes to a tenant's shards are committed before a crm role reads them
-- (Citus keeps one connection per user to each worker, and refuses a read of placements another user
-- changed in the transaction); pg_temp.n and pg_temp.v evaluate a query of one tenant's shard apart
-- from the pgTAP call (which Citus would send to the shard with it).
\if :on_citus
COMMIT;
BEGIN;
\endif

-- the plain SQL side: the same conditions over crm_api.accounts (with the latest health), written by hand
CREATE TEMP TABLE cases (label text, criteria jsonb, plain text);
INSERT INTO cases VALUES
    ('=',            '{"field": "industry", "op": "=", "value": "software"}', $$industry = 'software'$$),
    ('!=',           '{"field": "industry", "op": "!=", "value": "software"}', $$industry <> 'software'$$),
    ('<',            '{"field": "employee_count", "op": "<", "value": 200}', $$employee_count < 200$$),
    ('<=',           '{"field": "employee_count", "op": "<=", "value": 800}', $$employee_count <= 800$$),
    ('>',            '{"field": "annual_revenue", "op": ">", "value": 1000000}', $$annual_revenue > 1000000$$),
    ('>=',           '{"field": "employee_count", "op": ">=", "value": 1000}', $$employee_count >= 1000$$),
    ('between',      '{"field": "employee_count", "op": "between", "value": [150, 800]}', $$employee_count BETWEEN 150 AND 800$$),
    ('in',           '{"field": "country", "op": "in", "value": ["US", "FR"]}', $$country IN ('US', 'FR')$$),
    ('not_in',       '{"field": "country", "op": "not_in", "value": ["US"]}', $$country NOT IN ('US')$$),
    ('is_null',      '{"field": "employee_count", "op": "is_null"}', $$employee_count IS NULL$$),
    ('is_not_null',  '{"field": "industry", "op": "is_not_null"}', $$industry IS NOT NULL$$),
    ('contains',     '{"field": "industry", "op": "contains", "value": "OFT"}', $$industry ILIKE '%oft%'$$),
    ('contains /',   '{"field": "industry", "op": "contains", "value": "/"}', $$industry LIKE '%/%'$$),
    ('has_tag',      '{"field": "tags", "op": "has_tag", "value": "vip"}',
                     $$EXISTS (SELECT 1 FROM crm.taggings g JOIN crm.tags t ON t.id = g.tag_id WHERE g.entity_id = a.id AND lower(t.name) = 'vip')$$),
    ('= uuid',       '{"field": "owner_id", "op": "=", "value": "a0000000-0000-7000-8000-0000000000a3"}', $$owner_id = 'a0000000-0000-7000-8000-0000000000a3'$$),
    ('in enum',      '{"field": "lifecycle_stage", "op": "in", "value": ["customer", "churned"]}', $$lifecycle_stage IN ('customer', 'churned')$$),
    ('health band',  '{"field": "health_band", "op": "=", "value": "red"}', $$health_band = 'red'$$),
    ('won revenue',  '{"field": "won_revenue", "op": ">", "value": 0}',
                     $$EXISTS (SELECT 1 FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.id = o.stage_id WHERE o.account_id = a.id AND s.is_won)$$),
    ('open pipeline', '{"field": "open_pipeline_value", "op": ">=", "value": 50000}',
                     $$(SELECT sum(o.amount) FROM crm.opportunities o WHERE o.account_id = a.id AND o.closed_at IS NULL) >= 50000$$),
    ('no activity',  '{"field": "days_since_last_activity", "op": "is_null"}',
                     $$NOT EXISTS (SELECT 1 FROM crm.activities v WHERE v.account_id = a.id OR v.contact_id IN (SELECT c.id FROM crm.contacts c WHERE c.account_id = a.id))$$),
    ('all',          '{"all": [{"field": "industry", "op": "=", "value": "software"}, {"field": "employee_count", "op": ">=", "value": 1000}]}',
                     $$industry = 'software' AND employee_count >= 1000$$),
    ('any',          '{"any": [{"field": "country", "op": "=", "value": "DE"}, {"field": "tags", "op": "has_tag", "value": "VIP"}]}',
                     $$country = 'DE' OR EXISTS (SELECT 1 FROM crm.taggings g WHERE g.entity_id = a.id)$$),
    ('not',          '{"not": {"field": "industry", "op": "=", "value": "software"}}', $$industry IS DISTINCT FROM 'software'$$),
    ('nested',       '{"all": [{"any": [{"field": "country", "op": "=", "value": "US"}, {"field": "country", "op": "=", "value": "FR"}]}, {"not": {"field": "employee_count", "op": "<", "value": 500}}]}',
                     $$country IN ('US', 'FR') AND employee_count IS DISTINCT FROM NULL AND employee_count >= 500$$),
    ('quote in a value', $${"field": "industry", "op": "=", "value": "x' OR '1'='1"}$$, $$industry = 'x'' OR ''1''=''1'$$),
    ('% in contains', '{"field": "industry", "op": "contains", "value": "%"}', $$strpos(industry, '%') > 0$$);

GRANT SELECT ON cases TO crm_rep;
-- Each case is a segment, defined and refreshed by the admin, then compared with its plain SQL: first
-- every segment, then every refresh, then every comparison. On Citus each step runs in transactions of
-- its own: a refresh writes as the extension's owner (a SECURITY DEFINER job), and Citus refuses a
-- user's access to a tenant's shards that another user changed in the same transaction (the admin's
-- read of the next segment to refresh included), so there each refresh commits.
CREATE FUNCTION pg_temp.case_segment(label text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    seg uuid;
BEGIN
    SELECT s.id INTO seg FROM crm.segments s WHERE s.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND s.name = 'case ' || label;
    RETURN seg;
END
$$;
CREATE FUNCTION pg_temp.define_case(label text, criteria jsonb) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    seg uuid;
BEGIN
    INSERT INTO crm.segments (tenant_id, name, criteria) VALUES ('a0000000-0000-7000-8000-00000000000a', 'case ' || label, criteria) RETURNING id INTO seg;
    RETURN seg;
END
$$;
CREATE FUNCTION pg_temp.mismatches(label text, plain text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    seg uuid := pg_temp.case_segment(label);
    n bigint;
BEGIN
    EXECUTE format($q$SELECT count(*) FROM (
        (SELECT a.id FROM crm_api.accounts a WHERE a.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND (%s)
         EXCEPT SELECT m.account_id FROM crm.segment_members m WHERE m.segment_id = $1)
        UNION ALL
        (SELECT m.account_id FROM crm.segment_members m WHERE m.segment_id = $1
         EXCEPT SELECT a.id FROM crm_api.accounts a WHERE a.tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND (%s))) d$q$, plain, plain)
    INTO n USING seg;
    RETURN n;
END
$$;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT pg_temp.define_case(label, criteria) FROM cases ORDER BY label \g /dev/null
-- the refreshes, one statement each (on Citus each in a transaction of its own, between BEGIN and COMMIT)
\if :on_citus
COMMIT;
\endif
\o /dev/null
SELECT CASE WHEN :'on_citus'::boolean THEN 'BEGIN' END,
       $$SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc')$$,
       format('SELECT crm.refresh_segment(pg_temp.case_segment(%L))', label),
       CASE WHEN :'on_citus'::boolean THEN 'COMMIT' END
  FROM cases ORDER BY label \gexec
\o
\if :on_citus
BEGIN;
\endif
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT is(pg_temp.mismatches(label, plain), 0::bigint, 'criteria ' || label || ' = plain SQL') FROM cases ORDER BY label;
SELECT ok(pg_temp.v($$SELECT count(DISTINCT member_count) > 5 FROM crm.segments WHERE name LIKE 'case %'$$)::boolean, 'the cases select different accounts');
SELECT is(pg_temp.v($$SELECT member_count FROM crm.segments WHERE name = 'case quote in a value'$$)::integer, 0, 'a quote in a value is only a strange value');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.accounts$$), 6::bigint, '    and every account of the tenant is still there');

-- injection attempts and other bad criteria: 22023 naming the element
CREATE FUNCTION pg_temp.refused(criteria jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm.segments (tenant_id, name, criteria) VALUES ('a0000000-0000-7000-8000-00000000000a', 'bad ' || md5(criteria::text), criteria);
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT is(pg_temp.refused('{"field": "industry; DROP TABLE crm.accounts", "op": "=", "value": "x"}'),
    '22023: invalid segment criteria at $.field: "industry; DROP TABLE crm.accounts" is not a field segments can use', 'SQL in a field name');
SELECT is(pg_temp.refused('{"field": "s.industry", "op": "=", "value": "x"}'),
    '22023: invalid segment criteria at $.field: "s.industry" is not a field segments can use', 'a qualified field name');
SELECT is(pg_temp.refused($${"all": [{"field": "industry", "op": "= 'x' OR true --", "value": "x"}]}$$),
    $$22023: invalid segment criteria at $.all[0].op: "= 'x' OR true --" is not an operator$$, 'SQL in an operator');
SELECT is(pg_temp.refused('{"field": "employee_count", "op": ">", "value": "1; DROP TABLE crm.accounts"}'),
    '22023: invalid segment criteria at $.value: "1; DROP TABLE crm.accounts" is not a number value for employee_count', 'SQL in a number');
SELECT is(pg_temp.refused('{"field": "owner_id", "op": "=", "value": "x'')::uuid OR true --"}'),
    $$22023: invalid segment criteria at $.value: "x')::uuid OR true --" is not a uuid value for owner_id$$, 'SQL in a uuid');
SELECT is(pg_temp.refused('{"any": []}'), '22023: invalid segment criteria at $.any: a non-empty array of nodes is expected', 'an empty any');
SELECT is(pg_temp.refused('{"field": "industry", "op": "<", "value": "m"}'),
    '22023: invalid segment criteria at $.op: < does not apply to industry, a text field', 'an order on text');
SELECT is(pg_temp.refused('{"field": "country", "op": "between", "value": [1, 2]}'),
    '22023: invalid segment criteria at $.op: between does not apply to country, a text field', 'between on text');
SELECT is(pg_temp.refused('{"field": "employee_count", "op": "between", "value": [10, 1]}'),
    '22023: invalid segment criteria at $.value: between takes [low, high], two numbers, low first', 'between upside down');
SELECT is(pg_temp.refused('{"field": "tags", "op": "=", "value": "vip"}'),
    '22023: invalid segment criteria at $.op: has_tag is the operator of tags, and tags has no other', 'tags with =');
SELECT is(pg_temp.refused('{"field": "industry", "op": "is_null", "value": 1}'),
    '22023: invalid segment criteria at $.value: is_null takes no value', 'is_null with a value');
SELECT is(pg_temp.refused('{"not": {"field": "industry", "op": "in", "value": []}}'),
    '22023: invalid segment criteria at $.not.value: in takes a non-empty list of text values', 'an empty list');
SELECT is(pg_temp.refused('{"field": "industry", "op": "=", "value": "x", "sql": "1"}'),
    '22023: invalid segment criteria at $.sql: unknown key', 'an unknown key');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm.segments WHERE name LIKE 'bad %'$$), 0::bigint, 'no refused segment was saved');

-- diffs and events (on Citus, the admin's writes are committed before the manager's refresh writes as the
-- extension's owner, and each refresh before the manager's next read or write of the tenant's shards)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT is((crm.refresh_segments()->>'added')::bigint, 4::bigint,
    'a manager refreshes every segment: Globex joins Enterprise, Hooli SMB, Soylent At risk');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT results_eq($$SELECT a.name FROM crm.segment_members m JOIN crm.accounts a ON a.tenant_id = m.tenant_id AND a.id = m.account_id
                     WHERE m.segment_id = (SELECT id FROM crm.segments WHERE name = 'High value') ORDER BY a.name$$,
    ARRAY['Globex'], '    and Globex, the only account with a won deal, High value (the top decile of one)');
CREATE TEMP TABLE before AS SELECT segment_id, account_id, added_at FROM crm.segment_members;
SELECT row_eq($$SELECT (r->>'added')::int, (r->>'removed')::int FROM crm.refresh_segments() r$$, ROW(0, 0), 'a second refresh adds and removes nothing');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT set_eq($$SELECT segment_id, account_id, added_at FROM crm.segment_members$$, $$SELECT * FROM before$$, '    and leaves every member as it was');
UPDATE crm.accounts SET employee_count = 2000 WHERE name = 'Hooli';
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(crm.refresh_segment(pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'Enterprise'$$)::uuid), '{"added": 1, "removed": 0, "members": 2}'::jsonb,
    'Hooli grows to 2000 employees: it joins Enterprise');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(crm.refresh_segment(pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'SMB'$$)::uuid), '{"added": 0, "removed": 1, "members": 0}'::jsonb,
    '    and leaves SMB');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
\endif
SELECT is(pg_temp.v($$SELECT payload FROM crm_api.events WHERE type = 'segment.member_added' AND entity_id = (SELECT id FROM crm.segments WHERE name = 'Enterprise')
            ORDER BY id DESC LIMIT 1$$)::jsonb,
    '{"count": 1, "complete": true, "account_ids": ["a0000000-0000-7000-8000-0000000005a2"]}'::jsonb, 'segment.member_added names it');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm_api.events WHERE type = 'segment.member_removed' AND entity_id = (SELECT id FROM crm.segments WHERE name = 'SMB')$$),
    1::bigint, 'segment.member_removed, once');
SELECT ok(pg_temp.v($$SELECT added_at FROM crm.segment_members WHERE account_id = 'a0000000-0000-7000-8000-0000000005a1'
             AND segment_id = (SELECT id FROM crm.segments WHERE name = 'Enterprise')$$)::timestamptz
          = (SELECT added_at FROM before WHERE account_id = 'a0000000-0000-7000-8000-0000000005a1'
             AND segment_id = pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'Enterprise'$$)::uuid), 'Globex, still a member, keeps its added_at');
SELECT throws_ok($$SELECT crm.refresh_segment('b0000000-0000-7000-8000-00000000000b')$$, 'PT404', NULL, 'an unknown segment: 404');

-- permissions: reps read, admins define, managers refresh
SELECT throws_ok($$INSERT INTO crm.segments (name, criteria) VALUES ('Mine', '{"field": "country", "op": "=", "value": "US"}')$$, '42501', NULL,
    'a manager does not define segments');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm_api.segments WHERE name = 'Enterprise'$$), 1::bigint, 'a rep reads segments');
SELECT throws_ok($$SELECT crm.refresh_segments()$$, '42501', NULL, 'a rep does not refresh them');
SELECT throws_ok($$DELETE FROM crm.segments$$, '42501', NULL, '    nor deletes them');

-- a static segment: members by hand, counted
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
INSERT INTO crm.segments (name, is_dynamic) VALUES ('Trade show list', false);
-- (the ids read first, then rows of VALUES: Citus runs an INSERT ... SELECT into a table with a volatile
-- default, crm.uuid_v7(), by a COPY into the shard, which it refuses under row-level security)
SELECT (SELECT id FROM crm.segments WHERE name = 'Trade show list') AS trade_show,
       (SELECT id FROM crm.accounts WHERE name = 'Globex') AS globex, (SELECT id FROM crm.accounts WHERE name = 'Vandelay') AS vandelay \gset
INSERT INTO crm.segment_members (segment_id, account_id) VALUES (:'trade_show', :'globex'), (:'trade_show', :'vandelay');
SELECT is(pg_temp.v($$SELECT member_count FROM crm.segments WHERE name = 'Trade show list'$$)::integer, 2, 'a static segment counts the members added by hand');
-- (on Citus the admin's writes are committed before a refresh, and a refresh before the admin's next statement)
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT is(crm.refresh_segment(pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'Trade show list'$$)::uuid), '{"added": 0, "removed": 0, "members": 2}'::jsonb,
    '    and a refresh keeps them');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT throws_ok($$INSERT INTO crm.segments (name, is_dynamic, criteria) VALUES ('Odd', false, '{"field": "country", "op": "=", "value": "US"}')$$,
    '22023', NULL, 'a static segment has no criteria');
-- (called with the segment's id, as GET /rpc/segment_members?segment_id=... calls it: Citus would send a
-- call with a subquery over crm.segments to the shard, where the function cannot query the shards)
SELECT results_eq(format('SELECT name FROM crm_api.segment_members(%L)', pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'Trade show list'$$)),
    ARRAY['Globex', 'Vandelay'], 'crm_api.segment_members lists its accounts');

-- criteria nest 32 levels at most: at the limit saved and refreshed, one past it refused at its path
-- (IMMUTABLE, as it is: Citus takes no VOLATILE function in an UPDATE of a distributed table)
CREATE FUNCTION pg_temp.nested(levels int) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT (repeat('{"not": ', levels) || '{"field": "country", "op": "=", "value": "US"}' || repeat('}', levels))::jsonb $$;
SELECT lives_ok($$INSERT INTO crm.segments (name, criteria) VALUES ('Deep', pg_temp.nested(32))$$, 'criteria nested 32 levels deep are saved');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT is((crm.refresh_segment(pg_temp.v($$SELECT id FROM crm.segments WHERE name = 'Deep'$$)::uuid)->>'members')::bigint, 2::bigint,
    '    and refreshed (32 nots: the country is US, Globex and Hooli)');
\if :on_citus
COMMIT;
BEGIN;
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
\endif
SELECT throws_ok($$UPDATE crm.segments SET criteria = pg_temp.nested(33) WHERE name = 'Deep'$$, '22023',
    'invalid segment criteria at $' || repeat('.not', 33) || ': nested too deep (32 levels at most)', 'one level deeper is refused at its path');
SELECT is(pg_temp.v($$SELECT criteria FROM crm.segments WHERE name = 'Deep'$$)::jsonb, pg_temp.nested(32), '    and the segment keeps its criteria');

-- High value, the top decile of won revenue, when values tie: a tenant whose only winning account won
-- 200k has it in the segment; accounts that tie share the highest decile they reach. Tenant C (as the
-- operator): Initrode alone first, then 23 accounts more, whose won revenue ties in groups.
RESET ROLE;
SELECT crm.create_tenant('Cyberdyne', '{}', 'c0000000-0000-7000-8000-00000000000c');
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'c0000000-0000-7000-8000-0000000000c1', 'cy@cyberdyne.test', 'Cy Admin', 'admin');
-- (PL/pgSQL: Citus plans no parameterized LANGUAGE sql function over its tables)
CREATE FUNCTION pg_temp.won(account text, amount numeric) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm.opportunities (tenant_id, name, account_id, amount, owner_id, stage_id)
    SELECT 'c0000000-0000-7000-8000-00000000000c', 'deal', a.id, won.amount, 'c0000000-0000-7000-8000-0000000000c1', s.id
      FROM crm.accounts a, crm.pipeline_stages s
     WHERE a.tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND a.name = won.account
       AND s.tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND s.name = 'closed_won';
END
$$;
CREATE FUNCTION pg_temp.high_value_c() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT a.name FROM crm.segment_members m JOIN crm.accounts a ON a.tenant_id = m.tenant_id AND a.id = m.account_id
     WHERE m.tenant_id = 'c0000000-0000-7000-8000-00000000000c'
       AND m.segment_id = (SELECT id FROM crm.segments WHERE tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND name = 'High value')
     ORDER BY a.name $$;
INSERT INTO crm.accounts (tenant_id, name, owner_id) VALUES
    ('c0000000-0000-7000-8000-00000000000c', 'Initrode', 'c0000000-0000-7000-8000-0000000000c1'),
    ('c0000000-0000-7000-8000-00000000000c', 'No deal yet', 'c0000000-0000-7000-8000-0000000000c1');
SELECT pg_temp.won('Initrode', 120000), pg_temp.won('Initrode', 80000);
SELECT lives_ok($$SELECT crm.refresh_segments('c0000000-0000-7000-8000-00000000000c')$$, 'the operator refreshes tenant C''s segments');
SELECT results_eq($$SELECT * FROM pg_temp.high_value_c()$$, ARRAY['Initrode'],
    'a tenant whose only winning account won 200k has it in High value (an account without a won deal has no decile)');
-- 23 more: acct-01 .. acct-23 winning 30k, 60k, ... 240k in ties of three (acct-22 and acct-23 then win 40k more)
INSERT INTO crm.accounts (tenant_id, name, owner_id)
SELECT 'c0000000-0000-7000-8000-00000000000c', format('acct-%s', lpad(i::text, 2, '0')), 'c0000000-0000-7000-8000-0000000000c1'
  FROM generate_series(1, 23) i;
SELECT pg_temp.won(format('acct-%s', lpad(i::text, 2, '0')), 10000 * (3 * ((i - 1) / 3) + 3)) FROM generate_series(1, 23) i;
SELECT pg_temp.won('acct-22', 40000), pg_temp.won('acct-23', 40000);  -- 280k each, tying at the top
SELECT crm.refresh_segments('c0000000-0000-7000-8000-00000000000c');
-- the plain SQL side: an account's decile is ceil(10 x the share of winning accounts that won no more than it)
CREATE TEMP TABLE deciles_c AS
SELECT w.name, w.won, ceil(10 * cume_dist() OVER (ORDER BY w.won))::int AS decile
  FROM (SELECT a.name, sum(o.amount) AS won FROM crm.accounts a
          JOIN crm.opportunities o ON o.tenant_id = a.tenant_id AND o.account_id = a.id
          JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id AND s.is_won
         WHERE a.tenant_id = 'c0000000-0000-7000-8000-00000000000c' GROUP BY a.name) w;
SELECT results_eq($$SELECT * FROM pg_temp.high_value_c()$$, $$SELECT name FROM deciles_c WHERE decile = 10 ORDER BY name$$,
    'High value holds exactly the accounts of the top decile computed in plain SQL');
SELECT results_eq($$SELECT * FROM pg_temp.high_value_c()$$, ARRAY['acct-19', 'acct-20', 'acct-21', 'acct-22', 'acct-23'],
    '    of 24 winning accounts: the two tied at 280k and the three tied at 210k, whose tie crosses the top tenth (22 of 24 win no more): ties do not split a decile');
-- every decile, each as a segment of its own, against the plain SQL
INSERT INTO crm.segments (tenant_id, name, criteria)
SELECT 'c0000000-0000-7000-8000-00000000000c', format('decile %s', k), jsonb_build_object('field', 'won_revenue_decile', 'op', '=', 'value', k)
  FROM generate_series(1, 10) k;
SELECT crm.refresh_segments('c0000000-0000-7000-8000-00000000000c');
SELECT set_eq($$SELECT substr(g.name, 8)::int, a.name FROM crm.segment_members m
                 JOIN crm.segments g ON g.tenant_id = m.tenant_id AND g.id = m.segment_id
                 JOIN crm.accounts a ON a.tenant_id = m.tenant_id AND a.id = m.account_id
                WHERE m.tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND g.name LIKE 'decile %'$$,
    $$SELECT decile, name FROM deciles_c$$, 'every account with won revenue is in the decile plain SQL gives it, ties together');

-- every new tenant has the example segments
SELECT results_eq($$SELECT name FROM crm.segments WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b' ORDER BY name$$,
    ARRAY['At risk', 'Enterprise', 'High value', 'SMB'], 'the example segments of a new tenant');


-- Deleting a segment clears campaigns.segment_id (a plain key and its delete path, docs/design.md §12),
-- only in its tenant (tenant B has a segment of the same id, named by its campaign).
-- (on Citus the admin's writes to tenant A above are committed before the superuser's)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('none', NULL, NULL, 'none');
INSERT INTO crm.segments (tenant_id, id, name, is_dynamic) VALUES
    ('a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-000000000a5d', 'Going away', false),
    ('b0000000-0000-7000-8000-00000000000b', 'a0000000-0000-7000-8000-000000000a5d', 'Same id in B', false);
UPDATE crm.campaigns SET segment_id = 'a0000000-0000-7000-8000-000000000a5d'
 WHERE id IN ('a0000000-0000-7000-8000-000000000a84', 'b0000000-0000-7000-8000-000000000b84');
-- (on Citus the superuser's writes are committed before the admin's, and the admin's before the superuser reads)
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT lives_ok($$DELETE FROM crm.segments WHERE id = 'a0000000-0000-7000-8000-000000000a5d'$$, 'an admin deletes a segment');
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('none', NULL, NULL, 'none');
SELECT is(pg_temp.v($$SELECT segment_id FROM crm.campaigns WHERE id = 'a0000000-0000-7000-8000-000000000a84'$$)::uuid, NULL,
    'the campaign that targeted it loses its segment_id');
SELECT is(pg_temp.v($$SELECT segment_id FROM crm.campaigns WHERE id = 'b0000000-0000-7000-8000-000000000b84'$$)::uuid, 'a0000000-0000-7000-8000-000000000a5d'::uuid,
    'tenant B''s campaign naming its own segment of the same id keeps it');

SELECT * FROM finish();
ROLLBACK;
