-- The actions' errors, word for word (src/actions.sql and the other actions): what a developer reads
-- for each kind of mistake, with the SQLSTATE PostgREST turns into the HTTP status (README, Errors).
SET client_min_messages = warning;
SET timezone = 'UTC';
BEGIN;
\o /dev/null
\i test/lib/two_tenants.psql
\i test/lib/become.psql
\o
-- 'SQLSTATE: message' of a statement that fails (with its hint), 'ok' if it does not
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; hint text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN st || ': ' || msg || coalesce(' (hint: ' || nullif(hint, '') || ')', '');
END
$$;
CREATE TEMP TABLE calls (n serial, who text, q text);
INSERT INTO calls (who, q) VALUES
    -- not found or not visible: PT404
    ('manager', $$SELECT crm.convert_lead('b0000000-0000-7000-8000-000000000bb1')$$),
    ('manager', $$SELECT crm.move_opportunity('b0000000-0000-7000-8000-000000000be1', 'proposal')$$),
    ('manager', $$SELECT crm.complete_task('a0000000-0000-7000-8000-0000000000ff')$$),
    ('manager', $$SELECT crm.close_lead('b0000000-0000-7000-8000-000000000bb1', 'x')$$),
    ('manager', $$SELECT crm.reassign_owner('contact', 'b0000000-0000-7000-8000-000000000bd1', 'a0000000-0000-7000-8000-0000000000a3')$$),
    ('manager', $$SELECT crm.log_activity('call', lead_id => 'b0000000-0000-7000-8000-000000000bb1')$$),
    ('manager', $$SELECT crm.log_activity('call', contact_id => 'a0000000-0000-7000-8000-0000000000ff')$$),
    ('manager', $$SELECT * FROM crm.timeline('account', 'b0000000-0000-7000-8000-000000000bc1')$$),
    ('manager', $$SELECT crm.score_lead('b0000000-0000-7000-8000-000000000bb1')$$),
    ('manager', $$SELECT crm.refresh_segment('b0000000-0000-7000-8000-00000000000b')$$),
    ('manager', $$SELECT * FROM crm.account_health_history('b0000000-0000-7000-8000-000000000bc1')$$),
    -- bad input: 22023
    ('manager', $$SELECT crm.convert_lead(NULL)$$),
    ('manager', $$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1', amount => -1)$$),
    ('manager', $$SELECT crm.move_opportunity(NULL, 'proposal')$$),
    ('manager', $$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'won')$$),
    ('manager', $$SELECT crm.complete_task(NULL)$$),
    ('manager', $$SELECT crm.close_lead(NULL, 'no fit')$$),
    ('manager', $$SELECT crm.reassign_owner('lead', NULL, NULL)$$),
    ('manager', $$SELECT crm.reassign_owner('segment', 'a0000000-0000-7000-8000-000000000ab1', 'a0000000-0000-7000-8000-0000000000a3')$$),
    ('manager', $$SELECT crm.reassign_owner('lead', 'a0000000-0000-7000-8000-000000000ab1', 'b0000000-0000-7000-8000-0000000000b3')$$),
    ('manager', $$SELECT crm.log_activity('call')$$),
    ('manager', $$SELECT crm.log_activity(NULL, lead_id => 'a0000000-0000-7000-8000-000000000ab1')$$),
    ('manager', $$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab1', outcome => 'No Answer')$$),
    ('manager', $$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab1', duration_minutes => -5)$$),
    ('manager', $$SELECT crm.log_activity('call', lead_id => 'a0000000-0000-7000-8000-000000000ab1', occurred_at => '-infinity')$$),
    ('manager', $$SELECT * FROM crm.timeline('task', 'a0000000-0000-7000-8000-000000000a51')$$),
    ('manager', $$SELECT * FROM crm_api.timeline('invoice', 'a0000000-0000-7000-8000-000000000a51')$$),
    ('manager', $$SELECT * FROM crm.timeline('lead', NULL)$$),
    ('manager', $$SELECT * FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab1', 1000)$$),
    ('manager', $$SELECT * FROM crm.timeline('lead', 'a0000000-0000-7000-8000-000000000ab1', after => 'page 2')$$),
    ('manager', $$SELECT crm.score_lead(NULL)$$),
    ('manager', $$SELECT crm.refresh_segment(NULL)$$),
    -- rule broken: 23514
    ('manager', $$SELECT crm.move_opportunity('a0000000-0000-7000-8000-000000000ae1', 'closed_lost')$$),
    ('manager', $$SELECT crm.close_lead('a0000000-0000-7000-8000-000000000ab1', '  ')$$),
    -- not allowed: 42501
    ('rep', $$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab2')$$),
    ('rep', $$SELECT crm.close_lead('a0000000-0000-7000-8000-000000000ab2', 'no fit')$$),
    ('rep', $$SELECT crm.reassign_owner('contact', 'a0000000-0000-7000-8000-000000000ad1', 'a0000000-0000-7000-8000-0000000000a2')$$),
    ('rep', $$SELECT crm.refresh_segment((SELECT id FROM crm.segments WHERE name = 'Enterprise'))$$),
    ('rep', $$SELECT crm_api.refresh_segment((SELECT id FROM crm.segments WHERE name = 'Enterprise'))$$),
    -- conflict: 23505
    ('manager', $$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1') IS NOT NULL$$),
    ('manager', $$SELECT crm.convert_lead('a0000000-0000-7000-8000-000000000ab1')$$);
CREATE FUNCTION pg_temp.run(who_ text) RETURNS TABLE (n int, result text) LANGUAGE plpgsql AS $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM calls WHERE who = who_ ORDER BY calls.n LOOP
        n := c.n;
        result := regexp_replace(pg_temp.err(c.q), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
        RETURN NEXT;
    END LOOP;
END
$$;
CREATE TEMP TABLE results (n int, result text);
GRANT SELECT ON calls TO PUBLIC;
GRANT INSERT ON results TO PUBLIC;
SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
INSERT INTO results SELECT * FROM pg_temp.run('manager');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
INSERT INTO results SELECT * FROM pg_temp.run('rep');
RESET ROLE;
SELECT c.who, c.q AS call, r.result FROM calls c JOIN results r ON r.n = c.n ORDER BY c.n \gx
ROLLBACK;
