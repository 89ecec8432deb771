-- email.sql: crm.email against the two usual ways of case-insensitive email (issue 3):
-- citext, and text with a unique index on lower(email). Each on its own 1M-row table (ROWS rows over
-- the bench tenants, addresses in mixed case as people type them). Target: not slower.
--   1. equality lookups: 10 000 addresses typed in another case, each found through the unique
--      (tenant_id, email) index, the typed text converted as each side must (::crm.email, ::citext,
--      lower()).
--   2. unique-index inserts: 20 000 new addresses into the 1M-row table, through the unique index.
\set ON_ERROR_STOP 1
SET client_min_messages = notice;
-- citext in public, where its operators are on the search_path (elsewhere, citext = citext silently
-- becomes a case-sensitive text comparison through its implicit cast to text).
CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;

DO $$
DECLARE
    n bigint := (SELECT count(*) FROM crm.users);
BEGIN
    IF to_regclass('bench.email_crm') IS NOT NULL THEN
        RETURN;
    END IF;
    CREATE TABLE bench.email_crm (tenant_id uuid NOT NULL, email crm.email NOT NULL, UNIQUE (tenant_id, email));
    CREATE TABLE bench.email_citext (tenant_id uuid NOT NULL, email public.citext NOT NULL, UNIQUE (tenant_id, email));
    CREATE TABLE bench.email_lower (tenant_id uuid NOT NULL, email text NOT NULL);
    CREATE UNIQUE INDEX email_lower_unique ON bench.email_lower (tenant_id, lower(email));
    -- the same addresses in all three, as typed: First.Last<n>@Tenant<t>.Example
    CREATE TABLE bench.email_source AS
        SELECT md5('crm bench:tenant:' || (1 + i % 100))::uuid AS tenant_id,
               format('First.Last%s@Tenant%s.Example', i, 1 + i % 100) AS typed
        FROM generate_series(1, n) i;
    INSERT INTO bench.email_crm SELECT tenant_id, typed::crm.email FROM bench.email_source;
    INSERT INTO bench.email_citext SELECT tenant_id, typed FROM bench.email_source;
    INSERT INTO bench.email_lower SELECT tenant_id, typed FROM bench.email_source;
    -- 10 000 lookups, typed in upper case
    CREATE TABLE bench.email_probe AS
        SELECT tenant_id, upper(typed) AS typed FROM bench.email_source
        ORDER BY md5(typed) LIMIT 10000;
    CREATE SEQUENCE bench.email_batch;
END
$$;
VACUUM ANALYZE bench.email_crm;
VACUUM ANALYZE bench.email_citext;
VACUUM ANALYZE bench.email_lower;
VACUUM ANALYZE bench.email_probe;

\set nested 'SELECT set_config(''enable_hashjoin'', ''off'', true), set_config(''enable_mergejoin'', ''off'', true)'
\set q_crm 'SELECT count(*) FROM bench.email_probe p JOIN bench.email_crm e ON e.tenant_id = p.tenant_id AND e.email = p.typed::crm.email'
\set q_citext 'SELECT count(*) FROM bench.email_probe p JOIN bench.email_citext e ON e.tenant_id = p.tenant_id AND e.email = p.typed::public.citext'
\set q_lower 'SELECT count(*) FROM bench.email_probe p JOIN bench.email_lower e ON e.tenant_id = p.tenant_id AND lower(e.email) = lower(p.typed)'

BEGIN;
SELECT bench.same_answer('email lookups vs citext', :'q_crm', :'nested', :'q_citext', :'nested');
SELECT bench.same_answer('email lookups vs lower()', :'q_crm', :'nested', :'q_lower', :'nested');
SELECT bench.compare('email: 10k case-insensitive lookups, unique index',
    'crm.email, typed text cast to crm.email', :'q_crm', :'nested',
    'citext', :'q_citext', :'nested', 'not slower');
SELECT bench.compare('email: 10k case-insensitive lookups, unique index',
    'crm.email, typed text cast to crm.email', :'q_crm', :'nested',
    'text + unique index on lower(email)', :'q_lower', :'nested', 'not slower');

-- Inserts: each repetition adds 20 000 new addresses (a fresh batch number) to each table.
\set batch 'SELECT nextval(''bench.email_batch'') AS b'
SELECT format($q$INSERT INTO bench.email_crm SELECT md5('crm bench:tenant:' || (1 + i %% 100))::uuid,
                 format('New%%s.Person%%s@Tenant%%s.Example', currval('bench.email_batch'), i, 1 + i %% 100)::crm.email
                 FROM generate_series(1, 20000) i$q$) AS ins_crm,
       format($q$INSERT INTO bench.email_citext SELECT md5('crm bench:tenant:' || (1 + i %% 100))::uuid,
                 format('New%%s.Person%%s@Tenant%%s.Example', currval('bench.email_batch'), i, 1 + i %% 100)
                 FROM generate_series(1, 20000) i$q$) AS ins_citext,
       format($q$INSERT INTO bench.email_lower SELECT md5('crm bench:tenant:' || (1 + i %% 100))::uuid,
                 format('New%%s.Person%%s@Tenant%%s.Example', currval('bench.email_batch'), i, 1 + i %% 100)
                 FROM generate_series(1, 20000) i$q$) AS ins_lower \gset
SELECT bench.compare('email: insert 20k through the unique index',
    'crm.email', :'ins_crm', :'batch',
    'citext', :'ins_citext', :'batch', 'not slower', reps => 7, warmup => 1);
SELECT bench.compare('email: insert 20k through the unique index',
    'crm.email', :'ins_crm', :'batch',
    'text + unique index on lower(email)', :'ins_lower', :'batch', 'not slower', reps => 7, warmup => 1);
COMMIT;
