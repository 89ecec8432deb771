-- meta.sql (pgTAP): the version lives in crm.control; META.json and the installed extension agree with it.
-- pg_prove runs from the repository root, so the files are read with psql's backticks.
\ir lib/preamble.psql
\set control_version `sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\\([^']*\\)'.*/\\1/p" crm.control`
\set meta_json `tr -d '\n' < META.json`

BEGIN;
SELECT plan(5);
SELECT ok(:'control_version' ~ '^\d+\.\d+\.\d+$', 'crm.control has a default_version of the form x.y.z');
SELECT is(:'meta_json'::jsonb->>'version', :'control_version', 'META.json''s version is crm.control''s default_version');
SELECT is(:'meta_json'::jsonb->'provides'->'crm'->>'version', :'control_version', 'META.json provides crm at that version');
SELECT is(:'meta_json'::jsonb->'meta-spec'->>'version', '1.0.0', 'META.json follows PGXN meta-spec 1.0.0');
SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'crm'), :'control_version', 'the installed extension is that version');
SELECT * FROM finish();
ROLLBACK;
