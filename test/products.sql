-- products.sql (pgTAP): products, and the line items whose total is the opportunity's amount.
\ir lib/preamble.psql

BEGIN;
SELECT plan(15);
\ir lib/two_tenants.psql
\ir lib/become.psql

SELECT is((SELECT amount FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae1'), 200.00::numeric(18,2),
    'the fixture''s two TPS Pro at 100 make the amount 200');
SELECT is(ARRAY(SELECT amount FROM crm.opportunities WHERE id IN ('a0000000-0000-7000-8000-000000000ae1', 'b0000000-0000-7000-8000-000000000be1')
                 ORDER BY tenant_id), ARRAY[200.00, 250.00]::numeric(18,2)[],
    '    its one statement wrote lines of both tenants: each tenant''s opportunity has its own total');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a3', 'guc');
SELECT throws_ok($$INSERT INTO crm.products (name, unit_price) VALUES ('Stapler', 5)$$, '42501', NULL, 'a rep does not add products');
SELECT lives_ok($$INSERT INTO crm.opportunity_line_items (opportunity_id, product_id, quantity, unit_price, discount)
                  VALUES ('a0000000-0000-7000-8000-000000000ae1', 'a0000000-0000-7000-8000-000000000a71', 3, 80, 12.5)$$,
    'a rep adds a discounted line to its opportunity');
SELECT is((SELECT total FROM crm.opportunity_line_items WHERE unit_price = 80), 210.00::numeric(18,2), '3 x 80 less 12.5 % is 210.00');
SELECT is((SELECT amount FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae1'), 410.00::numeric(18,2),
    'the amount is the total of the lines');
SELECT lives_ok($$UPDATE crm.opportunity_line_items SET quantity = 1 WHERE unit_price = 80$$, 'change a line');
SELECT is((SELECT amount FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae1'), 270.00::numeric(18,2), 'the amount follows');
SELECT throws_ok($$UPDATE crm.opportunities SET amount = 1 WHERE id = 'a0000000-0000-7000-8000-000000000ae1'$$, '23514', NULL,
    'the amount of an opportunity with lines is not set by hand');
SELECT lives_ok($$DELETE FROM crm.opportunity_line_items WHERE unit_price = 80$$, 'delete a line');
SELECT is((SELECT amount FROM crm.opportunities WHERE id = 'a0000000-0000-7000-8000-000000000ae1'), 200.00::numeric(18,2), 'the amount follows again');
SELECT throws_ok($$INSERT INTO crm.opportunity_line_items (opportunity_id, product_id, quantity) VALUES
    ('a0000000-0000-7000-8000-000000000ae1', 'a0000000-0000-7000-8000-000000000a71', 0)$$, '23514', NULL, 'a quantity is more than 0');
SELECT throws_ok($$INSERT INTO crm.opportunity_line_items (opportunity_id, product_id, discount) VALUES
    ('a0000000-0000-7000-8000-000000000ae1', 'a0000000-0000-7000-8000-000000000a71', 120)$$, '23514', NULL, 'a discount is at most 100 %');
SELECT throws_ok($$INSERT INTO crm.opportunity_line_items (opportunity_id, product_id) VALUES
    ('a0000000-0000-7000-8000-000000000ae1', 'b0000000-0000-7000-8000-000000000b71')$$, '23503', NULL, 'a product of another tenant does not exist here');
SELECT pg_temp.become('crm_rep', 'a0000000-0000-7000-8000-00000000000a', 'a0000000-0000-7000-8000-0000000000a2', 'guc');
SELECT throws_ok($$INSERT INTO crm.opportunity_line_items (opportunity_id, product_id) VALUES
    ('a0000000-0000-7000-8000-000000000ae1', 'a0000000-0000-7000-8000-000000000a71')$$, '42501', NULL,
    'a rep does not add lines to another rep''s opportunity');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
