-- actions.sql: what is more than one row: converting a lead, moving an opportunity, completing a task,
-- reassigning an owner, closing a lead as lost, logging an activity. Each runs with the caller's
-- rights (its policies apply), is one transaction, and emits its event through the tables' triggers.
-- A record that does not exist, or that the caller cannot see, is PT404 (HTTP 404 through PostgREST);
-- one it sees but may not change is 42501.

-- Free mail domains say nothing about the company: a lead's email domain matches an account only
-- when it is not one of these.
CREATE FUNCTION crm.is_free_mail_domain(domain text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
    SELECT domain = ANY ('{gmail.com,googlemail.com,yahoo.com,yahoo.co.uk,hotmail.com,hotmail.co.uk,outlook.com,live.com,msn.com,
                          icloud.com,me.com,mac.com,aol.com,proton.me,protonmail.com,gmx.com,gmx.de,gmx.net,web.de,mail.ru,
                          yandex.ru,yandex.com,qq.com,163.com,126.com,zoho.com,fastmail.com,hey.com,mail.com}'::text[])
$$;
COMMENT ON FUNCTION crm.is_free_mail_domain(text) IS 'Whether a domain is a public mailbox provider (gmail.com, outlook.com, ...), which identifies no company.';

-- Raises PT404 when a record is not visible to the caller. A NULL id names no record: it is a missing
-- argument, 22023 naming the parameter (<entity>_id, as every action names it), not a 404.
CREATE FUNCTION crm.not_found(entity text, id uuid) RETURNS void
    LANGUAGE plpgsql AS
$$
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION '%_id is required', entity USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION '% % not found', entity, id USING ERRCODE = 'PT404',
        DETAIL = 'It does not exist in the current tenant, or the caller may not see it.';
END
$$;
COMMENT ON FUNCTION crm.not_found(text, uuid) IS 'Raises PT404 (HTTP 404): the record does not exist in the caller''s tenant or is not visible to it; for a NULL id, 22023 "<entity>_id is required" (HTTP 400).';

CREATE FUNCTION crm.convert_lead(lead_id uuid, create_opportunity boolean DEFAULT true, opportunity_name text DEFAULT NULL,
                                 amount numeric DEFAULT NULL, expected_close_date date DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l crm.leads;
    dom text;
    acct uuid;
    acct_created boolean := false;
    deal_name text;
    cont uuid;
    cont_created boolean := false;
    opp uuid;
    close_on date := convert_lead.expected_close_date;
BEGIN
    IF lead_id IS NULL THEN
        RAISE EXCEPTION 'lead_id is required' USING ERRCODE = '22023';
    END IF;
    IF amount < 0 THEN
        RAISE EXCEPTION 'amount must not be negative' USING ERRCODE = '22023';
    END IF;
    IF close_on < current_date OR NOT isfinite(close_on) THEN
        RAISE EXCEPTION 'expected_close_date must be a day from today on, not %', close_on USING ERRCODE = '22023',
            HINT = 'Leave it out for the default: today plus the expected days of the pipeline''s open stages.';
    END IF;
    PERFORM 1 FROM crm.leads x WHERE x.tenant_id = crm.current_tenant() AND x.id = convert_lead.lead_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('lead', lead_id);
    END IF;
    -- the lock makes two concurrent conversions of one lead run one after the other: the second sees
    -- the first's result and stops
    SELECT x.* INTO l FROM crm.leads x WHERE x.tenant_id = crm.current_tenant() AND x.id = convert_lead.lead_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: lead % is not yours to convert', lead_id USING ERRCODE = '42501';
    END IF;
    IF l.status = 'converted' THEN
        RAISE EXCEPTION 'lead % is already converted', lead_id USING ERRCODE = '23505',
            DETAIL = jsonb_build_object('account_id', l.converted_account_id, 'contact_id', l.converted_contact_id,
                                        'opportunity_id', l.converted_opportunity_id, 'converted_at', l.converted_at)::text;
    END IF;
    IF l.status = 'lost' THEN
        RAISE EXCEPTION 'lead % is lost', lead_id USING ERRCODE = '23514', HINT = 'Reopen it (set its status) before converting it.';
    END IF;

    -- the account: matched by the email's domain, else by the company name, else created
    dom := crm.email_domain(l.email);
    IF dom IS NOT NULL AND NOT crm.is_free_mail_domain(dom) THEN
        SELECT a.id INTO acct FROM crm.accounts a WHERE a.tenant_id = l.tenant_id AND a.domain = dom ORDER BY a.created_at, a.id LIMIT 1;
    ELSE
        dom := NULL;
    END IF;
    IF acct IS NULL AND btrim(coalesce(l.company, '')) <> '' THEN
        SELECT a.id INTO acct FROM crm.accounts a WHERE a.tenant_id = l.tenant_id AND lower(a.name) = lower(btrim(l.company))
         ORDER BY a.created_at, a.id LIMIT 1;
    END IF;
    IF acct IS NULL THEN
        INSERT INTO crm.accounts (tenant_id, name, domain, industry, employee_count, annual_revenue, country, lifecycle_stage, owner_id)
        VALUES (l.tenant_id,
                coalesce(nullif(btrim(l.company), ''), dom, nullif(btrim(concat_ws(' ', l.first_name, l.last_name)), ''), l.email::text),
                dom, l.industry, l.employee_count, l.annual_revenue, l.country, 'prospect', l.owner_id)
        RETURNING id INTO acct;
        acct_created := true;
    END IF;

    -- the contact: matched by email, else created
    IF l.email IS NOT NULL THEN
        SELECT c.id INTO cont FROM crm.contacts c WHERE c.tenant_id = l.tenant_id AND c.email = l.email;
    END IF;
    IF cont IS NULL THEN
        INSERT INTO crm.contacts (tenant_id, account_id, first_name, last_name, title, email, phone, owner_id)
        VALUES (l.tenant_id, acct, l.first_name, coalesce(l.last_name, CASE WHEN l.first_name IS NULL THEN coalesce(l.company, l.email::text) END),
                l.title, l.email, l.phone, l.owner_id)
        RETURNING id INTO cont;
        cont_created := true;
    END IF;

    IF coalesce(create_opportunity, true) THEN
        -- the expected close date: today plus the expected days of the default pipeline's open stages
        -- (the new deal starts in the first one), else plus the tenant's default_close_days
        IF close_on IS NULL THEN
            SELECT current_date + sum(s.expected_days)::integer INTO close_on
              FROM crm.pipeline_stages s JOIN crm.pipelines p ON p.tenant_id = s.tenant_id AND p.id = s.pipeline_id
             WHERE s.tenant_id = l.tenant_id AND p.is_default AND NOT s.is_won AND NOT s.is_lost;
            close_on := coalesce(close_on, current_date + (SELECT (crm.tenant_settings(t.settings)->>'default_close_days')::integer
                                                             FROM crm.tenants t WHERE t.id = l.tenant_id));
        END IF;
        -- (the name read first: Citus takes no subquery in INSERT ... VALUES)
        deal_name := nullif(btrim(opportunity_name), '');
        IF deal_name IS NULL THEN
            SELECT a.name || ' (from lead)' INTO deal_name FROM crm.accounts a WHERE a.tenant_id = l.tenant_id AND a.id = acct;
        END IF;
        INSERT INTO crm.opportunities (tenant_id, name, account_id, contact_id, lead_id, amount, expected_close_date, owner_id)
        VALUES (l.tenant_id, deal_name, acct, cont, l.id, coalesce(amount, l.budget, 0), close_on, l.owner_id)
        RETURNING id INTO opp;
    END IF;

    UPDATE crm.leads x SET status = 'converted', converted_at = now(), converted_account_id = acct,
                           converted_contact_id = cont, converted_opportunity_id = opp
     WHERE x.tenant_id = l.tenant_id AND x.id = l.id;

    RETURN jsonb_build_object('lead_id', l.id, 'account_id', acct, 'account_created', acct_created,
                              'contact_id', cont, 'contact_created', cont_created, 'opportunity_id', opp);
END
$$;
COMMENT ON FUNCTION crm.convert_lead(uuid, boolean, text, numeric, date) IS 'Converts a lead: reuses the account matched by its email''s domain (not a free mail domain) or its company name, else creates one; reuses the contact with its email, else creates one; creates an opportunity (unless create_opportunity is false; amount defaults to the lead''s budget; expected_close_date to today plus the expected_days of the default pipeline''s open stages, or plus the tenant''s default_close_days setting when no stage has any; a day before today: 22023). Returns {lead_id, account_id, account_created, contact_id, contact_created, opportunity_id}. A converted lead: 23505 naming the earlier result; concurrent calls convert once. Not visible: PT404; lost: 23514. Emits lead.converted.';

CREATE FUNCTION crm.move_opportunity(opportunity_id uuid, stage text, reason text DEFAULT NULL)
    RETURNS crm.opportunities
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    o crm.opportunities;
    s crm.pipeline_stages;
    cur crm.pipeline_stages;
BEGIN
    SELECT x.* INTO o FROM crm.opportunities x WHERE x.tenant_id = crm.current_tenant() AND x.id = move_opportunity.opportunity_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('opportunity', opportunity_id);
    END IF;
    SELECT x.* INTO s FROM crm.pipeline_stages x
     WHERE x.tenant_id = o.tenant_id AND x.pipeline_id = o.pipeline_id AND x.name = lower(btrim(move_opportunity.stage));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stage "%" is not a stage of the opportunity''s pipeline', stage USING ERRCODE = '22023',
            DETAIL = format('Valid stages: %s.', (SELECT string_agg(x.name, ', ' ORDER BY x.position) FROM crm.pipeline_stages x
                                                  WHERE x.tenant_id = o.tenant_id AND x.pipeline_id = o.pipeline_id));
    END IF;
    IF s.is_lost AND btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'a lost opportunity needs a reason' USING ERRCODE = '23514',
            DETAIL = format('Stage %s is a lost stage: pass reason.', s.name);
    END IF;
    SELECT x.* INTO cur FROM crm.pipeline_stages x WHERE x.tenant_id = o.tenant_id AND x.id = o.stage_id;
    IF (cur.is_won OR cur.is_lost) AND NOT (s.is_won OR s.is_lost) AND btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'reopening a won or lost opportunity needs a reason' USING ERRCODE = '22023',
            DETAIL = format('The opportunity is in stage %s (%s); moving it to %s reopens it: pass reason.', cur.name,
                            CASE WHEN cur.is_won THEN 'won' ELSE 'lost' END, s.name);
    END IF;
    IF s.id = o.stage_id THEN
        RETURN o;   -- already there: nothing changes, nothing is recorded
    END IF;
    UPDATE crm.opportunities x SET stage_id = s.id, stage_reason = nullif(btrim(reason), ''),
                                   lost_reason = CASE WHEN s.is_lost THEN btrim(reason) END
     WHERE x.tenant_id = o.tenant_id AND x.id = o.id
    RETURNING x.* INTO o;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: opportunity % is not yours to move', opportunity_id USING ERRCODE = '42501';
    END IF;
    RETURN o;
END
$$;
COMMENT ON FUNCTION crm.move_opportunity(uuid, text, text) IS 'Moves an opportunity to a stage of its pipeline, by name: 22023 listing the valid stages otherwise; a lost stage needs a reason (23514); won or lost sets closed_at and probability 100 or 0; a won or lost deal moved to an open stage is reopened, which needs a reason (22023): it is open again (closed_at NULL, the stage''s probability and category), no report counts it as won or lost, and opportunity.reopened is emitted. Winning makes the account a customer (account.became_customer); reopening the account''s only won deal puts it back to its stage before that win (account.customer_reverted). Records the stage history; emits opportunity.stage_changed and opportunity.won or opportunity.lost. Returns the opportunity.';

CREATE FUNCTION crm.complete_task(task_id uuid, outcome text DEFAULT NULL)
    RETURNS crm.tasks
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t crm.tasks;
BEGIN
    SELECT x.* INTO t FROM crm.tasks x WHERE x.tenant_id = crm.current_tenant() AND x.id = complete_task.task_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('task', task_id);
    END IF;
    IF t.status = 'completed' THEN
        RETURN t;   -- completing a completed task changes nothing
    END IF;
    IF t.status = 'cancelled' THEN
        RAISE EXCEPTION 'task % is cancelled', task_id USING ERRCODE = '23514', HINT = 'Reopen it (status open) first.';
    END IF;
    UPDATE crm.tasks x SET status = 'completed', outcome = coalesce(complete_task.outcome, x.outcome)
     WHERE x.tenant_id = t.tenant_id AND x.id = t.id
    RETURNING x.* INTO t;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: task % is not yours to complete', task_id USING ERRCODE = '42501';
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION crm.complete_task(uuid, text) IS 'Completes a task (completed_at now, outcome recorded) and emits task.completed; a completed task is returned unchanged; a cancelled one: 23514; not visible: PT404; not the caller''s: 42501.';

CREATE FUNCTION crm.reassign_owner(entity crm.entity_type, id uuid, owner_id uuid)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
    tbl regclass;
    col text := CASE WHEN entity = 'task' THEN 'assignee_id' ELSE 'owner_id' END;
    previous uuid;
    missing text[];
    n integer;
BEGIN
    IF entity IS NULL OR reassign_owner.id IS NULL OR reassign_owner.owner_id IS NULL THEN
        missing := array_remove(ARRAY[CASE WHEN entity IS NULL THEN 'entity' END, CASE WHEN reassign_owner.id IS NULL THEN 'id' END,
                                      CASE WHEN reassign_owner.owner_id IS NULL THEN 'owner_id' END], NULL);
        RAISE EXCEPTION '% %', array_to_string(missing, ' and '), CASE WHEN cardinality(missing) = 1 THEN 'is required' ELSE 'are required' END
            USING ERRCODE = '22023';
    END IF;
    IF entity = 'segment' THEN
        RAISE EXCEPTION 'a segment has no owner to reassign' USING ERRCODE = '22023',
            HINT = 'entity is lead, contact, account, opportunity, activity, task or note.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM crm.users u WHERE u.tenant_id = t AND u.id = reassign_owner.owner_id AND u.active) THEN
        RAISE EXCEPTION 'user % is not an active user of this tenant', owner_id USING ERRCODE = '22023';
    END IF;
    tbl := crm.entity_table(entity);
    EXECUTE format('SELECT %I FROM %s WHERE tenant_id = $1 AND id = $2', col, tbl) INTO previous USING t, id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        PERFORM crm.not_found(entity::text, id);
    END IF;
    IF previous IS DISTINCT FROM owner_id THEN
        -- (a record given to its owner changes nothing, so no statement runs)
        BEGIN
            EXECUTE format('UPDATE %s SET %I = $3 WHERE tenant_id = $1 AND id = $2', tbl, col) USING t, id, owner_id;
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN insufficient_privilege THEN
            -- a rep may update its own record but not give it away: the policy's WITH CHECK refuses
            -- the new owner, in words that name a policy rather than what to do
            n := 0;
        END;
        IF n = 0 THEN
            RAISE EXCEPTION 'permission denied: % % is not yours to reassign', entity, id USING ERRCODE = '42501',
                HINT = 'Managers and admins reassign records.';
        END IF;
    END IF;
    RETURN jsonb_build_object('entity', entity, 'id', id, 'owner_id', owner_id, 'previous_owner_id', previous,
                              'changed', previous IS DISTINCT FROM owner_id);
END
$$;
COMMENT ON FUNCTION crm.reassign_owner(crm.entity_type, uuid, uuid) IS 'Gives a record (lead, contact, account, opportunity, activity, task or note) to another active user of the tenant: its owner, or a task''s assignee. Returns {"entity", "id", "owner_id", "previous_owner_id", "changed"} (a record given to its current owner: changed false, nothing written). Managers and admins reassign; a rep cannot (42501), as the policies let it write only records it owns. 22023 for a missing argument, a segment or a user who is not active in the tenant; PT404 for a record the caller does not see.';

CREATE FUNCTION crm.close_lead(lead_id uuid, reason text)
    RETURNS crm.leads
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    l crm.leads;
BEGIN
    IF btrim(coalesce(reason, '')) = '' THEN
        RAISE EXCEPTION 'closing a lead as lost needs a reason' USING ERRCODE = '23514';
    END IF;
    SELECT x.* INTO l FROM crm.leads x WHERE x.tenant_id = crm.current_tenant() AND x.id = close_lead.lead_id;
    IF NOT FOUND THEN
        PERFORM crm.not_found('lead', lead_id);
    END IF;
    IF l.status = 'converted' THEN
        RAISE EXCEPTION 'lead % is converted and cannot be lost', lead_id USING ERRCODE = '23514';
    END IF;
    UPDATE crm.leads x SET status = 'lost', lost_reason = btrim(reason)
     WHERE x.tenant_id = l.tenant_id AND x.id = l.id
    RETURNING x.* INTO l;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'permission denied: lead % is not yours to close', lead_id USING ERRCODE = '42501';
    END IF;
    RETURN l;
END
$$;
COMMENT ON FUNCTION crm.close_lead(uuid, text) IS 'Closes a lead as lost with a reason (23514 without one) and emits lead.lost; a converted lead cannot be lost (23514); not visible: PT404.';

CREATE FUNCTION crm.log_activity(type crm.activity_type, subject text DEFAULT NULL, body text DEFAULT NULL,
                                 lead_id uuid DEFAULT NULL, contact_id uuid DEFAULT NULL, account_id uuid DEFAULT NULL,
                                 opportunity_id uuid DEFAULT NULL, outcome text DEFAULT NULL,
                                 direction crm.activity_direction DEFAULT NULL, occurred_at timestamptz DEFAULT NULL,
                                 duration_minutes integer DEFAULT NULL, sentiment crm.sentiment DEFAULT NULL,
                                 next_step text DEFAULT NULL)
    RETURNS crm.activities
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
    r crm.activities;
BEGIN
    -- bad input is 22023 saying what is expected, before the table's constraints name themselves
    IF log_activity.type IS NULL THEN
        RAISE EXCEPTION 'type is required' USING ERRCODE = '22023', HINT = 'Activity types: call, email, meeting, note, sms, chat.';
    END IF;
    IF num_nonnulls(log_activity.lead_id, log_activity.contact_id, log_activity.account_id, log_activity.opportunity_id) = 0 THEN
        RAISE EXCEPTION 'an activity must be about a lead, a contact, an account or an opportunity' USING ERRCODE = '22023',
            HINT = 'Pass lead_id, contact_id, account_id or opportunity_id (one or more).';
    END IF;
    IF log_activity.outcome !~ '^[a-z][a-z0-9_]*$' THEN
        RAISE EXCEPTION 'outcome must be a lowercase word, not %', quote_literal(log_activity.outcome) USING ERRCODE = '22023',
            HINT = 'For example connected, no_answer, replied, held.';
    END IF;
    IF log_activity.duration_minutes < 0 THEN
        RAISE EXCEPTION 'duration_minutes must not be negative' USING ERRCODE = '22023';
    END IF;
    IF NOT isfinite(log_activity.occurred_at) THEN
        RAISE EXCEPTION 'occurred_at must be a finite time, not %', log_activity.occurred_at USING ERRCODE = '22023';
    END IF;
    -- each record it is about must be one the caller reads: another tenant's, a private or an unknown one is PT404
    -- (the foreign keys would say 23503, which PostgREST answers with 409)
    IF log_activity.lead_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.leads x WHERE x.tenant_id = t AND x.id = log_activity.lead_id) THEN
        PERFORM crm.not_found('lead', log_activity.lead_id);
    END IF;
    IF log_activity.contact_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.contacts x WHERE x.tenant_id = t AND x.id = log_activity.contact_id) THEN
        PERFORM crm.not_found('contact', log_activity.contact_id);
    END IF;
    IF log_activity.account_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.accounts x WHERE x.tenant_id = t AND x.id = log_activity.account_id) THEN
        PERFORM crm.not_found('account', log_activity.account_id);
    END IF;
    IF log_activity.opportunity_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.opportunities x WHERE x.tenant_id = t AND x.id = log_activity.opportunity_id) THEN
        PERFORM crm.not_found('opportunity', log_activity.opportunity_id);
    END IF;
    INSERT INTO crm.activities (tenant_id, type, subject, body, lead_id, contact_id, account_id, opportunity_id, outcome, direction,
                                occurred_at, duration_minutes, sentiment, next_step)
    VALUES (t, log_activity.type, log_activity.subject, log_activity.body, log_activity.lead_id, log_activity.contact_id,
            log_activity.account_id, log_activity.opportunity_id, log_activity.outcome, log_activity.direction,
            coalesce(log_activity.occurred_at, now()), log_activity.duration_minutes, log_activity.sentiment, log_activity.next_step)
    RETURNING * INTO r;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm.log_activity(crm.activity_type, text, text, uuid, uuid, uuid, uuid, text, crm.activity_direction, timestamptz, integer, crm.sentiment, text) IS 'Logs an activity owned by the caller about at least one of lead_id, contact_id, account_id, opportunity_id (none: 22023 saying so), each a record the caller reads (PT404 otherwise: another tenant''s, a private or an unknown one); a bad outcome, duration or time: 22023. Returns the activity (a row of crm.activities). The contact''s last_contacted_at moves forward and a new lead becomes contacted.';

-- What happened to a record, a page at a time: its pinned notes first, then everything else newest
-- first (activities, tasks, notes, support cases and its opportunities' stage changes). Rows are in
-- the order (is_pinned desc, at desc, kind desc, item_id desc), which no two rows share, so a page
-- ends at a definite row: each row carries its cursor, and the next page is the rows after the last
-- row's cursor (after => cursor), however many rows share a time. A cursor is opaque text to callers:
-- "<pinned 0|1>.<at in microseconds since 1970>.<kind>.<item_id>".
CREATE FUNCTION crm.timeline(entity crm.entity_type, id uuid, page_size integer DEFAULT 50, after text DEFAULT NULL)
    RETURNS TABLE (at timestamptz, kind text, item_id uuid, title text, detail jsonb, is_pinned boolean, cursor text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t uuid := crm.current_tenant();
    col text;
    found_ boolean;
    parts text[];
    c_pinned integer;
    c_at timestamptz;
    c_kind text;
    c_id uuid;
    activities_of text;
    cases_of text;
    stages_of text;
    -- the rows after the cursor (all of them without one), in the timeline's order
    keyset constant text := '($3 IS NULL OR (b.is_pinned::integer, b.at, b.kind, b.item_id) < ($3, $4, $5, $6))';
BEGIN
    IF entity IS NULL OR entity NOT IN ('lead', 'contact', 'account', 'opportunity') THEN
        RAISE EXCEPTION 'a timeline is for a lead, a contact, an account or an opportunity, not %',
            coalesce('a ' || entity::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF timeline.id IS NULL THEN
        RAISE EXCEPTION 'id is required' USING ERRCODE = '22023';
    END IF;
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'page_size must be from 1 to 500, not %', coalesce(page_size::text, 'NULL') USING ERRCODE = '22023',
            HINT = 'Read the next page with after => the cursor of the last row.';
    END IF;
    IF after IS NOT NULL THEN
        parts := regexp_match(after, '^([01])\.(-?[0-9]{1,18})\.(activity|case|note|stage_change|task)\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$');
        IF parts IS NULL THEN
            RAISE EXCEPTION 'after must be a cursor returned by crm.timeline, not %', quote_literal(after) USING ERRCODE = '22023',
                HINT = 'Pass the cursor column of the last row of the previous page, as it is.';
        END IF;
        c_pinned := parts[1]::integer;
        c_at := timestamptz 'epoch' + parts[2]::bigint * interval '1 microsecond';
        c_kind := parts[3];
        c_id := parts[4]::uuid;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE tenant_id = $1 AND id = $2)', crm.entity_table(entity))
        INTO found_ USING t, timeline.id;
    IF NOT found_ THEN
        PERFORM crm.not_found(entity::text, timeline.id);
    END IF;
    col := entity::text || '_id';
    -- an account's activities are also those with its contacts and about its opportunities (as its
    -- health counts them); its cases are those of the account (a contact's case belongs to its account)
    activities_of := CASE entity
        WHEN 'account' THEN 'a.account_id = $1
            OR a.contact_id IN (SELECT c.id FROM crm.contacts c WHERE c.tenant_id = $2 AND c.account_id = $1)
            OR a.opportunity_id IN (SELECT o.id FROM crm.opportunities o WHERE o.tenant_id = $2 AND o.account_id = $1)'
        ELSE format('a.%I = $1', col) END;
    cases_of := CASE entity WHEN 'account' THEN 'k.account_id = $1' WHEN 'contact' THEN 'k.contact_id = $1' ELSE 'false' END;
    stages_of := CASE entity WHEN 'opportunity' THEN 'o.id' ELSE format('o.%I', col) END;
    -- each kind's first page_size rows after the cursor, then the first page_size of those
    RETURN QUERY EXECUTE format($q$
        SELECT b.at, b.kind::text, b.item_id, b.title, b.detail, b.is_pinned,
               format('%%s.%%s.%%s.%%s', b.is_pinned::integer, (extract(epoch FROM b.at) * 1000000)::bigint, b.kind, b.item_id)
          FROM (
            (SELECT * FROM (
                SELECT false AS is_pinned, a.occurred_at AS at, 'activity' COLLATE "C" AS kind, a.id AS item_id,
                       coalesce(a.subject, a.type::text) AS title,
                       jsonb_strip_nulls(jsonb_build_object('type', a.type, 'direction', a.direction, 'outcome', a.outcome,
                                                            'owner_id', a.owner_id, 'lead_id', a.lead_id, 'contact_id', a.contact_id,
                                                            'account_id', a.account_id, 'opportunity_id', a.opportunity_id)) AS detail
                  FROM crm.activities a WHERE a.tenant_id = $2 AND (%1$s)) b
              WHERE %5$s ORDER BY b.at DESC, b.item_id DESC LIMIT $7)
            UNION ALL
            (SELECT * FROM (
                SELECT false AS is_pinned, coalesce(tk.completed_at, tk.created_at) AS at, 'task' COLLATE "C" AS kind, tk.id AS item_id,
                       tk.title AS title,
                       jsonb_strip_nulls(jsonb_build_object('status', tk.status, 'due_at', tk.due_at, 'assignee_id', tk.assignee_id)) AS detail
                  FROM crm.tasks tk WHERE tk.tenant_id = $2 AND tk.%2$I = $1) b
              WHERE %5$s ORDER BY b.at DESC, b.item_id DESC LIMIT $7)
            UNION ALL
            (SELECT * FROM (
                SELECT n.is_pinned AS is_pinned, n.created_at AS at, 'note' COLLATE "C" AS kind, n.id AS item_id,
                       left(n.body, 80) AS title, jsonb_build_object('owner_id', n.owner_id) AS detail
                  FROM crm.notes n WHERE n.tenant_id = $2 AND n.%2$I = $1) b
              WHERE %5$s ORDER BY b.is_pinned DESC, b.at DESC, b.item_id DESC LIMIT $7)
            UNION ALL
            (SELECT * FROM (
                SELECT false AS is_pinned, k.opened_at AS at, 'case' COLLATE "C" AS kind, k.id AS item_id, k.subject AS title,
                       jsonb_strip_nulls(jsonb_build_object('status', k.status, 'priority', k.priority, 'assignee_id', k.assignee_id,
                                                            'contact_id', k.contact_id, 'resolved_at', k.resolved_at)) AS detail
                  FROM crm.cases k WHERE k.tenant_id = $2 AND (%3$s)) b
              WHERE %5$s ORDER BY b.at DESC, b.item_id DESC LIMIT $7)
            UNION ALL
            (SELECT * FROM (
                SELECT false AS is_pinned, h.changed_at AS at, 'stage_change' COLLATE "C" AS kind, h.id AS item_id,
                       coalesce(f.name || ' -> ', '') || s.name AS title,
                       jsonb_strip_nulls(jsonb_build_object('opportunity_id', h.opportunity_id, 'reason', h.reason, 'changed_by', h.changed_by)) AS detail
                  FROM crm.opportunity_stage_history h
                  JOIN crm.opportunities o ON o.tenant_id = h.tenant_id AND o.id = h.opportunity_id
                  JOIN crm.pipeline_stages s ON s.tenant_id = h.tenant_id AND s.id = h.to_stage_id
                  LEFT JOIN crm.pipeline_stages f ON f.tenant_id = h.tenant_id AND f.id = h.from_stage_id
                 WHERE h.tenant_id = $2 AND %4$s = $1) b
              WHERE %5$s ORDER BY b.at DESC, b.item_id DESC LIMIT $7)
          ) b
         ORDER BY b.is_pinned DESC, b.at DESC, b.kind DESC, b.item_id DESC
         LIMIT $7$q$, activities_of, col, cases_of, stages_of, keyset)
    USING timeline.id, t, c_pinned, c_at, c_kind, c_id, page_size;
END
$$;
COMMENT ON FUNCTION crm.timeline(crm.entity_type, uuid, integer, text) IS 'The history of a lead, contact, account or opportunity, a page at a time: pinned notes first, then newest first its activities (an account''s: also those with its contacts and about its opportunities), tasks, notes, support cases (of an account or a contact) and its opportunities'' stage changes, as (at, kind, item_id, title, detail, is_pinned, cursor). page_size rows (default 50, 1 to 500); the next page: after => the cursor of the last row (stable when rows share a time). Only what the caller may read. 22023 for another kind of record, a page_size out of range or a text that is not a cursor; PT404 if the record is not visible.';

------------------------------------------------------------------------------------------------------
-- The actions over HTTP (PostgREST: POST /rpc/<name>, GET /rpc/timeline). Thin wrappers that return
-- the crm_api view's row, so that PostgREST can embed and select from it.
------------------------------------------------------------------------------------------------------

CREATE FUNCTION crm_api.convert_lead(lead_id uuid, create_opportunity boolean DEFAULT true, opportunity_name text DEFAULT NULL,
                                     amount numeric DEFAULT NULL, expected_close_date date DEFAULT NULL)
    RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.convert_lead(lead_id, create_opportunity, opportunity_name, amount, expected_close_date)
$$;
COMMENT ON FUNCTION crm_api.convert_lead(uuid, boolean, text, numeric, date) IS 'Converts a lead into an account, a contact and (unless create_opportunity is false) an opportunity, expected to close on expected_close_date (default: today plus the pipeline''s expected days), reusing a matching account and contact. Returns the ids. 400 for a close date in the past. 404 when the lead is not visible, 409 when it was already converted (the earlier result in details).';

CREATE FUNCTION crm_api.move_opportunity(opportunity_id uuid, stage text, reason text DEFAULT NULL)
    RETURNS crm_api.opportunities
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    moved uuid := (crm.move_opportunity(opportunity_id, stage, reason)).id;
    r crm_api.opportunities;
BEGIN
    SELECT v.* INTO r FROM crm_api.opportunities v WHERE v.tenant_id = crm.current_tenant() AND v.id = moved;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm_api.move_opportunity(uuid, text, text) IS 'Moves an opportunity to the named stage of its pipeline (a lost stage, or reopening a won or lost deal, needs reason) and returns it. 400 for a stage not in the pipeline or a lost stage or reopening without reason, 404 when not visible.';

CREATE FUNCTION crm_api.complete_task(task_id uuid, outcome text DEFAULT NULL)
    RETURNS crm_api.tasks
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    done uuid := (crm.complete_task(task_id, outcome)).id;
    r crm_api.tasks;
BEGIN
    SELECT v.* INTO r FROM crm_api.tasks v WHERE v.tenant_id = crm.current_tenant() AND v.id = done;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm_api.complete_task(uuid, text) IS 'Completes a task and returns it (a completed task is returned unchanged). 404 when not visible.';

CREATE FUNCTION crm_api.close_lead(lead_id uuid, reason text)
    RETURNS crm_api.leads
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    closed uuid := (crm.close_lead(lead_id, reason)).id;
    r crm_api.leads;
BEGIN
    SELECT v.* INTO r FROM crm_api.leads v WHERE v.tenant_id = crm.current_tenant() AND v.id = closed;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm_api.close_lead(uuid, text) IS 'Closes a lead as lost with a reason and returns it. 400 without a reason, 404 when not visible.';

CREATE FUNCTION crm_api.reassign_owner(entity crm.entity_type, id uuid, owner_id uuid)
    RETURNS jsonb
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
    SELECT crm.reassign_owner(entity, id, owner_id)
$$;
COMMENT ON FUNCTION crm_api.reassign_owner(crm.entity_type, uuid, uuid) IS 'Gives a record to another active user of the tenant (managers and admins) and returns {"entity", "id", "owner_id", "previous_owner_id", "changed"}. 400 for a missing argument or an unknown user, 403 for a rep, 404 when not visible.';

CREATE FUNCTION crm_api.log_activity(type crm.activity_type, subject text DEFAULT NULL, body text DEFAULT NULL,
                                     lead_id uuid DEFAULT NULL, contact_id uuid DEFAULT NULL, account_id uuid DEFAULT NULL,
                                     opportunity_id uuid DEFAULT NULL, outcome text DEFAULT NULL,
                                     direction crm.activity_direction DEFAULT NULL, occurred_at timestamptz DEFAULT NULL,
                                     duration_minutes integer DEFAULT NULL, sentiment crm.sentiment DEFAULT NULL,
                                     next_step text DEFAULT NULL)
    RETURNS crm_api.activities
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    logged uuid := (crm.log_activity(type, subject, body, lead_id, contact_id, account_id, opportunity_id, outcome, direction,
                                     occurred_at, duration_minutes, sentiment, next_step)).id;
    r crm_api.activities;
BEGIN
    SELECT v.* INTO r FROM crm_api.activities v WHERE v.tenant_id = crm.current_tenant() AND v.id = logged;
    RETURN r;
END
$$;
COMMENT ON FUNCTION crm_api.log_activity(crm.activity_type, text, text, uuid, uuid, uuid, uuid, text, crm.activity_direction, timestamptz, integer, crm.sentiment, text) IS 'Logs a call, email, meeting, note, sms or chat about a lead, contact, account or opportunity, and returns it.';

CREATE FUNCTION crm_api.timeline(entity text, id uuid, page_size integer DEFAULT 50, after text DEFAULT NULL)
    RETURNS TABLE (at timestamptz, kind text, item_id uuid, title text, detail jsonb, is_pinned boolean, cursor text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF entity IS NULL OR entity NOT IN ('lead', 'contact', 'account', 'opportunity') THEN
        RAISE EXCEPTION 'a timeline is for a lead, a contact, an account or an opportunity, not %', coalesce(quote_literal(entity), 'NULL')
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT * FROM crm.timeline(entity::crm.entity_type, timeline.id, timeline.page_size, timeline.after);
END
$$;
COMMENT ON FUNCTION crm_api.timeline(text, uuid, integer, text) IS 'The history of a lead, contact, account or opportunity, a page at a time: pinned notes first, then newest first activities (an account''s with its contacts and opportunities too), tasks, notes, cases and stage changes (GET /rpc/timeline?entity=account&id=...&page_size=20, then &after=<cursor of the last row>). page_size rather than limit, which PostgREST reserves. 400 for another entity, a page_size outside 1-500 or a bad cursor; 404 when not visible.';

REVOKE EXECUTE ON FUNCTION crm_api.convert_lead(uuid, boolean, text, numeric, date), crm_api.move_opportunity(uuid, text, text),
    crm_api.complete_task(uuid, text), crm_api.close_lead(uuid, text), crm_api.reassign_owner(crm.entity_type, uuid, uuid),
    crm_api.log_activity(crm.activity_type, text, text, uuid, uuid, uuid, uuid, text, crm.activity_direction, timestamptz, integer, crm.sentiment, text),
    crm_api.timeline(text, uuid, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_api.convert_lead(uuid, boolean, text, numeric, date), crm_api.move_opportunity(uuid, text, text),
    crm_api.complete_task(uuid, text), crm_api.close_lead(uuid, text), crm_api.reassign_owner(crm.entity_type, uuid, uuid),
    crm_api.log_activity(crm.activity_type, text, text, uuid, uuid, uuid, uuid, text, crm.activity_direction, timestamptz, integer, crm.sentiment, text),
    crm_api.timeline(text, uuid, integer, text) TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.is_free_mail_domain(text), crm.not_found(text,uuid),
    crm.convert_lead(uuid,boolean,text,numeric,date), crm.move_opportunity(uuid,text,text),
    crm.complete_task(uuid,text), crm.reassign_owner(crm.entity_type,uuid,uuid), crm.close_lead(uuid,text),
    crm.log_activity(crm.activity_type,text,text,uuid,uuid,uuid,uuid,text,crm.activity_direction,timestamptz,integer,crm.sentiment,text),
    crm.timeline(crm.entity_type,uuid,integer,text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.is_free_mail_domain(text), crm.not_found(text,uuid),
    crm.convert_lead(uuid,boolean,text,numeric,date), crm.move_opportunity(uuid,text,text),
    crm.complete_task(uuid,text), crm.reassign_owner(crm.entity_type,uuid,uuid), crm.close_lead(uuid,text),
    crm.log_activity(crm.activity_type,text,text,uuid,uuid,uuid,uuid,text,crm.activity_direction,timestamptz,integer,crm.sentiment,text),
    crm.timeline(crm.entity_type,uuid,integer,text) TO crm_rep;
