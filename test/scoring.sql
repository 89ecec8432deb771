-- scoring.sql (pgTAP): who reads and who changes scoring models; scores through RLS and the API.
\ir lib/preamble.psql

BEGIN;
SELECT plan(17);
\ir lib/two_tenants.psql
\ir lib/become.psql
-- pg_temp.n and pg_temp.v: a query evaluated apart from the pgTAP call (on Citus a query of one tenant's
-- shard is sent to the shard whole, pgTAP's call included)
\ir citus/lib.psql

SELECT is(pg_temp.n($$SELECT count(*) FROM crm.scoring_models WHERE is_active$$), 2::bigint, 'each tenant starts with an active model');
SELECT is(pg_temp.v($$SELECT rules FROM crm.scoring_models WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a'$$)::jsonb, crm.default_scoring_rules(),
    'the default model');

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
UPDATE crm.leads SET employee_count = 250, industry = 'software', is_decision_maker = true WHERE id = 'a0000000-0000-7000-8000-000000000ab1';
SELECT is(pg_temp.v($$SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'a0000000-0000-7000-8000-000000000ab1'$$)::integer, 60, 'a rep scores a lead it reads: 20 + 15 + 25');
SELECT is(pg_temp.n($$SELECT count(*) FROM crm_api.scoring_models$$), 1::bigint, 'a rep reads its tenant''s model');
SELECT throws_ok($$UPDATE crm.scoring_models SET is_active = false$$, '42501', NULL, 'a rep does not change models');
SELECT throws_ok($$INSERT INTO crm.scoring_models (name, rules) VALUES ('Mine', crm.default_scoring_rules())$$, '42501', NULL, 'nor adds one');
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$INSERT INTO crm.scoring_models (name, rules) VALUES ('Mine', crm.default_scoring_rules())$$, '42501', NULL, 'nor does a manager');

-- On Citus a transaction's writes to a tenant's shards and its later reads or writes there must be of
-- one user (Citus keeps one connection per user to each worker): the rep's change is committed first
\if :on_citus
COMMIT;
BEGIN;
\endif
SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT lives_ok($$INSERT INTO crm.scoring_models (name, rules, is_active) VALUES ('Decision makers only',
    '{"fit": [{"name": "dm", "field": "is_decision_maker", "equals": true, "points": 90}]}', true)$$, 'an admin adds and activates a model');
SELECT results_eq($$SELECT name FROM crm.scoring_models WHERE is_active$$, ARRAY['Decision makers only'], 'the old model is no longer active');
SELECT is(pg_temp.v($$SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'a0000000-0000-7000-8000-000000000ab1'$$)::integer, 90, 'scores follow the active model');
SELECT throws_ok($$UPDATE crm.scoring_models SET rules = '{"fit": []}' WHERE is_active$$, '22023', NULL, 'invalid rules are refused');
SELECT pg_temp.become('crm_rep', 'b0000000-0000-7000-8000-00000000000b', 'b0000000-0000-7000-8000-0000000000b3', 'guc');
SELECT is(pg_temp.v($$SELECT crm.lead_score(l) FROM crm.leads l WHERE id = 'b0000000-0000-7000-8000-000000000bb1'$$)::integer, 0,
    'tenant B still scores with its own default model');
RESET ROLE;
\if :on_citus
COMMIT;
BEGIN;
\endif

-- one scan over both tenants' leads scores each by its own tenant's model; tenants with the same rules
-- document share one parsed model, which a change of either's model does not leak into the other
UPDATE crm.leads SET is_decision_maker = true WHERE id = 'b0000000-0000-7000-8000-000000000bb1';
SELECT results_eq($$SELECT l.id::text, crm.lead_score(l) FROM crm.leads l
                    WHERE l.id IN ('a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-000000000bb1') ORDER BY 1$$,
    $$VALUES ('a0000000-0000-7000-8000-000000000ab1', 90), ('b0000000-0000-7000-8000-000000000bb1', 25)$$,
    'one scan: each tenant''s leads by its own model');
-- (A's rules read first, then written to B: Citus plans no UPDATE of one tenant's shard that reads another's)
SELECT rules AS a_rules FROM crm.scoring_models WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_active \gset
UPDATE crm.scoring_models SET rules = :'a_rules' WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b' AND is_active;
SELECT results_eq($$SELECT l.id::text, crm.lead_score(l) FROM crm.leads l
                    WHERE l.id IN ('a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-000000000bb1') ORDER BY 1$$,
    $$VALUES ('a0000000-0000-7000-8000-000000000ab1', 90), ('b0000000-0000-7000-8000-000000000bb1', 90)$$,
    'the same rules document: the same scores');
UPDATE crm.scoring_models SET rules = crm.default_scoring_rules() WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_active;
SELECT results_eq($$SELECT l.id::text, crm.lead_score(l) FROM crm.leads l
                    WHERE l.id IN ('a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-000000000bb1') ORDER BY 1$$,
    $$VALUES ('a0000000-0000-7000-8000-000000000ab1', 60), ('b0000000-0000-7000-8000-000000000bb1', 90)$$,
    'one tenant''s model changed, the other''s not');

-- a model may hold as many rules as the engine takes (64, MAX_RULES in src/scoring.c), and no more:
-- the limit is checked when the model is saved, not by every score of the tenant's leads afterwards
SELECT throws_ok($$UPDATE crm.scoring_models SET rules = jsonb_build_object('fit',
                     (SELECT jsonb_agg(jsonb_build_object('name', 'r' || i, 'field', 'is_decision_maker', 'equals', true, 'points', 1))
                        FROM generate_series(1, 65) i))
                   WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a' AND is_active$$,
    '22023', 'invalid scoring rules at $.fit[64]: a model has at most 64 rules, fit and engagement together (this one has 65)', 'a model of 65 rules is refused when saved');

-- a cached expression (PL/pgSQL's, or a trigger's) lives for its transaction: a change of models frees
-- the models it parsed before, rather than keeping every one until the transaction ends (~28 kB each)
-- (on Citus a function is created in a transaction that has not yet run a multi-shard command)
\if :on_citus
COMMIT;
BEGIN;
\endif
CREATE FUNCTION pg_temp.scoring_memory_growth() RETURNS bigint
    LANGUAGE plpgsql AS
$$
DECLARE
    l crm.leads;
    s integer;
    before bigint;
BEGIN
    SELECT * INTO l FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab1';
    FOR i IN 1..300 LOOP
        UPDATE crm.scoring_models SET rules = rules WHERE tenant_id = l.tenant_id AND is_active;
        s := crm.lead_score(l);
        IF i = 20 THEN
            before := (SELECT sum(total_bytes) FROM pg_backend_memory_contexts);
        END IF;
    END LOOP;
    RETURN (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) - before;
END
$$;
SELECT cmp_ok(pg_temp.scoring_memory_growth(), '<', 1000000::bigint,
    'rescoring after each of 280 model changes in one transaction keeps one parsed model, not 280');

SELECT * FROM finish();
ROLLBACK;
