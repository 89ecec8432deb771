#!/usr/bin/env bash
# write_path.sh: single-row writes under load (issue 17). pgbench, 2 clients, each transaction one
# PostgREST-shaped request of a rep of one tenant (its set_config, the statement), against the same
# write to a plain table of the same columns and indexes, without triggers or policies (bench.w_*), as
# the table's owner:
#   insert a lead          POST /leads                    vs INSERT into bench.w_leads
#   log an activity        POST /rpc/log_activity (lead)  vs INSERT into bench.w_activities
#   update a lead's budget PATCH /leads?id=eq.…           vs UPDATE bench.w_leads
#   move an opportunity    POST /rpc/move_opportunity     vs UPDATE bench.w_opportunities (stage_id)
# Also the WAL each transaction writes (pg_current_wal_lsn around the run, over its transactions).
# Records TPS-derived latency and WAL per transaction in bench.results; fails nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${PGBENCH_SECONDS:-20}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
T=$(psql -X -A -t -c "SELECT md5('crm bench:writes')::uuid")
U=$(psql -X -A -t -c "SELECT md5('crm bench:writes:user')::uuid")
LEADS=10000 OPPS=2000

psql -X -q -v ON_ERROR_STOP=1 -v t="$T" -v u="$U" -v leads=$LEADS -v opps=$OPPS <<'SQL'
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT 1 FROM crm.tenants WHERE id = :'t') AS need_data \gset
\if :need_data
SELECT crm.create_tenant('Bench writes', '{}', :'t') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES (:'t', :'u', 'rep@writes.example', 'Writer', 'rep');
INSERT INTO crm.accounts (tenant_id, id, name, owner_id) VALUES (:'t', md5('crm bench:writes:account')::uuid, 'Writes Co', :'u');
-- written through the triggers: every lead new, every deal open
INSERT INTO crm.leads (tenant_id, id, first_name, last_name, email, company, budget, owner_id)
SELECT :'t', md5('crm bench:writes:lead:' || n)::uuid, 'Lead', 'No. ' || n, format('lead%s@writes.example', n), 'Company ' || n % 500,
       1000 * (n % 100), :'u'
FROM generate_series(1, :leads) n;
INSERT INTO crm.opportunities (tenant_id, id, name, account_id, amount, owner_id)
SELECT :'t', md5('crm bench:writes:opp:' || n)::uuid, 'Deal ' || n, md5('crm bench:writes:account')::uuid, 1000 * (n % 50), :'u'
FROM generate_series(1, :opps) n;
-- the plain tables: same columns, defaults, constraints and indexes, no triggers, no policies
CREATE TABLE bench.w_leads (LIKE crm.leads INCLUDING ALL);
CREATE TABLE bench.w_activities (LIKE crm.activities INCLUDING ALL);
CREATE TABLE bench.w_opportunities (LIKE crm.opportunities INCLUDING ALL);
-- (their columns but the generated ones)
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FILTER (WHERE attrelid = 'crm.leads'::regclass) AS lead_cols,
       string_agg(quote_ident(attname), ', ' ORDER BY attnum) FILTER (WHERE attrelid = 'crm.opportunities'::regclass) AS opp_cols
  FROM pg_attribute WHERE attrelid IN ('crm.leads'::regclass, 'crm.opportunities'::regclass) AND attnum > 0 AND NOT attisdropped AND attgenerated = '' \gset
INSERT INTO bench.w_leads (:lead_cols) SELECT :lead_cols FROM crm.leads WHERE tenant_id = :'t';
INSERT INTO bench.w_opportunities (:opp_cols) SELECT :opp_cols FROM crm.opportunities WHERE tenant_id = :'t';
VACUUM ANALYZE crm.leads;
VACUUM ANALYZE crm.opportunities;
VACUUM ANALYZE bench.w_leads;
VACUUM ANALYZE bench.w_opportunities;
\endif
SQL

# the request's preamble, as PostgREST sends it for a rep of the tenant
pre="SELECT set_config('search_path', '\"crm_api\", \"public\"', true), set_config('role', 'crm_rep', true),
       set_config('request.jwt.claims', '{\"role\": \"crm_rep\", \"tenant_id\": \"$T\", \"sub\": \"$U\"}', true);"
cat >"$dir/insert_lead.sql" <<SQL
\\set n random(1, 1000000000)
BEGIN;
$pre
INSERT INTO crm_api.leads (first_name, last_name, email, company, budget) VALUES ('New', 'Lead ' || :n, 'new' || :n || '@writes.example', 'Newco', 5000);
COMMIT;
SQL
cat >"$dir/insert_lead_plain.sql" <<SQL
\\set n random(1, 1000000000)
BEGIN;
INSERT INTO bench.w_leads (tenant_id, first_name, last_name, email, company, budget, owner_id)
VALUES ('$T', 'New', 'Lead ' || :n, 'new' || :n || '@writes.example', 'Newco', 5000, '$U');
COMMIT;
SQL
cat >"$dir/log_activity.sql" <<SQL
\\set n random(1, $LEADS)
BEGIN;
$pre
SELECT crm_api.log_activity(type => 'call', subject => 'Called', lead_id => md5('crm bench:writes:lead:' || :n)::uuid, outcome => 'connected');
COMMIT;
SQL
cat >"$dir/log_activity_plain.sql" <<SQL
\\set n random(1, $LEADS)
BEGIN;
INSERT INTO bench.w_activities (tenant_id, type, subject, lead_id, outcome, owner_id)
VALUES ('$T', 'call', 'Called', md5('crm bench:writes:lead:' || :n)::uuid, 'connected', '$U');
COMMIT;
SQL
cat >"$dir/update_budget.sql" <<SQL
\\set n random(1, $LEADS)
\\set b random(1, 200)
BEGIN;
$pre
UPDATE crm_api.leads SET budget = 1000 * :b WHERE id = md5('crm bench:writes:lead:' || :n)::uuid;
COMMIT;
SQL
cat >"$dir/update_budget_plain.sql" <<SQL
\\set n random(1, $LEADS)
\\set b random(1, 200)
BEGIN;
UPDATE bench.w_leads SET budget = 1000 * :b WHERE tenant_id = '$T' AND id = md5('crm bench:writes:lead:' || :n)::uuid;
COMMIT;
SQL
cat >"$dir/move_opportunity.sql" <<SQL
\\set n random(1, $OPPS)
\\set s random(1, 4)
BEGIN;
$pre
SELECT crm_api.move_opportunity(md5('crm bench:writes:opp:' || :n)::uuid, (ARRAY['prospecting', 'qualification', 'proposal', 'negotiation'])[:s]);
COMMIT;
SQL
cat >"$dir/move_opportunity_plain.sql" <<SQL
\\set n random(1, $OPPS)
\\set s random(1, 4)
BEGIN;
UPDATE bench.w_opportunities o SET stage_id = s.id
  FROM crm.pipeline_stages s
 WHERE o.tenant_id = '$T' AND o.id = md5('crm bench:writes:opp:' || :n)::uuid
   AND s.tenant_id = o.tenant_id AND s.pipeline_id = o.pipeline_id
   AND s.name = (ARRAY['prospecting', 'qualification', 'proposal', 'negotiation'])[:s] AND o.stage_id <> s.id;
COMMIT;
SQL

run() {
	# a short warm-up, then the measured run; prints "latency_ms tps wal_bytes_per_transaction"
	pgbench -n -c 2 -j 2 -T 2 -f "$1" >/dev/null 2>&1
	local before out
	before=$(psql -X -A -t -c "SELECT pg_current_wal_lsn()")
	out=$(pgbench -n -c 2 -j 2 -T "$seconds" -f "$1" 2>&1) || { echo "pgbench failed on $1: $out" >&2; return 1; }
	printf '%s\n' "$out" | awk -v before="$before" '/^latency average/ {lat = $4} /^tps/ {tps = $3}
		/^number of transactions actually processed/ {split($0, a, ": "); split(a[2], b, "/"); n = b[1]}
		END {print lat, tps, n}' | {
		read -r lat tps n
		wal=$(psql -X -A -t -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$before') / greatest($n, 1))")
		echo "$lat $tps $wal"
	}
}
for op in insert_lead log_activity update_budget move_opportunity; do
	read -r o_lat o_tps o_wal < <(run "$dir/$op.sql")
	read -r p_lat p_tps p_wal < <(run "$dir/${op}_plain.sql")
	echo "write_path: $op: crm $o_tps TPS ($o_lat ms, $o_wal B WAL), plain $p_tps TPS ($p_lat ms, $p_wal B WAL)"
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
VALUES ('writes: $op, pgbench 2 clients, ${seconds} s', 'a rep''s PostgREST request', 'the same write to a plain table as its owner',
        $o_lat, $p_lat, 1, '<= 2x (avg latency)', 'TPS $o_tps vs $p_tps'),
       ('writes: $op, WAL per transaction (bytes)', 'a rep''s PostgREST request', 'the same write to a plain table',
        $o_wal, $p_wal, 1, '<= 2x', NULL);
SQL
done
