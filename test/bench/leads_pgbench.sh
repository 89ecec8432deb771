#!/usr/bin/env bash
# leads_pgbench.sh: the leads page of test/bench/leads.sql under load: pgbench, 2 clients, each
# transaction one PostgREST request (a READ ONLY transaction, its set_config, the statement) for a
# random tenant, against the owner's plain query. Records latency and TPS in bench.results.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${PGBENCH_SECONDS:-20}
tenants=${TENANTS:-100}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/postgrest.sql" <<SQL
\\set t random(1, $tenants)
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('search_path', '"crm_api", "public"', true), set_config('role', 'crm_rep', true),
       set_config('request.jwt.claims', json_build_object('role', 'crm_rep', 'tenant_id', md5('crm bench:tenant:' || :t)::uuid, 'sub', md5('crm bench:user:' || :t)::uuid)::text, true),
       set_config('request.method', 'GET', true), set_config('request.path', '/leads', true);
WITH pgrst_source AS (SELECT "crm_api"."leads".* FROM "crm_api"."leads" ORDER BY "crm_api"."leads"."updated_at" DESC LIMIT 50 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body FROM (SELECT * FROM pgrst_source) _postgrest_t;
COMMIT;
SQL
cat >"$dir/owner.sql" <<SQL
\\set t random(1, $tenants)
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
WITH pgrst_source AS (SELECT l.* FROM crm.leads l WHERE l.tenant_id = md5('crm bench:tenant:' || :t)::uuid ORDER BY l.updated_at DESC LIMIT 50 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body FROM (SELECT * FROM pgrst_source) _postgrest_t;
COMMIT;
SQL

run() {
	# a short warm-up, then the measured run; prints "latency_ms tps"
	pgbench -n -c 2 -j 2 -T 2 -f "$1" >/dev/null
	pgbench -n -c 2 -j 2 -T "$seconds" -f "$1" 2>/dev/null |
		awk '/^latency average/ {lat = $4} /^tps/ {tps = $3} END {print lat, tps}'
}
read -r ours_lat ours_tps < <(run "$dir/postgrest.sql")
read -r alt_lat alt_tps < <(run "$dir/owner.sql")
echo "pgbench: PostgREST-shaped requests $ours_tps TPS ($ours_lat ms), owner's query $alt_tps TPS ($alt_lat ms)"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note)
VALUES ('leads: pgbench, 2 clients, ${seconds} s, random tenant', 'PostgREST request as crm_rep (txn + set_config + statement)',
        'owner''s query with explicit WHERE tenant_id', $ours_lat, $alt_lat, 1, 'avg latency',
        format('TPS: ours %s, alternative %s', round($ours_tps::numeric), round($alt_tps::numeric)));
SQL
