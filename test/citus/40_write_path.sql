-- 40_write_path.sql (pgTAP, make test-citus): the write path (docs/design.md §12) on the shards: the
-- triggers name their table by argument, pass columns, read their transition tables alone and write one
-- tenant per statement; deleting a parent clears what refers to it; the triggers of the reference table
-- crm.users write once, where the tenant's shards are. Everything is rolled back. Each value is read
-- into a psql variable first, so that no pgTAP call is sent to a worker with a query routed there.
\ir ../lib/preamble.psql

BEGIN;
SELECT plan(16);
\o /dev/null
SELECT crm.create_tenant('Write path C', '{}', 'c0000000-0000-7000-8000-00000000000c');
SELECT crm.create_tenant('Write path D', '{}', 'd0000000-0000-7000-8000-00000000000d');
\o
\set C '''c0000000-0000-7000-8000-00000000000c'''
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    (:C, 'c0000000-0000-7000-8000-0000000000c1', 'admin@c.test', 'C Admin', 'admin'),
    (:C, 'c0000000-0000-7000-8000-0000000000c9', 'leaver@c.test', 'C Leaver', 'rep'),
    ('d0000000-0000-7000-8000-00000000000d', 'd0000000-0000-7000-8000-0000000000d1', 'admin@d.test', 'D Admin', 'admin');
SELECT count(*) AS n FROM crm.audit_log WHERE tenant_id = :C AND table_name = 'users' \gset
SELECT is(:n::bigint, 2::bigint, 'inserting users (a reference table) logs each once, in its tenant');

INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES (:C, 'c0000000-0000-7000-8000-000000000cc1', 'Parent', 'c0000000-0000-7000-8000-0000000000c1');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id, parent_account_id) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000cc2', 'Child', 'c0000000-0000-7000-8000-0000000000c1', 'c0000000-0000-7000-8000-000000000cc1');
SELECT throws_ok($$UPDATE crm.accounts SET parent_account_id = 'c0000000-0000-7000-8000-000000000cc2'
                    WHERE tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND id = 'c0000000-0000-7000-8000-000000000cc1'$$,
    '23514', NULL, 'the hierarchy check walks the table its argument names, on the shard');
INSERT INTO crm.contacts (tenant_id, id, first_name, account_id, email, owner_id) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000cd1', 'Peter', 'c0000000-0000-7000-8000-000000000cc1', 'peter@c.test', 'c0000000-0000-7000-8000-0000000000c1');
SELECT count(*) FILTER (WHERE is_primary) AS n FROM crm.contact_emails WHERE tenant_id = :C \gset
SELECT is(:n::bigint, 1::bigint, 'a contact''s email becomes its primary contact_emails row');
INSERT INTO crm.leads (tenant_id, id, company, employee_count, is_decision_maker, owner_id, converted_account_id) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000cb1', 'Lead Co', 500, true, 'c0000000-0000-7000-8000-0000000000c1', 'c0000000-0000-7000-8000-000000000cc1');
SELECT score AS n FROM crm.leads WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000cb1' \gset
SELECT is(:n::integer, 45, 'the lead is scored from its columns (20 for its size, 25 as a decision maker)');
SELECT count(*) AS n FROM crm.events WHERE tenant_id = :C AND type = 'lead.created' \gset
SELECT is(:n::bigint, 1::bigint, 'lead.created is emitted (emit_record_events names its table by argument)');
INSERT INTO crm.products (tenant_id, id, name, unit_price, currency) VALUES (:C, 'c0000000-0000-7000-8000-000000000c71', 'P', 100, 'USD');
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, contact_id, lead_id, owner_id) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000ce1', 'Deal', 'c0000000-0000-7000-8000-000000000cc1', 'c0000000-0000-7000-8000-000000000cd1',
     'c0000000-0000-7000-8000-000000000cb1', 'c0000000-0000-7000-8000-0000000000c1');
SELECT count(*) AS n FROM crm.opportunity_stage_history WHERE tenant_id = :C \gset
SELECT is(:n::bigint, 1::bigint, 'the stage entered is recorded');
INSERT INTO crm.opportunity_line_items (tenant_id, opportunity_id, product_id, quantity) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000ce1', 'c0000000-0000-7000-8000-000000000c71', 3);
SELECT amount AS n FROM crm.opportunities WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000ce1' \gset
SELECT is(:n::numeric, 300.00, 'the amount is the total of the lines (a transition table read alone)');
INSERT INTO crm.activities (tenant_id, type, occurred_at, contact_id, owner_id) VALUES
    (:C, 'call', '2026-03-01 10:00+00', 'c0000000-0000-7000-8000-000000000cd1', 'c0000000-0000-7000-8000-0000000000c1');
UPDATE crm.activities SET occurred_at = '2026-03-02 10:00+00' WHERE tenant_id = :C;
SELECT string_agg(day::text, ',') AS n FROM crm.account_activity_days WHERE tenant_id = :C \gset
SELECT is(:'n'::text, '2026-03-02', 'the activity rollup follows an insert and an update');
INSERT INTO crm.tags (tenant_id, id, name) VALUES (:C, 'c0000000-0000-7000-8000-000000000c81', 'vip');
INSERT INTO crm.taggings (tenant_id, tag_id, entity_type, entity_id, tagged_by) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000c81', 'account', 'c0000000-0000-7000-8000-000000000cc1', 'c0000000-0000-7000-8000-0000000000c9');
SELECT usage_count AS n FROM crm.tags WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000c81' \gset
SELECT is(:n::integer, 1, 'usage_count counts the tagging');

-- deletes clear what refers to the deleted rows
DELETE FROM crm.users WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-0000000000c9';
SELECT count(tagged_by) AS n FROM crm.taggings WHERE tenant_id = :C \gset
SELECT is(:n::bigint, 0::bigint, 'deleting a user (a reference table) clears the taggings it made');
DELETE FROM crm.accounts WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000cc1';
SELECT concat_ws(',', (SELECT parent_account_id FROM crm.accounts WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000cc2'),
                      (SELECT account_id FROM crm.contacts WHERE tenant_id = :C),
                      (SELECT account_id FROM crm.opportunities WHERE tenant_id = :C),
                      (SELECT converted_account_id FROM crm.leads WHERE tenant_id = :C)) AS n \gset
SELECT is(:'n'::text, '', 'deleting an account clears its subaccount''s, contact''s, opportunity''s and lead''s references to it');
SELECT count(*) AS n FROM crm.taggings WHERE tenant_id = :C \gset
SELECT is(:n::bigint, 0::bigint, '    and its tagging is gone');
UPDATE crm.leads SET status = 'converted', converted_at = now(), converted_opportunity_id = 'c0000000-0000-7000-8000-000000000ce1'
 WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000cb1';
UPDATE crm.opportunities SET stage_id = (SELECT id FROM crm.pipeline_stages WHERE tenant_id = 'c0000000-0000-7000-8000-00000000000c' AND name = 'closed_won')
 WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000ce1';
SELECT won AS n FROM crm.lead_win_counts WHERE tenant_id = :C AND field = '*' \gset
SELECT is(:n::bigint, 1::bigint, 'the won deal counts its converted lead as won');
DELETE FROM crm.opportunities WHERE tenant_id = :C AND id = 'c0000000-0000-7000-8000-000000000ce1';
SELECT concat_ws(',', (SELECT converted_opportunity_id FROM crm.leads WHERE tenant_id = :C),
                      (SELECT won FROM crm.lead_win_counts WHERE tenant_id = :C AND field = '*')) AS n \gset
SELECT is(:'n'::text, '0', 'deleting it clears the lead''s converted_opportunity_id and counts the lead out');

-- one statement over both tenants
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES
    (:C, 'c0000000-0000-7000-8000-000000000cc9', 'Both', 'c0000000-0000-7000-8000-0000000000c1'),
    ('d0000000-0000-7000-8000-00000000000d', 'd0000000-0000-7000-8000-000000000dc9', 'Both', 'd0000000-0000-7000-8000-0000000000d1');
SELECT count(DISTINCT tenant_id) AS n FROM crm.audit_log
 WHERE table_name = 'accounts' AND row_id IN ('c0000000-0000-7000-8000-000000000cc9', 'd0000000-0000-7000-8000-000000000dc9') \gset
SELECT is(:n::bigint, 2::bigint, 'an insert into two tenants'' shards logs each row in its tenant');
SELECT lives_ok($$DELETE FROM crm.tenants WHERE id = 'd0000000-0000-7000-8000-00000000000d'$$, 'a tenant is deleted with everything it has');

SELECT * FROM finish();
ROLLBACK;
