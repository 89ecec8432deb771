-- notes.sql: free-text notes on a record, which may be pinned and may mention users.

CREATE TABLE crm.notes (
    tenant_id      uuid        NOT NULL DEFAULT crm.current_tenant()
                               REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id             uuid        NOT NULL DEFAULT crm.uuid_v7(),
    body           text        NOT NULL CHECK (pg_catalog.btrim(body) <> ''),
    is_pinned      boolean     NOT NULL DEFAULT false,
    lead_id        uuid,
    contact_id     uuid,
    account_id     uuid,
    opportunity_id uuid,
    owner_id       uuid        NOT NULL DEFAULT crm.current_user_id(),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES crm.leads (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES crm.contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES crm.accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES crm.opportunities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES crm.users (tenant_id, id),
    CONSTRAINT notes_about_something CHECK (num_nonnulls(lead_id, contact_id, account_id, opportunity_id) > 0)
);
CREATE INDEX notes_tenant_lead ON crm.notes (tenant_id, lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX notes_tenant_contact ON crm.notes (tenant_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX notes_tenant_account ON crm.notes (tenant_id, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX notes_tenant_opportunity ON crm.notes (tenant_id, opportunity_id) WHERE opportunity_id IS NOT NULL;
CREATE INDEX notes_tenant_owner ON crm.notes (tenant_id, owner_id);
COMMENT ON TABLE crm.notes IS 'Notes on a lead, a contact, an account or an opportunity (at least one); pinned notes come first in a timeline.';
COMMENT ON COLUMN crm.notes.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.notes.id IS 'The note''s id (uuid_v7).';
COMMENT ON COLUMN crm.notes.body IS 'The text.';
COMMENT ON COLUMN crm.notes.is_pinned IS 'Pinned notes are shown first.';
COMMENT ON COLUMN crm.notes.lead_id IS 'The lead it is about.';
COMMENT ON COLUMN crm.notes.contact_id IS 'The contact it is about.';
COMMENT ON COLUMN crm.notes.account_id IS 'The account it is about.';
COMMENT ON COLUMN crm.notes.opportunity_id IS 'The opportunity it is about.';
COMMENT ON COLUMN crm.notes.owner_id IS 'The author; defaults to the caller.';
COMMENT ON COLUMN crm.notes.created_at IS 'When it was written.';
COMMENT ON COLUMN crm.notes.updated_at IS 'When it was last changed.';
ALTER TABLE crm.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.notes FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.notes', '');
SELECT crm.secure_table('crm.notes', 'owned');

CREATE TABLE crm.note_mentions (
    tenant_id  uuid        NOT NULL DEFAULT crm.current_tenant()
                           REFERENCES crm.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT crm.uuid_v7(),
    note_id    uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, note_id, user_id),
    FOREIGN KEY (tenant_id, note_id) REFERENCES crm.notes (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES crm.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX note_mentions_user ON crm.note_mentions (tenant_id, user_id);
COMMENT ON TABLE crm.note_mentions IS 'Users mentioned in a note (same tenant); the author adds and removes them.';
COMMENT ON COLUMN crm.note_mentions.tenant_id IS 'The owning tenant; defaults to crm.current_tenant().';
COMMENT ON COLUMN crm.note_mentions.id IS 'The mention''s id (uuid_v7).';
COMMENT ON COLUMN crm.note_mentions.note_id IS 'The note.';
COMMENT ON COLUMN crm.note_mentions.user_id IS 'The user mentioned.';
COMMENT ON COLUMN crm.note_mentions.created_at IS 'When the user was mentioned.';
ALTER TABLE crm.note_mentions ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.note_mentions FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('crm.note_mentions', '');
SELECT crm.secure_table('crm.note_mentions', 'child', 'crm.notes', 'note_id');

CREATE VIEW crm_api.notes WITH (security_invoker = true) AS
    SELECT tenant_id, id, body, is_pinned, lead_id, contact_id, account_id, opportunity_id, owner_id, created_at, updated_at
    FROM crm.notes;
COMMENT ON VIEW crm_api.notes IS 'Notes of the caller''s tenant (its own only, for a rep of a private tenant).';
CREATE VIEW crm_api.note_mentions WITH (security_invoker = true) AS
    SELECT tenant_id, id, note_id, user_id, created_at FROM crm.note_mentions;
COMMENT ON VIEW crm_api.note_mentions IS 'Users mentioned in the notes the caller reads.';
GRANT SELECT, INSERT, UPDATE, DELETE ON crm_api.notes, crm_api.note_mentions TO crm_rep;
