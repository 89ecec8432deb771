-- qualification.sql: lead scores kept on the leads, their daily history, and qualification by score.
--
-- The score of a lead is always the one its tenant's active model gives it: a BEFORE trigger scores
-- every inserted or updated lead (crm.lead_score_fields, the C of crm.lead_score from the lead's
-- columns; the model is parsed once per query), and
-- logging an activity updates the lead's engagement summary, which rescores it. What changes scores
-- without touching the lead (a new model, time decaying engagement, a bulk load without triggers) is
-- caught up by crm.rescore_leads, in batches, one run per tenant at a time, writing changed rows only.
--
-- When a new or contacted lead's score reaches the tenant's qualification_threshold, the lead becomes
-- qualified, once: qualified_at is set, its owner gets one follow-up task and lead.qualified is
-- emitted. A qualified lead whose score falls below the threshold stays qualified and is flagged
-- (score_dropped_at, lead.score_dropped) for its owner to review.

------------------------------------------------------------------------------------------------------
-- Engagement: what engagement rules read of a lead's activities, kept on the lead
------------------------------------------------------------------------------------------------------

CREATE FUNCTION crm.lead_engagement(tenant uuid, lead uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
-- (PL/pgSQL: Citus plans no SQL function whose parameter names the tenant of a distributed table)
BEGIN
    RETURN (
    SELECT jsonb_object_agg(o.type, o.outcomes)
    FROM (SELECT a.type, jsonb_object_agg(a.outcome, a.times) AS outcomes
          FROM (SELECT x.type::text AS type, coalesce(x.outcome, '') AS outcome,
                       jsonb_agg(floor(extract(epoch FROM x.occurred_at))::bigint ORDER BY x.occurred_at DESC) AS times
                FROM (SELECT y.type, y.outcome, y.occurred_at,
                             row_number() OVER (PARTITION BY y.type, y.outcome ORDER BY y.occurred_at DESC) AS n
                      FROM crm.activities y
                      WHERE y.tenant_id = tenant AND y.lead_id = lead) x
                WHERE x.n <= (crm.scoring_limits()->>'engagement_times')::integer
                GROUP BY 1, 2) a
          GROUP BY a.type) o
    );
END
$$;
COMMENT ON FUNCTION crm.lead_engagement(uuid, uuid) IS 'A lead''s engagement summary as crm.leads.engagement keeps it: {"<type>": {"<outcome, or empty>": [epoch seconds of the latest 50, newest first]}}; NULL without activities.';

-- The summary is the database's, but the table is writable: a summary written by hand is checked as it
-- is saved, by crm.leads_score below (src/scoring.c reads it for every score: one it could not read would break every write of
-- the lead and the tenant's rescoring).
CREATE FUNCTION crm.validate_lead_engagement(engagement jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'crm_validate_lead_engagement'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.validate_lead_engagement(jsonb) IS 'Checks a lead''s engagement summary and returns it: {"<activity type>": {"<outcome, or empty>": [epoch seconds, ...]}}, at most 50 whole epoch seconds within bigint per type and outcome (crm.scoring_limits()->''engagement_times''); anything else raises 22023 naming the JSON path of the bad part, e.g. $.call.connected[50].';
REVOKE EXECUTE ON FUNCTION crm.validate_lead_engagement(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.validate_lead_engagement(jsonb) TO crm_rep;

------------------------------------------------------------------------------------------------------
-- Scores on the leads
------------------------------------------------------------------------------------------------------

CREATE FUNCTION crm.qualification_threshold(tenant uuid) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT (t.settings->>'qualification_threshold')::integer FROM crm.tenants t WHERE t.id = tenant
$$;
COMMENT ON FUNCTION crm.qualification_threshold(uuid) IS 'The score from which a tenant''s new and contacted leads become qualified (tenant setting qualification_threshold, default 70).';

CREATE FUNCTION crm.leads_score() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    threshold integer;
BEGIN
    -- an engagement summary that scoring could not read is refused (22023 naming its JSON path)
    IF NEW.engagement IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.engagement IS DISTINCT FROM OLD.engagement) THEN
        NEW.engagement := crm.validate_lead_engagement(NEW.engagement);
    END IF;
    -- scored from the columns, not from the row NEW (by crm.lead_score): on a Citus shard NEW is of the shard's type
    NEW.score := crm.lead_score_fields(NEW.tenant_id, NEW.employee_count, NEW.annual_revenue, NEW.budget, NEW.industry,
                                       NEW.country, NEW.title, NEW.company, NEW.source, NEW.purchase_timeline,
                                       NEW.is_decision_maker, NEW.engagement);
    NEW.grade := crm.lead_grade(NEW.score);
    -- the scoring columns are the database's: what a writer puts there is replaced
    IF TG_OP = 'INSERT' THEN
        NEW.scored_at := CASE WHEN NEW.score IS NOT NULL THEN pg_catalog.now() END;
        NEW.score_dropped_at := NULL;
    ELSE
        NEW.scored_at := CASE WHEN NEW.score IS DISTINCT FROM OLD.score THEN pg_catalog.now() ELSE OLD.scored_at END;
        NEW.qualified_at := OLD.qualified_at;
        NEW.score_dropped_at := OLD.score_dropped_at;
    END IF;
    IF NEW.status = 'qualified' AND NEW.qualified_at IS NULL THEN
        NEW.qualified_at := pg_catalog.now();            -- qualified by hand
    END IF;
    IF NEW.status <> 'qualified' THEN
        NEW.score_dropped_at := NULL;
    END IF;
    IF NEW.score IS NULL OR NOT (NEW.status = 'qualified' OR NEW.status IN ('new', 'contacted') AND NEW.qualified_at IS NULL) THEN
        RETURN NEW;
    END IF;
    threshold := crm.qualification_threshold(NEW.tenant_id);
    IF NEW.status IN ('new', 'contacted') AND NEW.score >= threshold THEN
        NEW.status := 'qualified';
        NEW.qualified_at := pg_catalog.now();
    ELSIF NEW.status = 'qualified' THEN
        IF NEW.score >= threshold THEN
            NEW.score_dropped_at := NULL;
        ELSIF TG_OP = 'UPDATE' AND OLD.score >= threshold AND NEW.score_dropped_at IS NULL THEN
            NEW.score_dropped_at := pg_catalog.now();
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.leads_score() IS 'Trigger: scores a lead as it is written (score, grade, scored_at), qualifies a new or contacted lead that reaches the threshold (once: qualified_at), and flags a qualified lead whose score falls below it (score_dropped_at).';
CREATE TRIGGER b30_leads_score BEFORE INSERT OR UPDATE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_score();
COMMENT ON TRIGGER b30_leads_score ON crm.leads IS 'src/qualification.sql: scores the lead (score, grade, scored_at), qualifies a new or contacted lead at the threshold (qualified_at), flags a qualified one that falls below (score_dropped_at). After b20_leads_before_write.';

CREATE TABLE crm.lead_score_history (
    tenant_id   uuid        NOT NULL DEFAULT crm.current_tenant() REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT crm.uuid_v7(),
    lead_id     uuid        NOT NULL,
    day         date        NOT NULL,
    score       integer     NOT NULL CHECK (score BETWEEN 0 AND 100),
    grade       char(1)     NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, lead_id, day),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE crm.lead_score_history IS 'Score trends: a lead''s score at the end of each day (UTC) its score changed, one row per lead per day. Written by the database only.';
COMMENT ON COLUMN crm.lead_score_history.tenant_id IS 'The owning tenant.';
COMMENT ON COLUMN crm.lead_score_history.id IS 'The entry''s id (uuid_v7).';
COMMENT ON COLUMN crm.lead_score_history.lead_id IS 'The lead.';
COMMENT ON COLUMN crm.lead_score_history.day IS 'The day (UTC).';
COMMENT ON COLUMN crm.lead_score_history.score IS 'The lead''s last score that day.';
COMMENT ON COLUMN crm.lead_score_history.grade IS 'Its grade.';
COMMENT ON COLUMN crm.lead_score_history.recorded_at IS 'When that score was recorded.';
ALTER TABLE crm.lead_score_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_score_history FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.lead_score_history', '');
SELECT crm.secure_table('crm.lead_score_history', 'child', 'crm.leads', 'lead_id');
REVOKE INSERT, UPDATE, DELETE ON crm.lead_score_history FROM crm_rep;

-- What follows a score: the day's history row, the follow-up task and lead.qualified on qualification,
-- lead.score_dropped on the flag. SECURITY DEFINER: callers write none of these directly.
CREATE FUNCTION crm.leads_after_scoring() RETURNS trigger
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql AS
$$
DECLARE
    threshold integer;
    by_score boolean;
    task uuid;
    label text;
BEGIN
    -- SECURITY DEFINER: it runs for its own tables only, never for a table of the caller's
    IF crm.table_of(TG_RELID) <> 'crm.leads'::regclass THEN
        RAISE EXCEPTION 'permission denied: % is not a table of trigger function crm.leads_after_scoring()', TG_RELID::regclass USING ERRCODE = '42501';
    END IF;
    threshold := crm.qualification_threshold(NEW.tenant_id);
    label := coalesce(nullif(btrim(concat_ws(' ', NEW.first_name, NEW.last_name)), ''), NEW.company, NEW.email::text);
    IF NEW.score IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.score IS DISTINCT FROM OLD.score) THEN
        INSERT INTO crm.lead_score_history AS h (tenant_id, lead_id, day, score, grade)
        VALUES (NEW.tenant_id, NEW.id, (now() AT TIME ZONE 'UTC')::date, NEW.score, NEW.grade)
        ON CONFLICT (tenant_id, lead_id, day)
        DO UPDATE SET score = excluded.score, grade = excluded.grade, recorded_at = excluded.recorded_at;
    END IF;
    IF NEW.qualified_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.qualified_at IS NULL) THEN
        by_score := coalesce(NEW.score >= threshold, false);
        IF by_score THEN
            INSERT INTO crm.tasks (tenant_id, title, description, type, priority, due_at, assignee_id, lead_id)
            VALUES (NEW.tenant_id, format('Follow up with %s', label),
                    format('Qualified by lead scoring: score %s (grade %s), threshold %s.', NEW.score, NEW.grade, threshold),
                    'follow_up', 'high', now() + interval '1 day', NEW.owner_id, NEW.id)
            RETURNING id INTO task;
        END IF;
        PERFORM crm.emit_event(NEW.tenant_id, 'lead.qualified', 'lead', NEW.id,
                               jsonb_build_object('score', NEW.score, 'grade', NEW.grade, 'threshold', threshold,
                                                  'by', CASE WHEN by_score THEN 'score' ELSE 'hand' END,
                                                  'task_id', task, 'owner_id', NEW.owner_id));
    END IF;
    IF NEW.score_dropped_at IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.score_dropped_at IS NULL) THEN
        PERFORM crm.emit_event(NEW.tenant_id, 'lead.score_dropped', 'lead', NEW.id,
                               jsonb_build_object('score', NEW.score, 'previous_score', OLD.score, 'threshold', threshold,
                                                  'owner_id', NEW.owner_id));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_after_scoring() IS 'Trigger: records the day''s score in lead_score_history; on a lead''s first qualification emits lead.qualified and, when its score reached the threshold, gives its owner a follow-up task; on the drop flag emits lead.score_dropped.';
CREATE TRIGGER leads_after_scoring_insert AFTER INSERT ON crm.leads
    FOR EACH ROW WHEN (NEW.score IS NOT NULL OR NEW.qualified_at IS NOT NULL)
    EXECUTE FUNCTION crm.leads_after_scoring();
COMMENT ON TRIGGER leads_after_scoring_insert ON crm.leads IS 'src/qualification.sql: records the score in lead_score_history; a lead qualified on insert gets lead.qualified (and, by score, a follow-up task).';
CREATE TRIGGER leads_after_scoring_update AFTER UPDATE ON crm.leads
    FOR EACH ROW WHEN (NEW.score IS DISTINCT FROM OLD.score OR NEW.qualified_at IS DISTINCT FROM OLD.qualified_at
                       OR NEW.score_dropped_at IS DISTINCT FROM OLD.score_dropped_at)
    EXECUTE FUNCTION crm.leads_after_scoring();
COMMENT ON TRIGGER leads_after_scoring_update ON crm.leads IS 'src/qualification.sql: records the day''s score in lead_score_history; on qualification lead.qualified (and, by score, a follow-up task); on the drop flag lead.score_dropped.';

------------------------------------------------------------------------------------------------------
-- Scoring on demand: one lead, a whole tenant
------------------------------------------------------------------------------------------------------

-- Whether a lead's stored state lags its score: the score differs, or it reaches the threshold and the
-- lead is still waiting to be qualified (the threshold was lowered).
CREATE FUNCTION crm.lead_needs_rescoring(stored integer, fresh integer, status crm.lead_status, qualified_at timestamptz,
                                         threshold integer)
    RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT stored IS DISTINCT FROM fresh
        OR (status IN ('new', 'contacted') AND qualified_at IS NULL AND fresh >= threshold)
$$;
COMMENT ON FUNCTION crm.lead_needs_rescoring(integer, integer, crm.lead_status, timestamptz, integer) IS 'Whether a lead must be written when rescored: its stored score differs from the fresh one, or the fresh one reaches the threshold of a lead not yet qualified.';

CREATE FUNCTION crm.score_lead(lead_id uuid) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    before crm.leads;
    after crm.leads;
BEGIN
    before := crm.visible_lead(lead_id);
    after := before;
    IF crm.lead_needs_rescoring(before.score, crm.lead_score(before), before.status, before.qualified_at,
                                crm.qualification_threshold(before.tenant_id)) THEN
        UPDATE crm.leads x SET score = crm.lead_score_fields(x.tenant_id, x.employee_count, x.annual_revenue, x.budget, x.industry, x.country, x.title, x.company, x.source, x.purchase_timeline, x.is_decision_maker, x.engagement)
         WHERE x.tenant_id = before.tenant_id AND x.id = before.id
        RETURNING x.* INTO after;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'permission denied: lead % is not yours to score', lead_id USING ERRCODE = '42501',
                HINT = 'Its owner, a manager or an admin can rescore it.';
        END IF;
    END IF;
    RETURN jsonb_build_object(
        'lead_id', after.id,
        'score', after.score,
        'grade', after.grade,
        'previous_score', before.score,
        'changed', after.score IS DISTINCT FROM before.score,
        'status', after.status,
        'qualified_now', after.qualified_at IS DISTINCT FROM before.qualified_at,
        'score_dropped', after.score_dropped_at IS NOT NULL,
        'top_reasons', crm.explain_lead_score(after)->'top_reasons');
END
$$;
COMMENT ON FUNCTION crm.score_lead(uuid) IS 'Scores one lead now and stores the result (score, grade, history, qualification): {lead_id, score, grade, previous_score, changed, status, qualified_now, score_dropped, top_reasons}. Not visible: PT404; visible but not the caller''s to change, when its score changed: 42501.';

-- Which leads can have a stale score when nothing about the model changed since the last full run:
-- engaged ones (their engagement decays with time) and unscored ones (loaded without triggers). Every
-- other write went through the scoring trigger. Partial indexes find both without reading the rest.
CREATE INDEX leads_tenant_engaged ON crm.leads (tenant_id, id) WHERE engagement IS NOT NULL;
CREATE INDEX leads_tenant_unscored ON crm.leads (tenant_id, id) WHERE score IS NULL;
COMMENT ON INDEX crm.leads_tenant_engaged IS 'Leads with activities (their engagement decays): what an incremental crm.rescore_leads reads.';
COMMENT ON INDEX crm.leads_tenant_unscored IS 'Leads without a score (loaded without triggers, or no active model): what an incremental crm.rescore_leads reads.';

-- What scores depend on besides the lead: the active model (its id and a digest of its rules) and the threshold. A full
-- pass runs when it differs from the one the last full pass recorded.
CREATE FUNCTION crm.scoring_state(tenant uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
-- (PL/pgSQL, one query a table: on Citus a query of one tenant's shard is sent there whole, and a
-- function in it that reads another table could not run there)
DECLARE
    model jsonb;
BEGIN
    SELECT jsonb_build_object('id', m.id, 'rules_md5', md5(m.rules::text)) INTO model
      FROM crm.scoring_models m WHERE m.tenant_id = tenant AND m.is_active;
    RETURN jsonb_build_object('model', model, 'threshold', crm.qualification_threshold(tenant));
END
$$;
COMMENT ON FUNCTION crm.scoring_state(uuid) IS 'What a tenant''s scores depend on besides the leads themselves: its active model (id and an md5 of its rules) and qualification threshold; crm.rescore_leads does a full pass when it changed since the last full pass.';

-- One batch: the next `batch` candidates after `lo` in id order, scored; only the stale ones written.
-- Returns the last id read (NULL when there was nothing left), and adds to the counts.
CREATE FUNCTION crm.rescore_batch(t uuid, lo uuid, batch integer, incremental boolean, threshold integer,
                                  INOUT scanned bigint, INOUT changed bigint, INOUT qualified bigint, OUT hi uuid)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    n bigint;
    ids uuid[];
    scores integer[];
    c bigint;
BEGIN
    -- the batch's upper bound, read from the index alone (a partial index for an incremental pass)
    IF incremental THEN
        hi := (SELECT x.id FROM crm.leads x WHERE x.tenant_id = t AND x.id > lo AND x.engagement IS NOT NULL
                UNION SELECT x.id FROM crm.leads x WHERE x.tenant_id = t AND x.id > lo AND x.score IS NULL
                ORDER BY 1 OFFSET batch - 1 LIMIT 1);
    ELSE
        hi := (SELECT x.id FROM crm.leads x WHERE x.tenant_id = t AND x.id > lo ORDER BY x.id OFFSET batch - 1 LIMIT 1);
    END IF;
    hi := coalesce(hi, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
    IF incremental THEN
        SELECT count(*), array_agg(f.id) FILTER (WHERE f.stale), array_agg(f.score) FILTER (WHERE f.stale),
               count(*) FILTER (WHERE f.stale AND f.score IS DISTINCT FROM f.stored)
          INTO n, ids, scores, c
          FROM (SELECT f0.*, crm.lead_needs_rescoring(f0.stored, f0.score, f0.status, f0.qualified_at, threshold) AS stale
                  FROM (SELECT x.id, x.score AS stored, x.status, x.qualified_at, crm.lead_score_fields(x.tenant_id, x.employee_count, x.annual_revenue, x.budget, x.industry, x.country, x.title, x.company, x.source, x.purchase_timeline, x.is_decision_maker, x.engagement) AS score
                          FROM crm.leads x
                         WHERE x.tenant_id = t AND x.id > lo AND x.id <= hi AND (x.engagement IS NOT NULL OR x.score IS NULL)
                        OFFSET 0) f0) f;
    ELSE
        SELECT count(*), array_agg(f.id) FILTER (WHERE f.stale), array_agg(f.score) FILTER (WHERE f.stale),
               count(*) FILTER (WHERE f.stale AND f.score IS DISTINCT FROM f.stored)
          INTO n, ids, scores, c
          FROM (SELECT f0.*, crm.lead_needs_rescoring(f0.stored, f0.score, f0.status, f0.qualified_at, threshold) AS stale
                  FROM (SELECT x.id, x.score AS stored, x.status, x.qualified_at, crm.lead_score_fields(x.tenant_id, x.employee_count, x.annual_revenue, x.budget, x.industry, x.country, x.title, x.company, x.source, x.purchase_timeline, x.is_decision_maker, x.engagement) AS score
                          FROM crm.leads x
                         WHERE x.tenant_id = t AND x.id > lo AND x.id <= hi
                        OFFSET 0) f0) f;
    END IF;
    IF n = 0 THEN
        hi := NULL;
        RETURN;
    END IF;
    IF ids IS NOT NULL THEN
        -- the scoring trigger scores each written lead again and qualifies or flags it
        WITH written AS (
            UPDATE crm.leads x SET score = u.score
              FROM unnest(ids, scores) u(id, score)
             WHERE x.tenant_id = t AND x.id = u.id
            RETURNING x.qualified_at)
        SELECT qualified + count(*) FILTER (WHERE w.qualified_at = now()) INTO qualified FROM written w;
    END IF;
    scanned := scanned + n;
    changed := changed + c;
END
$$;
COMMENT ON FUNCTION crm.rescore_batch(uuid, uuid, integer, boolean, integer, bigint, bigint, bigint) IS 'Internal to crm.rescore_leads_tenant (the job rescore_leads): scores the next batch of a tenant''s leads after lo (all of them, or only engaged and unscored ones) and writes the stale ones; returns the last id read, NULL at the end.';

CREATE FUNCTION crm.rescore_leads_args(args jsonb) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM crm.job_check_args('rescore_leads', args, '{"full_pass": "boolean"}');
    RETURN jsonb_build_object('full_pass', coalesce((args->>'full_pass')::boolean, false));
END
$$;
COMMENT ON FUNCTION crm.rescore_leads_args(jsonb) IS 'The arguments of the job rescore_leads (crm.run_job): {"full_pass": true or false (default)}; 22023 for anything else.';

-- The job's body (src/jobs.sql, crm.job_tenant): one batch of a tenant's leads. The first call decides
-- the pass (full when asked, or when the active model or the threshold changed since the last full
-- pass; else incremental: only the leads whose score can be stale) and its size; the cursor carries it,
-- the last id read and the counts so far. Not SECURITY DEFINER: the caller's own rights write the leads.
-- SECURITY DEFINER, as the other jobs' bodies: on Citus a transaction's accesses to a tenant's shards
-- after a write there must be of the user who wrote (Citus keeps one connection per user to each
-- worker), and the job's log (crm.job_log, a definer) has written the run's row as the owner by then;
-- every read and write below names tenant t, which crm.check_job_caller has checked.
CREATE FUNCTION crm.rescore_leads_tenant(t uuid, args jsonb, cursor jsonb) RETURNS jsonb
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    c jsonb := cursor;
    state jsonb;
    incremental boolean;
    b record;
    last boolean;
BEGIN
    PERFORM crm.check_job_caller(t);
    IF c IS NULL THEN
        state := crm.scoring_state(t);
        -- incremental unless asked, or the model or threshold changed since the last full pass
        incremental := NOT coalesce((args->>'full_pass')::boolean, false) AND state IS NOT DISTINCT FROM
            (SELECT r.details->'state' FROM crm.job_runs r
              WHERE r.tenant_id = t AND r.job = 'rescore_leads' AND r.status = 'succeeded' AND r.details->>'pass' = 'full'
              ORDER BY r.started_at DESC, r.id DESC LIMIT 1);
        c := jsonb_build_object(
            'lo', '00000000-0000-0000-0000-000000000000',
            'batch', coalesce(nullif(current_setting('crm.batch_size', true), '')::integer, 10000),
            'incremental', incremental, 'state', state,
            'total', CASE WHEN incremental
                          THEN (SELECT count(*) FROM crm.leads x WHERE x.tenant_id = t AND (x.engagement IS NOT NULL OR x.score IS NULL))
                          ELSE (SELECT count(*) FROM crm.leads x WHERE x.tenant_id = t) END,
            'scanned', 0, 'changed', 0, 'qualified', 0, 'batches', 0);
    END IF;
    incremental := (c->>'incremental')::boolean;
    SELECT r.scanned, r.changed, r.qualified, r.hi INTO b
      FROM crm.rescore_batch(t, (c->>'lo')::uuid, (c->>'batch')::integer, incremental, (c->'state'->>'threshold')::integer, 0, 0, 0) r;
    -- the end: nothing left after lo, or this batch reached the last lead
    last := b.hi IS NULL OR b.hi = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    IF b.hi IS NOT NULL THEN
        c := c || jsonb_build_object('lo', b.hi, 'scanned', (c->>'scanned')::bigint + b.scanned, 'changed', (c->>'changed')::bigint + b.changed,
                                     'qualified', (c->>'qualified')::bigint + b.qualified, 'batches', (c->>'batches')::integer + 1);
    END IF;
    RETURN jsonb_build_object(
        'processed', coalesce(b.scanned, 0), 'changed', coalesce(b.changed, 0),
        'details', jsonb_build_object('pass', CASE WHEN incremental THEN 'incremental' ELSE 'full' END, 'state', c->'state',
                                      'qualified', (c->>'qualified')::bigint, 'batches', (c->>'batches')::integer,
                                      'batch_size', (c->>'batch')::integer),
        'next', CASE WHEN NOT last THEN c END,
        'progress', CASE WHEN b.hi IS NOT NULL
                         THEN format('crm.rescore_leads: tenant %s: %s of %s leads scored, %s changed (%s pass)', t, c->>'scanned', c->>'total',
                                     c->>'changed', CASE WHEN incremental THEN 'incremental' ELSE 'full' END) END);
END
$$;
COMMENT ON FUNCTION crm.rescore_leads_tenant(uuid, jsonb, jsonb) IS 'The body of the job rescore_leads (crm.run_job): scores the next batch of crm.batch_size leads of a tenant in id order after the cursor (NULL: the first, which decides the pass: full when full_pass or the active model or threshold changed since the last full pass, else incremental over engaged and unscored leads), writes the stale ones, and returns {processed, changed, details: {pass, state, qualified, batches, batch_size}, next, progress}. For managers and admins of the tenant, or the operator.';

-- The job as a function, as it always was: it runs in the caller's transaction (CALL crm.run_job
-- outside a transaction block commits batch by batch instead).
CREATE FUNCTION crm.rescore_leads(tenant uuid DEFAULT crm.current_tenant(), full_pass boolean DEFAULT false) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_in_transaction('rescore_leads', tenant, jsonb_build_object('full_pass', full_pass))
$$;
COMMENT ON FUNCTION crm.rescore_leads(uuid, boolean) IS 'Rescores a tenant''s leads (the operator, without a tenant context, passes NULL for every tenant) and returns {"tenants", "failed", "processed": leads read, "changed": scores changed, "failures": [...]}: the job rescore_leads of crm.run_job, in the caller''s transaction (CALL crm.run_job(''rescore_leads'') on its own commits batch by batch). In a run for every tenant, a tenant whose rescoring fails is undone and logged as failed in crm.job_runs (SQLSTATE and message) and the others are still rescored; a run for one tenant raises its error. A full pass reads every lead; it runs when full_pass is true or the active model or the threshold changed since the last full pass; otherwise an incremental pass reads only the leads whose score can be stale (engaged ones, whose engagement decays, and unscored ones). Batches of crm.batch_size leads (default 10000) in id order; only stale rows written (a second run returns 0); one run per tenant at a time (55P03 otherwise); progress in pg_stat_activity.query; each run logged in crm.job_runs. For managers and admins of the tenant, or the operator.';

CREATE FUNCTION crm_api.score_lead(lead_id uuid) RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.score_lead(lead_id)
$$;
COMMENT ON FUNCTION crm_api.score_lead(uuid) IS 'Scores a lead now and stores it (POST /rpc/score_lead {"lead_id": ...}): {lead_id, score, grade, previous_score, changed, status, qualified_now, score_dropped, top_reasons}. 404 when the lead is not visible; 403 when its score changed and it is not the caller''s to change.';
CREATE FUNCTION crm_api.rescore_leads(full_pass boolean DEFAULT false) RETURNS bigint
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.run_job_for_http('rescore_leads', jsonb_build_object('full_pass', full_pass))
$$;
COMMENT ON FUNCTION crm_api.rescore_leads(boolean) IS 'Rescores the caller''s tenant''s leads and returns how many scores changed (POST /rpc/rescore_leads, {"full_pass": true} to read every lead even when the model did not change; managers and admins, 403 for reps; 409 while another run works).';
REVOKE EXECUTE ON FUNCTION crm_api.score_lead(uuid), crm_api.rescore_leads(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.score_lead(uuid), crm_api.rescore_leads(boolean) TO crm_rep;

CREATE VIEW crm_api.lead_score_history WITH (security_invoker = true) AS
    SELECT tenant_id, id, lead_id, day, score, grade, recorded_at FROM crm.lead_score_history;
COMMENT ON VIEW crm_api.lead_score_history IS 'Daily score trend of the leads the caller reads (read only): GET /lead_score_history?lead_id=eq....&order=day.';
GRANT SELECT ON crm_api.lead_score_history TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.lead_engagement(uuid,uuid),
    crm.qualification_threshold(uuid), crm.leads_score(), crm.leads_after_scoring(),
    crm.lead_needs_rescoring(integer,integer,crm.lead_status,timestamptz,integer), crm.score_lead(uuid),
    crm.scoring_state(uuid), crm.rescore_batch(uuid,uuid,integer,boolean,integer,bigint,bigint,bigint),
    crm.rescore_leads(uuid,boolean), crm.rescore_leads_args(jsonb), crm.rescore_leads_tenant(uuid,jsonb,jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.lead_engagement(uuid,uuid), crm.qualification_threshold(uuid),
    crm.lead_needs_rescoring(integer,integer,crm.lead_status,timestamptz,integer), crm.score_lead(uuid),
    crm.scoring_state(uuid), crm.rescore_batch(uuid,uuid,integer,boolean,integer,bigint,bigint,bigint),
    crm.rescore_leads(uuid,boolean), crm.rescore_leads_args(jsonb) TO crm_rep;
GRANT EXECUTE ON FUNCTION crm.rescore_leads_tenant(uuid,jsonb,jsonb) TO crm_manager;
