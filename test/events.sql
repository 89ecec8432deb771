-- events.sql (pgTAP): the outbox and the audit log: what they record, who reads them, that nobody
-- writes them by hand, and that deleting a tenant deletes them too.
\ir lib/preamble.psql

BEGIN;
SELECT plan(20);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'claims');
UPDATE crm.accounts SET industry = 'paper', employee_count = 40, name = name WHERE id = 'a0000000-0000-7000-8000-000000000ac1';
INSERT INTO crm.leads (id, company) VALUES ('a0000000-0000-7000-8000-000000000ab7', 'Dunder Mifflin');
DELETE FROM crm.leads WHERE id = 'a0000000-0000-7000-8000-000000000ab7';
SELECT throws_ok($$SELECT * FROM crm.audit_log$$, '42501', NULL, 'a rep does not read the audit log');
SELECT throws_ok($$SELECT * FROM crm_api.events$$, '42501', NULL, 'nor the events');

SELECT pg_temp.become('crm_manager', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT row_eq($$SELECT action::text, old_values, new_values, changed_by, db_role FROM crm.audit_log
                WHERE table_name = 'accounts' AND row_id = 'a0000000-0000-7000-8000-000000000ac1' AND action = 'update'$$,
    ROW('update'::text, '{"industry": null, "employee_count": null}'::jsonb, '{"industry": "paper", "employee_count": 40}'::jsonb,
        'a0000000-0000-7000-8000-0000000000a3'::uuid, 'crm_rep'::text),
    'an update logs only the changed columns, old and new, with the user and the database role');
SELECT is((SELECT new_values->>'company' FROM crm.audit_log WHERE row_id = 'a0000000-0000-7000-8000-000000000ab7' AND action = 'insert'),
    'Dunder Mifflin', 'an insert logs the new row');
SELECT is((SELECT old_values->>'company' FROM crm.audit_log WHERE row_id = 'a0000000-0000-7000-8000-000000000ab7' AND action = 'delete'),
    'Dunder Mifflin', 'a delete logs the old row');
SELECT is((SELECT count(*) FROM crm.audit_log WHERE tenant_id <> 'a0000000-0000-7000-8000-00000000000a'), 0::bigint,
    'a manager reads its own tenant''s log only');
SELECT is((SELECT count(*) FROM crm_api.events WHERE type = 'lead.created' AND entity_id = 'a0000000-0000-7000-8000-000000000ab7'), 1::bigint,
    'lead.created is in the outbox');
SELECT is((SELECT actor_id FROM crm.events WHERE type = 'lead.created' AND entity_id = 'a0000000-0000-7000-8000-000000000ab7'),
    'a0000000-0000-7000-8000-0000000000a3'::uuid, 'with the user who caused it');
SELECT ok((SELECT bool_and(id > lag) FROM (SELECT id, lag(id) OVER (ORDER BY created_at, id) FROM crm.events) x WHERE lag IS NOT NULL),
    'event ids increase: consumers read the outbox in id order');
UPDATE crm.contacts SET title = title WHERE id = 'a0000000-0000-7000-8000-000000000ad2';
SELECT is((SELECT count(*) FROM crm.audit_log WHERE row_id = 'a0000000-0000-7000-8000-000000000ad2' AND action = 'update'), 0::bigint,
    'an update that changes nothing (but updated_at) logs nothing');
-- a statement of many rows (a batch, an import's update) takes the other way (rows whose other columns
-- are all the same dropped first, by a plain comparison): the same log, one row per row changed
INSERT INTO crm.leads (company, budget) SELECT 'Bulk ' || i, i FROM generate_series(1, 70) i;
UPDATE crm.leads SET company = CASE WHEN budget = 70 THEN company ELSE company || ' Inc' END WHERE company LIKE 'Bulk %';
SELECT is((SELECT count(*) FILTER (WHERE a.old_values = jsonb_build_object('company', l.company_before)
                                     AND a.new_values = jsonb_build_object('company', l.company_before || ' Inc'))
                || ' of ' || count(*)
             FROM crm.audit_log a JOIN (SELECT id, 'Bulk ' || budget::integer AS company_before FROM crm.leads WHERE company LIKE 'Bulk %') l
               ON l.id = a.row_id
            WHERE a.table_name = 'leads' AND a.action = 'update'),
    '69 of 69', 'an update of 70 rows in one statement logs the 69 whose company changed, the company alone');

SELECT pg_temp.become('crm_admin', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a1', 'guc');
SELECT throws_ok($$INSERT INTO crm.audit_log (table_name, row_id, action) VALUES ('leads', gen_random_uuid(), 'insert')$$, '42501', NULL,
    'an admin cannot write the audit log');
SELECT throws_ok($$UPDATE crm.audit_log SET old_values = NULL$$, '42501', NULL, 'nor change it');
SELECT throws_ok($$DELETE FROM crm.events$$, '42501', NULL, 'nor delete events');
SELECT throws_ok($$SELECT crm.emit_event('a0000000-0000-7000-8000-00000000000a', 'lead.created', 'lead', gen_random_uuid())$$, '42501', NULL,
    'nor emit one');
RESET ROLE;

-- one statement of the operator's over both tenants: each row is logged in its own tenant
SELECT pg_temp.become('none', NULL, NULL, 'none');
UPDATE crm.accounts SET industry = 'conglomerate' WHERE id IN ('a0000000-0000-7000-8000-000000000ac2', 'b0000000-0000-7000-8000-000000000bc1');
SELECT is(ARRAY(SELECT format('%s %s %s', tenant_id, table_name, row_id) FROM crm.audit_log
                 WHERE action = 'update' AND new_values->>'industry' = 'conglomerate' ORDER BY 1),
    ARRAY['a0000000-0000-7000-8000-00000000000a accounts a0000000-0000-7000-8000-000000000ac2',
          'b0000000-0000-7000-8000-00000000000b accounts b0000000-0000-7000-8000-000000000bc1'],
    'an update of accounts of both tenants in one statement logs each in its tenant');

-- an event for a tenant that is gone is not written; deleting a tenant takes its log and events along
SELECT is(crm.emit_event('c0000000-0000-7000-8000-00000000000c', 'lead.created', 'lead', gen_random_uuid()), NULL,
    'no event for a tenant that does not exist');
SELECT lives_ok($$DELETE FROM crm.tenants WHERE id = 'b0000000-0000-7000-8000-00000000000b'$$, 'the operator deletes tenant B, with everything it owns');
SELECT is((SELECT count(*) FROM crm.audit_log WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b')
          + (SELECT count(*) FROM crm.events WHERE tenant_id = 'b0000000-0000-7000-8000-00000000000b'), 0::bigint, 'its log and events are gone');
SELECT ok((SELECT count(*) FROM crm.audit_log WHERE tenant_id = 'a0000000-0000-7000-8000-00000000000a') > 0, 'tenant A keeps its own');

SELECT * FROM finish();
ROLLBACK;
