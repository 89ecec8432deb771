-- segments.sql: segments of accounts. A static segment's members are added and removed by hand; a
-- dynamic segment's members are the accounts matching its criteria, refreshed by crm.refresh_segment
-- and crm.refresh_segments (scheduled or called): membership is diffed, so unchanged members are not
-- touched and keep their added_at, and additions and removals are announced in bulk.
--
-- The criteria language: a node is {"all": [node, ...]}, {"any": [node, ...]}, {"not": node} or
-- {"field": F, "op": OP, "value": V}. Fields: industry, country, lifecycle_stage, health_band (text),
-- owner_id (uuid), employee_count, annual_revenue, health_score, days_since_last_activity,
-- open_pipeline_value, won_revenue, won_revenue_decile (numbers; the decile 1-10 among the tenant's
-- accounts with won revenue), tags (has_tag only). Operators: = != < <= > >= (numbers; = and != for
-- every scalar), in and not_in (a list), between ([low, high]), is_null, is_not_null (no value),
-- contains (text, case-insensitive substring), has_tag (tags). A comparison with an empty field does
-- not match (as in SQL), and "not" is the opposite of what its node matches. Criteria are validated
-- when saved (22023 naming the JSON path) and compiled into one SQL predicate: field names come from
-- the whitelist below and are quoted with %I, values are literals quoted with %L and cast to the
-- field's type, operators are chosen by CASE: no text of the criteria reaches SQL otherwise.

CREATE TABLE crm.segments (
    tenant_id         uuid        NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id                uuid        NOT NULL DEFAULT crm.uuid_v7(),
    name              text        NOT NULL CHECK (pg_catalog.btrim(name) <> ''),
    description       text,
    is_dynamic        boolean     NOT NULL DEFAULT true,
    criteria          jsonb,
    member_count      integer     NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    last_refreshed_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name),
    CONSTRAINT segments_criteria CHECK (is_dynamic = (criteria IS NOT NULL))
);
COMMENT ON TABLE crm.segments IS 'Segments of accounts: static (members by hand) or dynamic (the accounts matching criteria, refreshed). Everyone in the tenant reads them; admins define them.';
COMMENT ON COLUMN crm.segments.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.segments.id IS 'The segment''s id (uuid_v7).';
COMMENT ON COLUMN crm.segments.name IS 'Name, unique in the tenant.';
COMMENT ON COLUMN crm.segments.description IS 'What the segment is for.';
COMMENT ON COLUMN crm.segments.is_dynamic IS 'Dynamic: members are the accounts matching criteria; static: members are added by hand.';
COMMENT ON COLUMN crm.segments.criteria IS 'A dynamic segment''s criteria: {"all": [...]}, {"any": [...]}, {"not": node} or {"field", "op", "value"} (see crm.validate_segment_criteria); NULL for a static segment.';
COMMENT ON COLUMN crm.segments.member_count IS 'How many members it has (kept by refreshes and by hand edits of static segments).';
COMMENT ON COLUMN crm.segments.last_refreshed_at IS 'When its membership was last refreshed.';
COMMENT ON COLUMN crm.segments.created_at IS 'When the segment was defined.';
COMMENT ON COLUMN crm.segments.updated_at IS 'When the segment was last changed.';
ALTER TABLE crm.segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.segments FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.segments', '');
SELECT crm.secure_table('crm.segments', 'config');

-- Deleting a segment clears the references to it (docs/design.md §12). A foreign key ON DELETE SET NULL (col)
-- cannot be distributed by Citus (the distribution key is in the key), so the keys that point here are
-- plain ones (NO ACTION) and this delete path clears them, one UPDATE per referencing column, of
-- OLD's tenant only, each through an index led by (tenant_id, column). SECURITY DEFINER, as the key's
-- action was: the rows that refer to the deleted one may be hidden from the caller.
-- (crm.campaigns is made later, in src/campaigns.sql.)
CREATE FUNCTION crm.segments_null_references() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.segments'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.segments_null_references()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- a tenant being deleted takes every row along: nothing to clear
    IF NOT EXISTS (SELECT 1 FROM crm.tenants x WHERE x.id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    UPDATE crm.campaigns SET segment_id = NULL WHERE tenant_id = OLD.tenant_id AND segment_id = OLD.id;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION crm.segments_null_references() IS 'Trigger: clears campaigns.segment_id of a deleted segment (of its tenant only; nothing for a tenant being deleted).';
CREATE TRIGGER b90_null_references BEFORE DELETE ON crm.segments
    FOR EACH ROW EXECUTE FUNCTION crm.segments_null_references();
COMMENT ON TRIGGER b90_null_references ON crm.segments IS 'src/segments.sql: clears campaigns.segment_id of the deleted segment.';

CREATE TABLE crm.segment_members (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    segment_id uuid        NOT NULL,
    account_id uuid        NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, segment_id, account_id),
    FOREIGN KEY (tenant_id, segment_id) REFERENCES crm.segments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX segment_members_account ON crm.segment_members (tenant_id, account_id);
COMMENT ON TABLE crm.segment_members IS 'The accounts in each segment, since when. Admins add and remove members of static segments; refreshes keep dynamic ones.';
COMMENT ON COLUMN crm.segment_members.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.segment_members.id IS 'The membership''s id (uuid_v7).';
COMMENT ON COLUMN crm.segment_members.segment_id IS 'The segment.';
COMMENT ON COLUMN crm.segment_members.account_id IS 'The account.';
COMMENT ON COLUMN crm.segment_members.added_at IS 'Since when the account is a member (kept while it stays one).';
ALTER TABLE crm.segment_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.segment_members FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.segment_members', '');
SELECT crm.secure_table('crm.segment_members', 'config');

-- a deleted segment takes its tags with it, as other records do (src/tags.sql)
CREATE TRIGGER untag_deleted AFTER DELETE ON crm.segments REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION crm.untag_deleted('segment');
COMMENT ON TRIGGER untag_deleted ON crm.segments IS 'src/segments.sql: removes the taggings of deleted segment records, one statement per tenant (crm.untag_deleted, src/tags.sql).';

-- Hand edits of static segments keep member_count (dynamic ones are counted by their refresh). The
-- transition table is read by a statement of its own (Citus cannot read one in a query that also reads
-- a distributed table), then one UPDATE per tenant.
CREATE FUNCTION crm.segment_members_recount() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    segs uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.segment_members'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.segment_members_recount()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    FOR t, segs IN SELECT c.tenant_id, array_agg(DISTINCT c.segment_id) FROM changed c GROUP BY c.tenant_id LOOP
        UPDATE crm.segments s SET member_count = (SELECT count(*) FROM crm.segment_members m WHERE m.tenant_id = t AND m.segment_id = s.id)
         WHERE s.tenant_id = t AND s.id = ANY (segs) AND NOT s.is_dynamic;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.segment_members_recount() IS 'Trigger (per statement): recounts the members of the static segments a statement added to or removed from.';
CREATE TRIGGER segment_members_recount_insert AFTER INSERT ON crm.segment_members REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION crm.segment_members_recount();
COMMENT ON TRIGGER segment_members_recount_insert ON crm.segment_members IS 'src/segments.sql: recounts member_count of the static segments members were added to.';
CREATE TRIGGER segment_members_recount_delete AFTER DELETE ON crm.segment_members REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION crm.segment_members_recount();
COMMENT ON TRIGGER segment_members_recount_delete ON crm.segment_members IS 'src/segments.sql: recounts member_count of the static segments members were removed from.';

------------------------------------------------------------------------------------------------------
-- The criteria language
------------------------------------------------------------------------------------------------------

CREATE FUNCTION crm.segment_field_kind(field text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE field
        WHEN 'industry' THEN 'text' WHEN 'country' THEN 'text' WHEN 'lifecycle_stage' THEN 'text' WHEN 'health_band' THEN 'text'
        WHEN 'owner_id' THEN 'uuid'
        WHEN 'employee_count' THEN 'number' WHEN 'annual_revenue' THEN 'number' WHEN 'health_score' THEN 'number'
        WHEN 'days_since_last_activity' THEN 'number' WHEN 'open_pipeline_value' THEN 'number' WHEN 'won_revenue' THEN 'number'
        WHEN 'won_revenue_decile' THEN 'number'
        WHEN 'tags' THEN 'tags' END
$$;
COMMENT ON FUNCTION crm.segment_field_kind(text) IS 'The fields segment criteria may use and their kind (text, uuid, number, tags); NULL for any other (the whitelist of the criteria compiler).';

-- Whether a JSON value is a value of a field kind.
CREATE FUNCTION crm.segment_value_fits(kind text, v jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT CASE kind
        WHEN 'number' THEN jsonb_typeof(v) = 'number'
        WHEN 'text' THEN jsonb_typeof(v) = 'string'
        WHEN 'uuid' THEN jsonb_typeof(v) = 'string' AND (v #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        ELSE false END
$$;
COMMENT ON FUNCTION crm.segment_value_fits(text, jsonb) IS 'Whether a JSON value is a value of a segment field kind (a number, a string, a uuid).';

CREATE FUNCTION crm.validate_segment_criteria(criteria jsonb, path text DEFAULT '$', depth integer DEFAULT 0) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    k text;
    kind text;
    op text;
    v jsonb;
    i integer;
BEGIN
    IF depth > 32 THEN
        RAISE EXCEPTION 'invalid segment criteria at %: nested too deep (32 levels at most)', path USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(criteria) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'invalid segment criteria at %: a JSON object is expected', path USING ERRCODE = '22023';
    END IF;
    IF criteria ? 'all' OR criteria ? 'any' THEN
        k := CASE WHEN criteria ? 'all' THEN 'all' ELSE 'any' END;
        IF (SELECT count(*) FROM jsonb_object_keys(criteria)) <> 1 THEN
            RAISE EXCEPTION 'invalid segment criteria at %: "%" stands alone in its node', path, k USING ERRCODE = '22023';
        END IF;
        IF jsonb_typeof(criteria->k) <> 'array' OR jsonb_array_length(criteria->k) = 0 THEN
            RAISE EXCEPTION 'invalid segment criteria at %.%: a non-empty array of nodes is expected', path, k USING ERRCODE = '22023';
        END IF;
        i := 0;
        FOR v IN SELECT value FROM jsonb_array_elements(criteria->k) LOOP
            PERFORM crm.validate_segment_criteria(v, format('%s.%s[%s]', path, k, i), depth + 1);
            i := i + 1;
        END LOOP;
        RETURN criteria;
    END IF;
    IF criteria ? 'not' THEN
        IF (SELECT count(*) FROM jsonb_object_keys(criteria)) <> 1 THEN
            RAISE EXCEPTION 'invalid segment criteria at %: "not" stands alone in its node', path USING ERRCODE = '22023';
        END IF;
        PERFORM crm.validate_segment_criteria(criteria->'not', path || '.not', depth + 1);
        RETURN criteria;
    END IF;
    FOR k IN SELECT jsonb_object_keys(criteria) LOOP
        IF k NOT IN ('field', 'op', 'value') THEN
            RAISE EXCEPTION 'invalid segment criteria at %.%: unknown key', path, k USING ERRCODE = '22023',
                HINT = 'A node is {"all": [...]}, {"any": [...]}, {"not": node} or {"field": ..., "op": ..., "value": ...}.';
        END IF;
    END LOOP;
    kind := crm.segment_field_kind(criteria->>'field');
    IF jsonb_typeof(criteria->'field') IS DISTINCT FROM 'string' OR kind IS NULL THEN
        RAISE EXCEPTION 'invalid segment criteria at %.field: % is not a field segments can use', path, coalesce(criteria->'field', 'null'::jsonb)
            USING ERRCODE = '22023',
                  HINT = 'Fields: industry, country, employee_count, annual_revenue, lifecycle_stage, owner_id, health_score, health_band, days_since_last_activity, open_pipeline_value, won_revenue, won_revenue_decile, tags.';
    END IF;
    op := criteria->>'op';
    IF jsonb_typeof(criteria->'op') IS DISTINCT FROM 'string'
       OR op NOT IN ('=', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'between', 'is_null', 'is_not_null', 'contains', 'has_tag') THEN
        RAISE EXCEPTION 'invalid segment criteria at %.op: % is not an operator', path, coalesce(criteria->'op', 'null'::jsonb)
            USING ERRCODE = '22023', HINT = 'Operators: =, !=, <, <=, >, >=, in, not_in, between, is_null, is_not_null, contains, has_tag.';
    END IF;
    IF kind = 'tags' AND op <> 'has_tag' OR op = 'has_tag' AND kind <> 'tags' THEN
        RAISE EXCEPTION 'invalid segment criteria at %.op: has_tag is the operator of tags, and tags has no other', path USING ERRCODE = '22023';
    END IF;
    IF op IN ('<', '<=', '>', '>=', 'between') AND kind <> 'number' OR op = 'contains' AND kind <> 'text' THEN
        RAISE EXCEPTION 'invalid segment criteria at %.op: % does not apply to %, a % field', path, op, criteria->>'field', kind USING ERRCODE = '22023';
    END IF;
    IF op IN ('is_null', 'is_not_null') THEN
        IF criteria ? 'value' THEN
            RAISE EXCEPTION 'invalid segment criteria at %.value: % takes no value', path, op USING ERRCODE = '22023';
        END IF;
    ELSIF op IN ('in', 'not_in') THEN
        IF jsonb_typeof(criteria->'value') IS DISTINCT FROM 'array' OR jsonb_array_length(criteria->'value') = 0
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(criteria->'value') e WHERE NOT crm.segment_value_fits(kind, e)) THEN
            RAISE EXCEPTION 'invalid segment criteria at %.value: % takes a non-empty list of % values', path, op, kind USING ERRCODE = '22023';
        END IF;
    ELSIF op = 'between' THEN
        IF jsonb_typeof(criteria->'value') IS DISTINCT FROM 'array' OR jsonb_array_length(criteria->'value') <> 2
           OR jsonb_typeof(criteria->'value'->0) <> 'number' OR jsonb_typeof(criteria->'value'->1) <> 'number'
           OR (criteria->'value'->>0)::numeric > (criteria->'value'->>1)::numeric THEN
            RAISE EXCEPTION 'invalid segment criteria at %.value: between takes [low, high], two numbers, low first', path USING ERRCODE = '22023';
        END IF;
    ELSIF op IN ('contains', 'has_tag') THEN
        IF jsonb_typeof(criteria->'value') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'invalid segment criteria at %.value: % takes a string', path, op USING ERRCODE = '22023';
        END IF;
    ELSIF NOT crm.segment_value_fits(kind, criteria->'value') THEN
        RAISE EXCEPTION 'invalid segment criteria at %.value: % is not a % value for %', path, coalesce(criteria->'value', 'null'::jsonb), kind,
            criteria->>'field' USING ERRCODE = '22023';
    END IF;
    RETURN criteria;
END
$$;
COMMENT ON FUNCTION crm.validate_segment_criteria(jsonb, text, integer) IS 'Checks segment criteria and returns them; anything wrong (an unknown field or operator, a value of the wrong type, a malformed node) raises 22023 naming its JSON path, e.g. $.all[1].op.';

-- Compiles validated criteria into a predicate over the row "s" of crm.segment_accounts.
CREATE FUNCTION crm.segment_predicate(criteria jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    kind text;
    col text;
    cast_to text;
    v jsonb := criteria->'value';
BEGIN
    IF criteria ? 'all' OR criteria ? 'any' THEN
        RETURN '(' || (SELECT string_agg(crm.segment_predicate(e), CASE WHEN criteria ? 'all' THEN ' AND ' ELSE ' OR ' END ORDER BY n)
                         FROM jsonb_array_elements(coalesce(criteria->'all', criteria->'any')) WITH ORDINALITY x(e, n)) || ')';
    END IF;
    IF criteria ? 'not' THEN
        RETURN '(NOT ' || crm.segment_predicate(criteria->'not') || ')';
    END IF;
    kind := crm.segment_field_kind(criteria->>'field');
    IF kind IS NULL THEN                      -- the whitelist, again: never compile an unchecked field
        RAISE EXCEPTION 'invalid segment criteria: % is not a field segments can use', criteria->'field' USING ERRCODE = '22023';
    END IF;
    col := format('s.%I', criteria->>'field');
    cast_to := CASE kind WHEN 'number' THEN '::numeric' WHEN 'uuid' THEN '::uuid' ELSE '::text' END;
    RETURN CASE criteria->>'op'
        WHEN '=' THEN format('coalesce(%s = %L%s, false)', col, v #>> '{}', cast_to)
        WHEN '!=' THEN format('coalesce(%s <> %L%s, false)', col, v #>> '{}', cast_to)
        WHEN '<' THEN format('coalesce(%s < %L::numeric, false)', col, v #>> '{}')
        WHEN '<=' THEN format('coalesce(%s <= %L::numeric, false)', col, v #>> '{}')
        WHEN '>' THEN format('coalesce(%s > %L::numeric, false)', col, v #>> '{}')
        WHEN '>=' THEN format('coalesce(%s >= %L::numeric, false)', col, v #>> '{}')
        WHEN 'between' THEN format('coalesce(%s BETWEEN %L::numeric AND %L::numeric, false)', col, v->>0, v->>1)
        WHEN 'in' THEN format('coalesce(%s IN (%s), false)', col,
                              (SELECT string_agg(format('%L%s', e #>> '{}', cast_to), ', ') FROM jsonb_array_elements(v) e))
        WHEN 'not_in' THEN format('coalesce(%s NOT IN (%s), false)', col,
                                  (SELECT string_agg(format('%L%s', e #>> '{}', cast_to), ', ') FROM jsonb_array_elements(v) e))
        WHEN 'is_null' THEN format('(%s IS NULL)', col)
        WHEN 'is_not_null' THEN format('(%s IS NOT NULL)', col)
        WHEN 'contains' THEN format('coalesce(strpos(lower(%s), lower(%L)) > 0, false)', col, v #>> '{}')
        WHEN 'has_tag' THEN format('coalesce(lower(%L) = ANY (s.tags), false)', v #>> '{}')
    END;
END
$$;
COMMENT ON FUNCTION crm.segment_predicate(jsonb) IS 'Compiles validated segment criteria into one SQL predicate over the derived account row s: fields from the whitelist quoted with %I, values as %L literals cast to the field''s type, operators chosen by CASE. A comparison with an empty field is false, so "not" is its opposite.';

-- Accounts of a tenant with an id in (lo, hi] and the fields criteria compare. deciles: the tenant's
-- won revenue per account at each tenth from the top (percentile_disc of the accounts ordered by won
-- revenue descending, at 0.1 ... 0.9); an account's decile is 10 less the tenths whose value beats
-- its own: ceil(10 x the share of accounts winning no more than it), so accounts that tie share the
-- highest decile they reach (a tenant's only or equal best accounts are in decile 10). Without
-- settings of its own (every name in it is schema-qualified or pg_catalog's), so that the planner
-- inlines it into each batch's statement rather than filling and reading back a result set per
-- batch; it is no SECURITY DEFINER function.
CREATE FUNCTION crm.segment_accounts(t uuid, lo uuid, hi uuid, deciles numeric[], needs text[])
    RETURNS TABLE (id uuid, industry text, country text, employee_count numeric, annual_revenue numeric, lifecycle_stage text,
                   owner_id uuid, health_score numeric, health_band text, days_since_last_activity numeric,
                   open_pipeline_value numeric, won_revenue numeric, won_revenue_decile numeric, tags text[])
    LANGUAGE plpgsql STABLE AS
$$
-- PL/pgSQL, not SQL: Citus cannot plan a parameterized SQL function's query over distributed tables
#variable_conflict use_column
BEGIN
    -- (only the columns criteria compare: the batch is kept for the joins below)
    RETURN QUERY
    WITH acc AS (SELECT a.id, a.industry, a.country, a.employee_count, a.annual_revenue, a.lifecycle_stage, a.owner_id
                   FROM crm.accounts a WHERE a.tenant_id = t AND a.id > lo AND a.id <= hi),
    -- the latest health (src/health.sql)
    health AS (SELECT l.account_id AS acc_id, l.score, l.band
                 FROM crm.account_health_latest l
                WHERE l.tenant_id = t AND l.account_id > lo AND l.account_id <= hi AND needs && ARRAY['health_score', 'health_band']),
    -- the latest activity from the rollup per account and day (src/account_activity.sql)
    last AS (SELECT d.account_id AS acc_id, max(d.last_at) AS at
               FROM acc JOIN crm.account_activity_days d ON d.tenant_id = t AND d.account_id = acc.id
              WHERE 'days_since_last_activity' = ANY (needs)
              GROUP BY d.account_id),
    deals AS (SELECT o.account_id AS acc_id,
                     coalesce(sum(o.amount) FILTER (WHERE o.closed_at IS NULL), 0) AS open_value,
                     coalesce(sum(o.amount) FILTER (WHERE s.is_won), 0) AS won
                FROM acc JOIN crm.opportunities o ON o.tenant_id = t AND o.account_id = acc.id
                JOIN crm.pipeline_stages s ON s.tenant_id = t AND s.id = o.stage_id
               WHERE needs && ARRAY['open_pipeline_value', 'won_revenue', 'won_revenue_decile']
               GROUP BY o.account_id),
    tagged AS (SELECT g.entity_id AS acc_id, array_agg(lower(tg.name)) AS tags
                 FROM acc JOIN crm.taggings g ON g.tenant_id = t AND g.entity_type = 'account' AND g.entity_id = acc.id
                 JOIN crm.tags tg ON tg.tenant_id = t AND tg.id = g.tag_id
                WHERE 'tags' = ANY (needs)
                GROUP BY g.entity_id)
    SELECT acc.id, acc.industry::text, acc.country::text, acc.employee_count::numeric, acc.annual_revenue::numeric,
           acc.lifecycle_stage::text, acc.owner_id,
           health.score::numeric, health.band::text, floor(extract(epoch FROM now() - last.at) / 86400)::numeric,
           coalesce(deals.open_value, 0)::numeric, coalesce(deals.won, 0)::numeric,
           (CASE WHEN deals.won > 0 THEN 10 - (SELECT count(*) FROM unnest(deciles) d WHERE d > deals.won) END)::numeric,
           coalesce(tagged.tags, '{}')::text[]
      FROM acc LEFT JOIN health ON health.acc_id = acc.id LEFT JOIN last ON last.acc_id = acc.id LEFT JOIN deals ON deals.acc_id = acc.id LEFT JOIN tagged ON tagged.acc_id = acc.id;
END
$$;
COMMENT ON FUNCTION crm.segment_accounts(uuid, uuid, uuid, numeric[], text[]) IS 'Internal to segment refreshes: the accounts of a tenant with an id in (lo, hi] and the fields criteria compare, the derived ones (days since the last activity with the account, its contacts or its opportunities, open pipeline value, won revenue and its decile, lowercase tags) computed only when named in needs (NULL otherwise).';

CREATE FUNCTION crm.segments_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.is_dynamic THEN
        IF NEW.criteria IS NULL THEN
            RAISE EXCEPTION 'a dynamic segment needs criteria' USING ERRCODE = '22023';
        END IF;
        NEW.criteria := crm.validate_segment_criteria(NEW.criteria);
    ELSIF NEW.criteria IS NOT NULL THEN
        RAISE EXCEPTION 'a static segment has no criteria: its members are added by hand' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.segments_before_write() IS 'Trigger: validates a dynamic segment''s criteria (22023 with the JSON path of the bad element); a static segment has none.';
CREATE TRIGGER b20_segments_before_write BEFORE INSERT OR UPDATE OF is_dynamic, criteria ON crm.segments
    FOR EACH ROW EXECUTE FUNCTION crm.segments_before_write();
COMMENT ON TRIGGER b20_segments_before_write ON crm.segments IS 'src/segments.sql: validates a dynamic segment''s criteria (22023 with the JSON path).';

------------------------------------------------------------------------------------------------------
-- Refreshing
------------------------------------------------------------------------------------------------------

-- The job's body (src/jobs.sql, crm.job_tenant): refreshes the dynamic segments of a tenant (all, or the
-- one given) in batches of accounts: the accounts each segment should hold are computed once per batch
-- for every segment together, then diffed against the members. All in one call (the batches share the
-- tenant's won-revenue deciles, computed once): a refresh commits per tenant. Its items: per segment
-- {id, name, added, removed, members}.
-- Every statement here reads a bounded range of accounts and their members: through indexes, whatever
-- the statistics of crm.segment_members say (a refresh that fills it is planned before it is analyzed,
-- and a sequential scan of every member per batch would make a refresh quadratic).
CREATE FUNCTION crm.refresh_segments_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET enable_seqscan = off
    LANGUAGE plpgsql AS
$$
DECLARE
    batch integer := coalesce(nullif(current_setting('crm.batch_size', true), '')::integer, 10000);
    only_segment uuid := (args->>'segment_id')::uuid;
    ids uuid[];
    membership text;
    deciles numeric[];
    lo uuid := '00000000-0000-0000-0000-000000000000';
    hi uuid;
    r record;
    needs text[];
    drop_segments uuid[];
    drop_accounts uuid[];
    add_segments uuid[];
    add_accounts uuid[];
    want_accounts uuid[];
    want_segs text[];
    added jsonb := '{}';
    removed jsonb := '{}';
    done bigint := 0;
    result jsonb;
BEGIN
    -- SECURITY DEFINER: for the tenant's managers and admins, or the operator
    PERFORM crm.check_job_caller(t);
    -- membership: per account, the positions (in ids) of the segments whose predicate it meets, as one
    -- array expression: ARRAY[CASE WHEN <predicate 1> THEN 1 END, ...] without its NULLs
    SELECT array_agg(x.id ORDER BY x.n),
           format('array_remove(ARRAY[%s]::integer[], NULL)',
                  string_agg(format('CASE WHEN %s THEN %s END', crm.segment_predicate(x.criteria), x.n), ', ' ORDER BY x.n))
      INTO ids, membership
      FROM (SELECT s.id, s.criteria, row_number() OVER (ORDER BY s.id) AS n
              FROM crm.segments s WHERE s.tenant_id = t AND s.is_dynamic AND (only_segment IS NULL OR s.id = only_segment)) x;
    IF ids IS NOT NULL THEN
        -- the fields the criteria name: derived ones cost a join each, so only those are computed
        needs := (SELECT array_agg(DISTINCT f #>> '{}') FROM crm.segments s, jsonb_path_query(s.criteria, 'strict $.**.field') f
                   WHERE s.tenant_id = t AND s.id = ANY (ids));
        deciles := (SELECT percentile_disc(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) WITHIN GROUP (ORDER BY w.won DESC)
                      FROM (SELECT sum(o.amount) AS won FROM crm.opportunities o
                              JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id AND s.is_won
                             WHERE o.tenant_id = t AND o.account_id IS NOT NULL GROUP BY o.account_id) w);
        LOOP
            hi := coalesce((SELECT a.id FROM crm.accounts a WHERE a.tenant_id = t AND a.id > lo ORDER BY a.id OFFSET batch - 1 LIMIT 1),
                           'ffffffff-ffff-ffff-ffff-ffffffffffff');
            -- the diff of one batch: per account, the segments it should be in against those it is in
            -- (read from the members' unique index alone), as a full join on the account (hashed or
            -- merged, never a loop over one side per row of the other); only the accounts whose two
            -- lists differ are taken apart into the members to add and to remove
            -- the segments each account of the batch should be in, first (on Citus the diff below is sent
            -- to the tenant's shard whole, where crm.segment_accounts, which queries, could not run)
            EXECUTE format($q$SELECT array_agg(s.id), array_agg((%s)::text) FROM crm.segment_accounts($1, $2, $3, $4, $5) s$q$,
                           membership) INTO want_accounts, want_segs USING t, lo, hi, deciles, needs;
            EXECUTE $q$
                WITH wanted AS (
                    SELECT u.account_id, u.segs::integer[] AS segs FROM unnest($6::uuid[], $7::text[]) u (account_id, segs)),
                held AS (
                    SELECT m.account_id, array_agg(array_position($5, m.segment_id)) AS segs
                      FROM crm.segment_members m
                     WHERE m.tenant_id = $1 AND m.segment_id = ANY ($5) AND m.account_id > $2 AND m.account_id <= $3
                     GROUP BY m.account_id),
                changed AS (
                    SELECT coalesce(w.account_id, h.account_id) AS account_id, coalesce(w.segs, '{}') AS wanted, coalesce(h.segs, '{}') AS held
                      FROM wanted w FULL JOIN held h ON h.account_id = w.account_id
                     -- (the same set: each list holds the other; neither has duplicates)
                     WHERE NOT (coalesce(w.segs, '{}') @> coalesce(h.segs, '{}') AND coalesce(h.segs, '{}') @> coalesce(w.segs, '{}'))),
                diff AS (
                    SELECT c.account_id, $5[p.n] AS segment_id, p.n = ANY (c.wanted) AS add
                      FROM changed c CROSS JOIN LATERAL (SELECT DISTINCT unnest(c.wanted || c.held) AS n) p
                     WHERE (p.n = ANY (c.wanted)) <> (p.n = ANY (c.held)))
                SELECT array_agg(d.segment_id) FILTER (WHERE NOT d.add), array_agg(d.account_id) FILTER (WHERE NOT d.add),
                       array_agg(d.segment_id) FILTER (WHERE d.add), array_agg(d.account_id) FILTER (WHERE d.add)
                  FROM diff d
                $q$ INTO drop_segments, drop_accounts, add_segments, add_accounts USING t, lo, hi, deciles, ids, want_accounts, want_segs;
            FOR r IN
                WITH gone AS (
                    DELETE FROM crm.segment_members m
                     USING unnest(coalesce(drop_segments, '{}'), coalesce(drop_accounts, '{}')) u(segment_id, account_id)
                     WHERE m.tenant_id = t AND m.segment_id = u.segment_id AND m.account_id = u.account_id
                    RETURNING m.segment_id, m.account_id),
                came AS (
                    INSERT INTO crm.segment_members (tenant_id, segment_id, account_id)
                    SELECT t, u.segment_id, u.account_id FROM unnest(add_segments, add_accounts) u(segment_id, account_id)
                    RETURNING segment_id, account_id)
                SELECT 'added' AS change, c.segment_id, count(*) AS n, (array_agg(c.account_id ORDER BY c.account_id))[1:1000] AS sample
                  FROM came c GROUP BY c.segment_id
                UNION ALL
                SELECT 'removed', g.segment_id, count(*), (array_agg(g.account_id ORDER BY g.account_id))[1:1000] FROM gone g GROUP BY g.segment_id
            LOOP
                -- in bulk: one event per segment, change and batch, with (up to 1000 of) the accounts
                PERFORM crm.emit_event(t, 'segment.member_' || r.change, 'segment', r.segment_id,
                                       jsonb_build_object('count', r.n, 'account_ids', to_jsonb(r.sample), 'complete', r.n <= 1000));
                IF r.change = 'added' THEN
                    added := jsonb_set(added, ARRAY[r.segment_id::text], to_jsonb(coalesce((added->>r.segment_id::text)::bigint, 0) + r.n));
                ELSE
                    removed := jsonb_set(removed, ARRAY[r.segment_id::text], to_jsonb(coalesce((removed->>r.segment_id::text)::bigint, 0) + r.n));
                END IF;
            END LOOP;
            done := done + (SELECT count(*) FROM crm.accounts a WHERE a.tenant_id = t AND a.id > lo AND a.id <= hi);
            PERFORM crm.report_progress(format('crm.refresh_segments: tenant %s: %s accounts matched against %s segments', t, done,
                                               cardinality(ids)));
            EXIT WHEN hi = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
            lo := hi;
        END LOOP;
    END IF;
    WITH counted AS (
        UPDATE crm.segments s
           SET member_count = (SELECT count(*) FROM crm.segment_members m WHERE m.tenant_id = t AND m.segment_id = s.id),
               last_refreshed_at = now()
         WHERE s.tenant_id = t AND (only_segment IS NULL OR s.id = only_segment)
        RETURNING s.id, s.name, s.member_count)
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name,
                                                 'added', coalesce((added->>c.id::text)::bigint, 0),
                                                 'removed', coalesce((removed->>c.id::text)::bigint, 0),
                                                 'members', c.member_count) ORDER BY c.name), '[]')
      INTO result FROM counted c;
    RETURN jsonb_build_object(
        'processed', done,
        'changed', (SELECT coalesce(sum((x->>'added')::bigint + (x->>'removed')::bigint), 0)::bigint FROM jsonb_array_elements(result) x),
        'details', jsonb_build_object('segments', result), 'items', result, 'next', NULL);
END
$$;
COMMENT ON FUNCTION crm.refresh_segments_tenant(uuid, jsonb, jsonb) IS 'The body of the job refresh_segments (crm.run_job): refreshes a tenant''s dynamic segments (or the one of args segment_id), in batches of accounts, diffing membership; emits segment.member_added and segment.member_removed in bulk; returns {processed: accounts matched, changed: members added and removed, details: {segments}, items: [{id, name, added, removed, members}], next: null}. For managers and admins of the tenant, or the operator.';

CREATE FUNCTION crm.refresh_segments_args(args jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM crm.job_check_args('refresh_segments', args, '{"segment_id": "string"}');
    RETURN jsonb_strip_nulls(jsonb_build_object('segment_id', (args->>'segment_id')::uuid));
END
$$;
COMMENT ON FUNCTION crm.refresh_segments_args(jsonb) IS 'The arguments of the job refresh_segments (crm.run_job): {"segment_id": one segment to refresh (default: every segment)}; 22023 for anything else (22P02 for a malformed uuid).';

CREATE FUNCTION crm.refresh_segment(segment_id uuid) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    s crm.segments;
    r jsonb;
BEGIN
    SELECT x.* INTO s FROM crm.segments x WHERE x.tenant_id = crm.current_tenant() AND x.id = refresh_segment.segment_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('segment', segment_id);
    END IF;
    r := crm.run_job_in_transaction('refresh_segments', s.tenant_id, jsonb_build_object('segment_id', s.id))->'items'->0;
    RETURN jsonb_build_object('added', r->'added', 'removed', r->'removed', 'members', r->'members');
END
$$;
COMMENT ON FUNCTION crm.refresh_segment(uuid) IS 'Refreshes one segment of the caller''s tenant (managers and admins; the job refresh_segments of crm.run_job with its segment_id): {"added": n, "removed": n, "members": n}. A static segment is only recounted. Not visible: PT404.';

CREATE FUNCTION crm.refresh_segments(tenant uuid DEFAULT crm.current_tenant()) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    result jsonb := crm.run_job_in_transaction('refresh_segments', tenant);
    out jsonb := coalesce(result->'items', '[]');
BEGIN
    RETURN jsonb_build_object(
        'segments', jsonb_array_length(out),
        'added', (SELECT coalesce(sum((x->>'added')::bigint), 0) FROM jsonb_array_elements(out) x),
        'removed', (SELECT coalesce(sum((x->>'removed')::bigint), 0) FROM jsonb_array_elements(out) x),
        'details', out)
        -- the tenants, the failed ones and their failures, as every job reports them
        || (result - 'processed' - 'changed' - 'items');
END
$$;
COMMENT ON FUNCTION crm.refresh_segments(uuid) IS 'Refreshes every segment of a tenant (its managers and admins; the operator, without a context, passes NULL for every tenant): {"segments": n, "added": n, "removed": n, "details": [{id, name, added, removed, members}], "tenants": n, "failed": n, "failures": [{tenant, sqlstate, message, run_id}]}: the job refresh_segments of crm.run_job, in the caller''s transaction (CALL crm.run_job(''refresh_segments'') on its own commits tenant by tenant). A second refresh with nothing changed adds and removes 0. In a run for every tenant, a tenant whose refresh fails is undone and logged as failed in crm.job_runs (SQLSTATE and message) and the others are still refreshed; a run for one tenant raises its error.';

-- Every new tenant starts with four example segments.
CREATE FUNCTION crm.create_default_segments(tenant uuid) RETURNS void
    SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    INSERT INTO crm.segments (tenant_id, name, description, criteria) VALUES
        (tenant, 'Enterprise', 'Accounts with 1000 employees or more.', '{"field": "employee_count", "op": ">=", "value": 1000}'),
        (tenant, 'SMB', 'Accounts with fewer than 200 employees.', '{"field": "employee_count", "op": "<", "value": 200}'),
        (tenant, 'High value', 'Accounts in the top decile of won revenue.', '{"field": "won_revenue_decile", "op": "=", "value": 10}'),
        (tenant, 'At risk', 'Accounts whose health is red.', '{"field": "health_band", "op": "=", "value": "red"}');
END
$$;
COMMENT ON FUNCTION crm.create_default_segments(uuid) IS 'Gives a new tenant the example segments Enterprise, SMB, High value and At risk. Called by crm.create_tenant only (executable by no one else).';

CREATE VIEW crm_api.segments WITH (security_invoker = true) AS
    SELECT tenant_id, id, name, description, is_dynamic, criteria, member_count, last_refreshed_at, created_at, updated_at
    FROM crm.segments;
COMMENT ON VIEW crm_api.segments IS 'The tenant''s segments; admins define them (criteria are validated: 400 with the JSON path of the bad element).';
CREATE VIEW crm_api.segment_members WITH (security_invoker = true) AS
    SELECT tenant_id, id, segment_id, account_id, added_at FROM crm.segment_members;
COMMENT ON VIEW crm_api.segment_members IS 'Members of the tenant''s segments; admins add and remove those of static segments.';
GRANT SELECT ON crm_api.segments, crm_api.segment_members TO crm_rep;
GRANT INSERT, UPDATE, DELETE ON crm_api.segments, crm_api.segment_members TO crm_admin;

CREATE FUNCTION crm_api.refresh_segment(segment_id uuid) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    RETURN crm.refresh_segment(segment_id);
EXCEPTION WHEN lock_not_available THEN
    RAISE EXCEPTION '%', SQLERRM USING ERRCODE = 'PT409', HINT = 'One run at a time: try again when the other run has finished.';
END
$$;
COMMENT ON FUNCTION crm_api.refresh_segment(uuid) IS 'Refreshes a segment (POST /rpc/refresh_segment {"segment_id": ...}; managers and admins): {"added", "removed", "members"}. 403 for reps, 404 for an unknown segment, 409 while another refresh works.';
CREATE FUNCTION crm_api.segment_members(segment_id uuid) RETURNS SETOF crm_api.accounts
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM 1 FROM crm.segments s WHERE s.tenant_id = crm.current_tenant() AND s.id = segment_members.segment_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('segment', segment_id);
    END IF;
    RETURN QUERY SELECT a.* FROM crm_api.accounts a
                  WHERE a.tenant_id = crm.current_tenant()
                    AND EXISTS (SELECT 1 FROM crm.segment_members m
                                 WHERE m.tenant_id = a.tenant_id AND m.segment_id = segment_members.segment_id AND m.account_id = a.id)
                  ORDER BY a.name, a.id;
END
$$;
COMMENT ON FUNCTION crm_api.segment_members(uuid) IS 'The accounts of a segment that the caller reads, by name (GET /rpc/segment_members?segment_id=...). 404 for an unknown segment.';
REVOKE EXECUTE ON FUNCTION crm_api.refresh_segment(uuid), crm_api.segment_members(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.refresh_segment(uuid), crm_api.segment_members(uuid) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.segment_members_recount(), crm.segment_field_kind(text),
    crm.segment_value_fits(text,jsonb), crm.validate_segment_criteria(jsonb,text,integer),
    crm.segment_predicate(jsonb), crm.segment_accounts(uuid,uuid,uuid,numeric[],text[]),
    crm.segments_before_write(), crm.refresh_segment(uuid), crm.refresh_segments(uuid),
    crm.refresh_segments_tenant(uuid,jsonb,jsonb), crm.refresh_segments_args(jsonb), crm.create_default_segments(uuid),
    crm.segments_null_references() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.segment_field_kind(text), crm.segment_value_fits(text,jsonb),
    crm.validate_segment_criteria(jsonb,text,integer), crm.segment_predicate(jsonb),
    crm.segment_accounts(uuid,uuid,uuid,numeric[],text[]) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.refresh_segment(uuid), crm.refresh_segments(uuid), crm.refresh_segments_tenant(uuid,jsonb,jsonb) TO crm_manager;
-- (a job's arguments are checked before its caller: for anyone who may start the driver)
GRANT EXECUTE ON FUNCTION crm.refresh_segments_args(jsonb) TO crm_rep;
