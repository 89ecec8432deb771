-- products.sql: the tenant's catalog, and the line items of opportunities. An opportunity with lines
-- has its amount kept equal to their total.

-- (On Citus a query of one tenant's shard is sent there whole, this call too, and reads the tenant's row
-- from that node's copy of the reference table crm.tenants: correct, so allowed.)
CREATE FUNCTION crm.tenant_currency() RETURNS char(3)
    LANGUAGE sql STABLE PARALLEL SAFE
    SET citus.allow_nested_distributed_execution = on AS
$$
    SELECT (t.settings->>'currency')::char(3) FROM crm.tenants t WHERE t.id = crm.current_tenant()
$$;
COMMENT ON FUNCTION crm.tenant_currency() IS 'The currency setting of the caller''s tenant (the default currency of prices).';

CREATE TABLE crm.products (
    tenant_id   uuid          NOT NULL DEFAULT crm.current_tenant()
                              REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid          NOT NULL DEFAULT crm.uuid_v7(),
    name        text          NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    sku         text          CHECK (pg_catalog.btrim(sku) <> ''),
    description text,
    unit_price  numeric(18,2) NOT NULL CHECK (unit_price >= 0 AND unit_price <> 'NaN'),
    currency    char(3)       NOT NULL DEFAULT crm.tenant_currency() CHECK (currency ~ '^[A-Z]{3}$'),
    active      boolean       NOT NULL DEFAULT true,
    created_at  timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku)
);
COMMENT ON TABLE crm.products IS 'What the tenant sells, with list prices. Everyone reads them; admins change them.';
COMMENT ON COLUMN crm.products.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.products.id IS 'The product''s id (uuid_v7).';
COMMENT ON COLUMN crm.products.name IS 'Product name.';
COMMENT ON COLUMN crm.products.sku IS 'Stock keeping unit, unique in the tenant when given.';
COMMENT ON COLUMN crm.products.description IS 'Description.';
COMMENT ON COLUMN crm.products.unit_price IS 'List price per unit.';
COMMENT ON COLUMN crm.products.currency IS 'ISO 4217 code of the price; defaults to the tenant''s currency.';
COMMENT ON COLUMN crm.products.active IS 'False for a product no longer sold (kept for history).';
COMMENT ON COLUMN crm.products.created_at IS 'When the product was created.';
COMMENT ON COLUMN crm.products.updated_at IS 'When the product was last changed.';
ALTER TABLE crm.products ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.products FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.products', '');
SELECT crm.secure_table('crm.products', 'config');

CREATE TABLE crm.opportunity_line_items (
    tenant_id      uuid          NOT NULL DEFAULT crm.current_tenant()
                                 REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id             uuid          NOT NULL DEFAULT crm.uuid_v7(),
    opportunity_id uuid          NOT NULL,
    product_id     uuid          NOT NULL,
    quantity       numeric(12,2) NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_price     numeric(18,2) NOT NULL CHECK (unit_price >= 0 AND unit_price <> 'NaN'),
    discount       numeric(5,2)  NOT NULL DEFAULT 0 CHECK (discount BETWEEN 0 AND 100),
    total          numeric(18,2) GENERATED ALWAYS AS (round(quantity * unit_price * (100 - discount) / 100, 2)) STORED,
    created_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz   NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES crm.opportunities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, product_id) REFERENCES crm.products (tenant_id, id)
);
CREATE INDEX opportunity_line_items_opportunity ON crm.opportunity_line_items (tenant_id, opportunity_id);
COMMENT ON TABLE crm.opportunity_line_items IS 'The products of an opportunity; their total is the opportunity''s amount.';
COMMENT ON COLUMN crm.opportunity_line_items.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.opportunity_line_items.id IS 'The line''s id (uuid_v7).';
COMMENT ON COLUMN crm.opportunity_line_items.opportunity_id IS 'The opportunity (the caller must be allowed to change it).';
COMMENT ON COLUMN crm.opportunity_line_items.product_id IS 'The product (same tenant).';
COMMENT ON COLUMN crm.opportunity_line_items.quantity IS 'How many units, more than 0.';
COMMENT ON COLUMN crm.opportunity_line_items.unit_price IS 'Price per unit; defaults to the product''s list price.';
COMMENT ON COLUMN crm.opportunity_line_items.discount IS 'Discount in percent, 0 to 100.';
COMMENT ON COLUMN crm.opportunity_line_items.total IS 'quantity x unit_price less the discount, rounded to cents (computed).';
COMMENT ON COLUMN crm.opportunity_line_items.created_at IS 'When the line was added.';
COMMENT ON COLUMN crm.opportunity_line_items.updated_at IS 'When the line was last changed.';

CREATE FUNCTION crm.line_items_before_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    p record;
    opp_currency char(3);
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.opportunity_id <> OLD.opportunity_id THEN
        RAISE EXCEPTION 'a line item cannot move to another opportunity' USING ERRCODE = '23514';
    END IF;
    SELECT pr.unit_price, pr.currency INTO p FROM crm.products pr WHERE pr.tenant_id = NEW.tenant_id AND pr.id = NEW.product_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'product % does not exist', NEW.product_id USING ERRCODE = '23503';
    END IF;
    SELECT o.currency INTO opp_currency FROM crm.opportunities o WHERE o.tenant_id = NEW.tenant_id AND o.id = NEW.opportunity_id;
    IF FOUND AND p.currency IS NOT NULL AND p.currency <> opp_currency AND NEW.unit_price IS NULL THEN
        RAISE EXCEPTION 'the product is priced in %, the opportunity in %', p.currency, opp_currency
            USING ERRCODE = '23514', HINT = 'Give the unit_price in the opportunity''s currency.';
    END IF;
    NEW.unit_price := coalesce(NEW.unit_price, p.unit_price);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.line_items_before_write() IS 'Trigger: a line''s unit price defaults to the product''s list price (when in the opportunity''s currency); a line stays on its opportunity.';
CREATE TRIGGER b20_line_items_before_write BEFORE INSERT OR UPDATE ON crm.opportunity_line_items
    FOR EACH ROW EXECUTE FUNCTION crm.line_items_before_write();
COMMENT ON TRIGGER b20_line_items_before_write ON crm.opportunity_line_items IS 'src/products.sql: defaults unit_price to the product''s (23514 across currencies); a line stays on its opportunity (23514).';

-- After the lines of an opportunity change, its amount is their total (statement level: once per
-- opportunity touched, however many lines a statement writes). The transition table is read by a
-- statement of its own (Citus cannot read one in a query that also reads a distributed table), then
-- one UPDATE per tenant.
CREATE FUNCTION crm.line_items_sum() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid;
    opps uuid[];
BEGIN
    FOR t, opps IN SELECT c.tenant_id, array_agg(DISTINCT c.opportunity_id) FROM changed c GROUP BY c.tenant_id LOOP
        UPDATE crm.opportunities o SET amount = s.total
          FROM (SELECT u.id,
                       (SELECT coalesce(sum(l.total), 0) FROM crm.opportunity_line_items l
                         WHERE l.tenant_id = t AND l.opportunity_id = u.id) AS total,
                       EXISTS (SELECT 1 FROM crm.opportunity_line_items l
                                WHERE l.tenant_id = t AND l.opportunity_id = u.id) AS has_lines
                  FROM unnest(opps) u (id)) s
         WHERE o.tenant_id = t AND o.id = s.id AND s.has_lines AND o.amount IS DISTINCT FROM s.total;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.line_items_sum() IS 'Trigger: sets the amount of each opportunity whose lines changed to the total of its lines (left as it was when the last line is deleted).';
CREATE TRIGGER line_items_sum_insert AFTER INSERT ON crm.opportunity_line_items
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crm.line_items_sum();
COMMENT ON TRIGGER line_items_sum_insert ON crm.opportunity_line_items IS 'src/products.sql: sets the amount of each opportunity whose lines changed to their total, one statement per tenant.';
CREATE TRIGGER line_items_sum_update AFTER UPDATE ON crm.opportunity_line_items
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crm.line_items_sum();
COMMENT ON TRIGGER line_items_sum_update ON crm.opportunity_line_items IS 'src/products.sql: sets the amount of each opportunity whose lines changed to their total, one statement per tenant.';
CREATE TRIGGER line_items_sum_delete AFTER DELETE ON crm.opportunity_line_items
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION crm.line_items_sum();
COMMENT ON TRIGGER line_items_sum_delete ON crm.opportunity_line_items IS 'src/products.sql: sets the amount of each opportunity whose lines changed to their total (left as it was when the last line goes), one statement per tenant.';

-- An opportunity with lines takes its amount from them.
CREATE FUNCTION crm.opportunities_amount_from_lines() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF NEW.amount IS DISTINCT FROM OLD.amount AND pg_trigger_depth() = 1
       AND EXISTS (SELECT 1 FROM crm.opportunity_line_items l WHERE l.tenant_id = NEW.tenant_id AND l.opportunity_id = NEW.id) THEN
        RAISE EXCEPTION 'the amount of opportunity % is the total of its line items', NEW.id
            USING ERRCODE = '23514', HINT = 'Change the line items instead.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.opportunities_amount_from_lines() IS 'Trigger: refuses a direct change of the amount of an opportunity that has line items.';
CREATE TRIGGER b30_opportunities_amount_from_lines BEFORE UPDATE OF amount ON crm.opportunities
    FOR EACH ROW EXECUTE FUNCTION crm.opportunities_amount_from_lines();
COMMENT ON TRIGGER b30_opportunities_amount_from_lines ON crm.opportunities IS 'src/products.sql: refuses a direct change of the amount of an opportunity that has line items (23514).';

ALTER TABLE crm.opportunity_line_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.opportunity_line_items FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.opportunity_line_items', '');
SELECT crm.secure_table('crm.opportunity_line_items', 'child', 'crm.opportunities', 'opportunity_id');

CREATE VIEW crm_api.products WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, sku, description, unit_price, currency, active, created_at, updated_at FROM crm.products;
COMMENT ON VIEW crm_api.products IS 'The caller''s tenant''s products. Admins change them.';
CREATE VIEW crm_api.opportunity_line_items WITH (security_invoker = true) AS
    SELECT tenant_id, id, opportunity_id, product_id, quantity, unit_price, discount, total, created_at, updated_at
    FROM crm.opportunity_line_items;
COMMENT ON VIEW crm_api.opportunity_line_items IS 'Line items of the opportunities the caller reads; whoever may change an opportunity changes its lines.';
GRANT SELECT ON crm_api.products TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.products TO crm_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.opportunity_line_items TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.tenant_currency(), crm.line_items_before_write(), crm.line_items_sum(),
    crm.opportunities_amount_from_lines() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.tenant_currency() TO crm_rep;
