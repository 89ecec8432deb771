-- tasks.sql: things to do, assigned to a user, about a lead, a contact, an account or an opportunity.

CREATE TYPE crm.task_type AS ENUM ('call', 'email', 'meeting', 'follow_up', 'todo');
COMMENT ON TYPE crm.task_type IS 'Kind of task: call, email, meeting, follow_up, todo.';
CREATE TYPE crm.task_priority AS ENUM ('low', 'medium', 'high', 'urgent');
COMMENT ON TYPE crm.task_priority IS 'Task priority, in order: low, medium, high, urgent.';
CREATE TYPE crm.task_status AS ENUM ('open', 'completed', 'cancelled');
COMMENT ON TYPE crm.task_status IS 'Task status: open, completed, cancelled.';

CREATE TABLE crm.tasks (
    tenant_id      uuid              NOT NULL DEFAULT crm.current_tenant()
                                     REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id             uuid              NOT NULL DEFAULT crm.uuid_v7(),
    title          text              NOT NULL CHECK (pg_catalog.btrim(title) <> ''),
    description    text,
    type           crm.task_type     NOT NULL DEFAULT 'todo',
    priority       crm.task_priority NOT NULL DEFAULT 'medium',
    status         crm.task_status   NOT NULL DEFAULT 'open',
    due_at         timestamptz,
    completed_at   timestamptz,
    outcome        text,
    assignee_id    uuid              NOT NULL DEFAULT crm.current_user_id(),
    lead_id        uuid,
    contact_id     uuid,
    account_id     uuid,
    opportunity_id uuid,
    created_at     timestamptz       NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz       NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES crm.users (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES crm.opportunities (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT tasks_completed CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
CREATE INDEX tasks_tenant_assignee ON crm.tasks (tenant_id, assignee_id, status, due_at);
CREATE INDEX tasks_tenant_due ON crm.tasks (tenant_id, due_at) WHERE status = 'open';
CREATE INDEX tasks_tenant_lead ON crm.tasks (tenant_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX tasks_tenant_contact ON crm.tasks (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX tasks_tenant_account ON crm.tasks (tenant_id, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX tasks_tenant_opportunity ON crm.tasks (tenant_id, opportunity_id) WHERE opportunity_id IS NOT NULL;
COMMENT ON TABLE crm.tasks IS 'Things to do, assigned to a user (the caller by default). The assignee changes its tasks; managers and admins any. Complete with crm.complete_task.';
COMMENT ON COLUMN crm.tasks.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.tasks.id IS 'The task''s id (uuid_v7).';
COMMENT ON COLUMN crm.tasks.title IS 'What to do.';
COMMENT ON COLUMN crm.tasks.description IS 'Details.';
COMMENT ON COLUMN crm.tasks.type IS 'call, email, meeting, follow_up or todo.';
COMMENT ON COLUMN crm.tasks.priority IS 'low, medium, high or urgent.';
COMMENT ON COLUMN crm.tasks.status IS 'open, completed (completed_at is set) or cancelled.';
COMMENT ON COLUMN crm.tasks.due_at IS 'When it is due.';
COMMENT ON COLUMN crm.tasks.completed_at IS 'When it was completed; set exactly when status is completed.';
COMMENT ON COLUMN crm.tasks.outcome IS 'What came of it (given to crm.complete_task).';
COMMENT ON COLUMN crm.tasks.assignee_id IS 'The user who must do it; defaults to the caller. Policies treat it as the owner.';
COMMENT ON COLUMN crm.tasks.lead_id IS 'The lead it concerns.';
COMMENT ON COLUMN crm.tasks.contact_id IS 'The contact it concerns.';
COMMENT ON COLUMN crm.tasks.account_id IS 'The account it concerns.';
COMMENT ON COLUMN crm.tasks.opportunity_id IS 'The opportunity it concerns.';
COMMENT ON COLUMN crm.tasks.created_at IS 'When the task was created.';
COMMENT ON COLUMN crm.tasks.updated_at IS 'When the task was last changed.';

-- completed_at follows the status.
CREATE FUNCTION crm.tasks_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW.status = 'completed' THEN
        NEW.completed_at := coalesce(NEW.completed_at, pg_catalog.now());
    ELSE
        NEW.completed_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.tasks_before_write() IS 'Trigger: sets completed_at when a task is completed and clears it when it is reopened.';
CREATE TRIGGER b20_tasks_before_write BEFORE INSERT OR UPDATE OF status, completed_at ON crm.tasks
    FOR EACH ROW EXECUTE FUNCTION crm.tasks_before_write();
COMMENT ON TRIGGER b20_tasks_before_write ON crm.tasks IS 'src/tasks.sql: sets completed_at when a task is completed and clears it when it is reopened.';

ALTER TABLE crm.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.tasks FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.tasks', '');
SELECT crm.secure_table('crm.tasks', 'owned', owner_column => 'assignee_id');

CREATE VIEW crm_api.tasks WITH (security_invoker = true) AS
    SELECT tenant_id, id, title, description, type, priority, status, due_at, completed_at, outcome, assignee_id,
           lead_id, contact_id, account_id, opportunity_id, created_at, updated_at
    FROM crm.tasks;
COMMENT ON VIEW crm_api.tasks IS 'Tasks of the caller''s tenant (those assigned to it only, for a rep of a private tenant). Complete with POST /rpc/complete_task.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.tasks TO crm_rep;

-- Privileges: this file's functions are closed to PUBLIC; each role is granted what it calls (trigger
-- functions: no one). test/privileges.sql keeps the allowlist.
REVOKE EXECUTE ON FUNCTION crm.tasks_before_write() FROM PUBLIC;
