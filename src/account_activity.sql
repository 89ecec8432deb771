-- account_activity.sql: each account's activities rolled up by day, kept by triggers, so that what
-- health and segments ask of an account's activities (how many in the last 30 and 90 days, their
-- sentiment, the latest) is read from a few narrow rows per account instead of from the activities.
-- An activity counts for the account it is logged against, else its contact's account, else its
-- opportunity's account (so once, however many of these it names). Days are UTC days.
--
-- Inserts add to the day's row. Any other change (an activity edited or deleted, a contact or an
-- opportunity moved to another account or deleted) recounts the accounts concerned from their
-- activities, so the rollup never drifts. A bulk load without triggers (session_replication_role =
-- replica) is followed by crm.rebuild_account_activity(), as with crm.rebuild_win_model().

CREATE TABLE crm.account_activity_days (
    -- (the tenant is checked through the account, as for crm.account_health)
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant(),
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    account_id uuid        NOT NULL,
    day        date        NOT NULL,
    activities integer     NOT NULL CHECK (activities > 0),
    positive   integer     NOT NULL CHECK (positive >= 0),
    negative   integer     NOT NULL CHECK (negative >= 0),
    rated      integer     NOT NULL CHECK (rated >= positive + negative AND rated <= activities),
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, account_id, day),
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE crm.account_activity_days IS 'Each account''s activities per UTC day (those logged against it, its contacts or its opportunities): how many, how many positive, negative and rated, and the latest. Kept by triggers on activities, contacts and opportunities; read by health and segments; rebuilt by crm.rebuild_account_activity after a load without triggers. Written by the database only.';
COMMENT ON COLUMN crm.account_activity_days.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.account_activity_days.id IS 'The row''s id (uuid_v7).';
COMMENT ON COLUMN crm.account_activity_days.account_id IS 'The account the activities count for.';
COMMENT ON COLUMN crm.account_activity_days.day IS 'The UTC day they occurred on.';
COMMENT ON COLUMN crm.account_activity_days.activities IS 'How many activities.';
COMMENT ON COLUMN crm.account_activity_days.positive IS 'Of them, with a positive sentiment.';
COMMENT ON COLUMN crm.account_activity_days.negative IS 'Of them, with a negative sentiment.';
COMMENT ON COLUMN crm.account_activity_days.rated IS 'Of them, with any sentiment.';
COMMENT ON COLUMN crm.account_activity_days.last_at IS 'When the day''s latest of them occurred.';
ALTER TABLE crm.account_activity_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.account_activity_days FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.account_activity_days', '');
SELECT crm.secure_table('crm.account_activity_days', 'child', 'crm.accounts', 'account_id');
REVOKE INSERT, UPDATE, DELETE ON crm.account_activity_days FROM crm_rep;
-- Health reads the last 90 days of a tenant each night: through this index, not a scan of every day
-- the tenant ever had. (Only its key: a day's counts change in place, as HOT updates.)
CREATE INDEX account_activity_days_tenant_day ON crm.account_activity_days (tenant_id, day);
COMMENT ON INDEX crm.account_activity_days_tenant_day IS 'The days of a tenant in order: what health reads each night (the last 90).';

-- Recounts accounts of a tenant from their activities (all of them when accounts is NULL) and returns
-- how many day rows they now have. Only crm's triggers and crm.rebuild_account_activity call it.
CREATE FUNCTION crm.recount_account_activity(t uuid, accounts uuid[]) RETURNS bigint
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    n bigint;
BEGIN
    -- SECURITY DEFINER: for the request's own tenant, or the operator's
    IF t IS DISTINCT FROM crm.current_tenant() THEN
        PERFORM crm.check_tenant_caller(t);
    END IF;
    IF accounts IS NULL THEN
        DELETE FROM crm.account_activity_days d WHERE d.tenant_id = t;
        INSERT INTO crm.account_activity_days (tenant_id, account_id, day, activities, positive, negative, rated, last_at)
        SELECT t, x.account_id, (v.occurred_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE v.sentiment = 'positive'),
               count(*) FILTER (WHERE v.sentiment = 'negative'), count(v.sentiment), max(v.occurred_at)
          FROM crm.activities v
          LEFT JOIN crm.contacts c ON v.account_id IS NULL AND c.tenant_id = t AND c.id = v.contact_id
          LEFT JOIN crm.opportunities o ON v.account_id IS NULL AND c.account_id IS NULL AND o.tenant_id = t AND o.id = v.opportunity_id
          CROSS JOIN LATERAL (SELECT coalesce(v.account_id, c.account_id, o.account_id) AS account_id) x
         WHERE v.tenant_id = t AND x.account_id IS NOT NULL
         GROUP BY 2, 3
         -- laid out by day, as the rows come in everyday use, so that reading the latest days reads
         -- only the pages that hold them
         ORDER BY 3, 2;
    ELSE
        DELETE FROM crm.account_activity_days d WHERE d.tenant_id = t AND d.account_id = ANY (accounts);
        -- the three ways an activity counts for an account, each through its index
        INSERT INTO crm.account_activity_days (tenant_id, account_id, day, activities, positive, negative, rated, last_at)
        SELECT t, x.account_id, (x.occurred_at AT TIME ZONE 'UTC')::date, count(*), count(*) FILTER (WHERE x.sentiment = 'positive'),
               count(*) FILTER (WHERE x.sentiment = 'negative'), count(x.sentiment), max(x.occurred_at)
          FROM (SELECT v.account_id, v.occurred_at, v.sentiment
                  FROM crm.activities v WHERE v.tenant_id = t AND v.account_id = ANY (accounts)
                UNION ALL
                SELECT c.account_id, v.occurred_at, v.sentiment
                  FROM crm.contacts c JOIN crm.activities v ON v.tenant_id = t AND v.contact_id = c.id AND v.account_id IS NULL
                 WHERE c.tenant_id = t AND c.account_id = ANY (accounts)
                UNION ALL
                SELECT o.account_id, v.occurred_at, v.sentiment
                  FROM crm.opportunities o JOIN crm.activities v ON v.tenant_id = t AND v.opportunity_id = o.id AND v.account_id IS NULL
                  LEFT JOIN crm.contacts c ON c.tenant_id = t AND c.id = v.contact_id
                 WHERE o.tenant_id = t AND o.account_id = ANY (accounts) AND c.account_id IS NULL) x
          -- an account deleted by the statement that fired the trigger is left to its own cascade
          JOIN crm.accounts a ON a.tenant_id = t AND a.id = x.account_id
         GROUP BY 2, 3
         ORDER BY 2, 3;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION crm.recount_account_activity(uuid, uuid[]) FROM PUBLIC;
COMMENT ON FUNCTION crm.recount_account_activity(uuid, uuid[]) IS 'Internal: recounts the day rows of the given accounts of a tenant (every account when NULL) from their activities; returns how many rows they now have.';

-- The triggers below read their transition tables in statements of their own (Citus cannot read one
-- in a query that also reads a distributed table): per tenant, what the rows count for is gathered into
-- arrays; then each tenant is written by statements of that tenant alone, one per tenant and firing.

-- Inserted activities: added to their days, in one statement per tenant per insert statement (ordered,
-- so that two concurrent inserts take the rows they share in the same order). The transition table is
-- first summed per what an activity is logged against and day, so the arrays are short.
CREATE FUNCTION crm.activities_roll_up_insert() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    accs uuid[];
    cons uuid[];
    opps uuid[];
    days date[];
    ns integer[];
    pos integer[];
    negs integer[];
    rateds integer[];
    lasts timestamptz[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.activities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.activities_roll_up_insert()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    FOR t, accs, cons, opps, days, ns, pos, negs, rateds, lasts IN
        SELECT v.tenant_id, array_agg(v.account_id), array_agg(v.contact_id), array_agg(v.opportunity_id), array_agg(v.day),
               array_agg(v.n), array_agg(v.positive), array_agg(v.negative), array_agg(v.rated), array_agg(v.last_at)
          FROM (SELECT a.tenant_id, a.account_id,
                       CASE WHEN a.account_id IS NULL THEN a.contact_id END AS contact_id,
                       CASE WHEN a.account_id IS NULL THEN a.opportunity_id END AS opportunity_id,
                       (a.occurred_at AT TIME ZONE 'UTC')::date AS day, count(*)::integer AS n,
                       count(*) FILTER (WHERE a.sentiment = 'positive')::integer AS positive,
                       count(*) FILTER (WHERE a.sentiment = 'negative')::integer AS negative,
                       count(a.sentiment)::integer AS rated, max(a.occurred_at) AS last_at
                  FROM added a
                 -- (an activity of a lead only counts for no account: no statement for it)
                 WHERE a.account_id IS NOT NULL OR a.contact_id IS NOT NULL OR a.opportunity_id IS NOT NULL
                 GROUP BY 1, 2, 3, 4, 5) v
         GROUP BY v.tenant_id
         ORDER BY v.tenant_id
    LOOP
        INSERT INTO crm.account_activity_days AS d (tenant_id, account_id, day, activities, positive, negative, rated, last_at)
        SELECT t, x.account_id, v.day, sum(v.n), sum(v.positive), sum(v.negative), sum(v.rated), max(v.last_at)
          FROM unnest(accs, cons, opps, days, ns, pos, negs, rateds, lasts)
               v (account_id, contact_id, opportunity_id, day, n, positive, negative, rated, last_at)
          LEFT JOIN crm.contacts c ON v.account_id IS NULL AND c.tenant_id = t AND c.id = v.contact_id
          LEFT JOIN crm.opportunities o ON v.account_id IS NULL AND c.account_id IS NULL AND o.tenant_id = t AND o.id = v.opportunity_id
          CROSS JOIN LATERAL (SELECT coalesce(v.account_id, c.account_id, o.account_id) AS account_id) x
         WHERE x.account_id IS NOT NULL
         GROUP BY x.account_id, v.day
         ORDER BY x.account_id, v.day
        ON CONFLICT (tenant_id, account_id, day) DO UPDATE
           SET activities = d.activities + excluded.activities, positive = d.positive + excluded.positive,
               negative = d.negative + excluded.negative, rated = d.rated + excluded.rated, last_at = greatest(d.last_at, excluded.last_at);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.activities_roll_up_insert() IS 'Trigger: adds inserted activities to their accounts'' days (crm.account_activity_days).';
CREATE TRIGGER activities_roll_up_insert AFTER INSERT ON crm.activities
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION crm.activities_roll_up_insert();
COMMENT ON TRIGGER activities_roll_up_insert ON crm.activities IS 'src/account_activity.sql: adds the inserted activities to their accounts'' days in crm.account_activity_days, one statement per tenant.';

-- Edits that change what counts (when, sentiment, what it is logged against) recount the accounts
-- of both sides; deletes recount the accounts the rows counted for. (An activity deleted with its
-- contact or opportunity names one no longer there: that one's own trigger recounts its account.)
CREATE FUNCTION crm.activities_roll_up_update() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    accs uuid[];
    cons uuid[];
    opps uuid[];
    accounts uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.activities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.activities_roll_up_update()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- what the changed rows were and are logged against, per tenant
    FOR t, accs, cons, opps IN
        SELECT v.tenant_id, array_agg(v.account_id), array_agg(v.contact_id), array_agg(v.opportunity_id)
          FROM (SELECT DISTINCT x.tenant_id, x.account_id,
                       CASE WHEN x.account_id IS NULL THEN x.contact_id END AS contact_id,
                       CASE WHEN x.account_id IS NULL THEN x.opportunity_id END AS opportunity_id
                  FROM old_rows was JOIN new_rows now_is ON now_is.tenant_id = was.tenant_id AND now_is.id = was.id
                 CROSS JOIN LATERAL (VALUES (was.tenant_id, was.account_id, was.contact_id, was.opportunity_id),
                                            (now_is.tenant_id, now_is.account_id, now_is.contact_id, now_is.opportunity_id))
                                    x (tenant_id, account_id, contact_id, opportunity_id)
                 WHERE (was.occurred_at, was.sentiment, was.account_id, was.contact_id, was.opportunity_id, was.tenant_id)
                       IS DISTINCT FROM (now_is.occurred_at, now_is.sentiment, now_is.account_id, now_is.contact_id,
                                         now_is.opportunity_id, now_is.tenant_id)) v
         GROUP BY v.tenant_id
    LOOP
        -- the accounts they count for (the same rule as crm.activities_roll_up_insert)
        SELECT array_agg(DISTINCT coalesce(v.account_id, c.account_id, o.account_id)) INTO accounts
          FROM unnest(accs, cons, opps) v (account_id, contact_id, opportunity_id)
          LEFT JOIN crm.contacts c ON v.account_id IS NULL AND c.tenant_id = t AND c.id = v.contact_id
          LEFT JOIN crm.opportunities o ON v.account_id IS NULL AND c.account_id IS NULL AND o.tenant_id = t AND o.id = v.opportunity_id
         WHERE coalesce(v.account_id, c.account_id, o.account_id) IS NOT NULL;
        IF accounts IS NOT NULL THEN
            PERFORM crm.recount_account_activity(t, accounts);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.activities_roll_up_update() IS 'Trigger: recounts the accounts of activities whose time, sentiment, account, contact or opportunity changed (before and after).';
CREATE TRIGGER activities_roll_up_update AFTER UPDATE ON crm.activities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.activities_roll_up_update();
COMMENT ON TRIGGER activities_roll_up_update ON crm.activities IS 'src/account_activity.sql: recounts the activity days of the accounts of activities whose time, sentiment, account, contact or opportunity changed (before and after).';

CREATE FUNCTION crm.activities_roll_up_delete() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    accs uuid[];
    cons uuid[];
    opps uuid[];
    accounts uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.activities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.activities_roll_up_delete()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    FOR t, accs, cons, opps IN
        SELECT v.tenant_id, array_agg(v.account_id), array_agg(v.contact_id), array_agg(v.opportunity_id)
          FROM (SELECT DISTINCT o.tenant_id, o.account_id,
                       CASE WHEN o.account_id IS NULL THEN o.contact_id END AS contact_id,
                       CASE WHEN o.account_id IS NULL THEN o.opportunity_id END AS opportunity_id
                  FROM old_rows o) v
         GROUP BY v.tenant_id
    LOOP
        SELECT array_agg(DISTINCT coalesce(v.account_id, c.account_id, o.account_id)) INTO accounts
          FROM unnest(accs, cons, opps) v (account_id, contact_id, opportunity_id)
          LEFT JOIN crm.contacts c ON v.account_id IS NULL AND c.tenant_id = t AND c.id = v.contact_id
          LEFT JOIN crm.opportunities o ON v.account_id IS NULL AND c.account_id IS NULL AND o.tenant_id = t AND o.id = v.opportunity_id
         WHERE coalesce(v.account_id, c.account_id, o.account_id) IS NOT NULL;
        IF accounts IS NOT NULL THEN
            PERFORM crm.recount_account_activity(t, accounts);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.activities_roll_up_delete() IS 'Trigger: recounts the accounts of deleted activities.';
CREATE TRIGGER activities_roll_up_delete AFTER DELETE ON crm.activities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.activities_roll_up_delete();
COMMENT ON TRIGGER activities_roll_up_delete ON crm.activities IS 'src/account_activity.sql: recounts the activity days of the accounts of deleted activities.';

CREATE FUNCTION crm.activities_roll_up_truncate() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.activities'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.activities_roll_up_truncate()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    -- On Citus a TRUNCATE through the coordinator fires this on the coordinator's table (empty: the
    -- rows are in the shards), which empties the rollup on every shard, and on each truncated shard,
    -- where it does nothing (a DELETE over every shard cannot run from a shard; the coordinator's does it).
    IF crm.table_of(TG_RELID)::oid = TG_RELID THEN
        DELETE FROM crm.account_activity_days;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.activities_roll_up_truncate() IS 'Trigger: empties crm.account_activity_days when the activities are truncated (on Citus: from the coordinator''s table, not from the shards).';
CREATE TRIGGER activities_roll_up_truncate AFTER TRUNCATE ON crm.activities
    FOR EACH STATEMENT EXECUTE FUNCTION crm.activities_roll_up_truncate();
COMMENT ON TRIGGER activities_roll_up_truncate ON crm.activities IS 'src/account_activity.sql: empties crm.account_activity_days.';

-- A contact or an opportunity that moves to another account, or is deleted (its activities with it),
-- changes what its activities count for: the accounts before and after are recounted, gathered per
-- tenant from the transition tables alone.
CREATE FUNCTION crm.roll_up_moved() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    t uuid;
    accounts uuid[];
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> ALL ('{crm.contacts,crm.opportunities}'::regclass[]) THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.roll_up_moved()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    IF TG_OP = 'UPDATE' THEN
        FOR t, accounts IN
            SELECT x.tenant_id, array_agg(DISTINCT x.account_id)
              FROM old_rows o JOIN new_rows n ON n.tenant_id = o.tenant_id AND n.id = o.id
             CROSS JOIN LATERAL (VALUES (o.tenant_id, o.account_id), (n.tenant_id, n.account_id)) x (tenant_id, account_id)
             WHERE (o.tenant_id, o.account_id) IS DISTINCT FROM (n.tenant_id, n.account_id) AND x.account_id IS NOT NULL
             GROUP BY x.tenant_id
        LOOP
            PERFORM crm.recount_account_activity(t, accounts);
        END LOOP;
    ELSE
        FOR t, accounts IN
            SELECT o.tenant_id, array_agg(DISTINCT o.account_id) FROM old_rows o WHERE o.account_id IS NOT NULL GROUP BY o.tenant_id
        LOOP
            PERFORM crm.recount_account_activity(t, accounts);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.roll_up_moved() IS 'Trigger on contacts and opportunities: recounts the accounts whose activities change when one moves to another account or is deleted.';
CREATE TRIGGER contacts_roll_up_update AFTER UPDATE ON crm.contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.roll_up_moved();
COMMENT ON TRIGGER contacts_roll_up_update ON crm.contacts IS 'src/account_activity.sql: recounts the activity days of the accounts a contact left and joined.';
CREATE TRIGGER contacts_roll_up_delete AFTER DELETE ON crm.contacts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.roll_up_moved();
COMMENT ON TRIGGER contacts_roll_up_delete ON crm.contacts IS 'src/account_activity.sql: recounts the activity days of the accounts of deleted contacts (their activities go with them).';
CREATE TRIGGER opportunities_roll_up_update AFTER UPDATE ON crm.opportunities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.roll_up_moved();
COMMENT ON TRIGGER opportunities_roll_up_update ON crm.opportunities IS 'src/account_activity.sql: recounts the activity days of the accounts an opportunity left and joined.';
CREATE TRIGGER opportunities_roll_up_delete AFTER DELETE ON crm.opportunities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm.roll_up_moved();
COMMENT ON TRIGGER opportunities_roll_up_delete ON crm.opportunities IS 'src/account_activity.sql: recounts the activity days of the accounts of deleted opportunities (their activities go with them).';

-- The job's body (src/jobs.sql, crm.job_tenant): a tenant's rollup recounted, in one call. SECURITY
-- DEFINER, as crm.recount_account_activity is granted to no one.
CREATE FUNCTION crm.rebuild_account_activity_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    n bigint;
BEGIN
    PERFORM crm.check_job_caller(t);
    n := crm.recount_account_activity(t, NULL);
    RETURN jsonb_build_object('processed', n, 'changed', n, 'details', '{}'::jsonb, 'next', NULL,
                              'progress', format('crm.rebuild_account_activity: tenant %s', t));
END
$$;
COMMENT ON FUNCTION crm.rebuild_account_activity_tenant(uuid, jsonb, jsonb) IS 'The body of the job rebuild_account_activity (crm.run_job): recounts a tenant''s crm.account_activity_days from its activities; returns {processed, changed: the day rows written, details, next: null}. For managers and admins of the tenant, or the operator.';

CREATE FUNCTION crm.rebuild_account_activity(tenant uuid DEFAULT crm.current_tenant()) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('rebuild_account_activity', tenant)
$$;
COMMENT ON FUNCTION crm.rebuild_account_activity(uuid) IS 'Recounts a tenant''s crm.account_activity_days from its activities (the triggers keep it current; this repairs it after a bulk load without triggers) and returns {"tenants", "failed", "processed" and "changed": the day rows written, "failures": [...]}: the job rebuild_account_activity of crm.run_job, in the caller''s transaction. For managers and admins of the tenant, or the operator (NULL: every tenant: a tenant that fails is undone and logged as failed in crm.job_runs, and the others are still recounted); one run per tenant at a time (55P03), logged in crm.job_runs.';

CREATE FUNCTION crm_api.rebuild_account_activity() RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_for_http('rebuild_account_activity')
$$;
COMMENT ON FUNCTION crm_api.rebuild_account_activity() IS 'Recounts the tenant''s activities per account and day and returns how many day rows it wrote (POST /rpc/rebuild_account_activity; managers and admins, 403 for reps; 409 while another run works).';
REVOKE EXECUTE ON FUNCTION crm_api.rebuild_account_activity() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.rebuild_account_activity() TO crm_rep;

CREATE VIEW crm_api.account_activity_days WITH (security_invoker = true) AS
    SELECT tenant_id, id, account_id, day, activities, positive, negative, rated, last_at FROM crm.account_activity_days;
COMMENT ON VIEW crm_api.account_activity_days IS 'The activities of the accounts the caller reads, per account and UTC day (read only): GET /account_activity_days?account_id=eq...&order=day.desc for an activity timeline.';
GRANT SELECT ON crm_api.account_activity_days TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.activities_roll_up_insert(), crm.activities_roll_up_update(),
    crm.activities_roll_up_delete(), crm.activities_roll_up_truncate(), crm.roll_up_moved(),
    crm.rebuild_account_activity(uuid), crm.rebuild_account_activity_tenant(uuid,jsonb,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.rebuild_account_activity(uuid), crm.rebuild_account_activity_tenant(uuid,jsonb,jsonb) TO crm_manager;
