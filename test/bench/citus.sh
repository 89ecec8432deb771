#!/usr/bin/env bash
# citus.sh: the body of `make bench-citus`. crm on a local Citus cluster (coordinator + 2 workers,
# started by test/citus.sh with KEEP=1, which runs the Citus test suite first and loads the demo data
# into the coordinator) against a single node (test/cluster.sh), with the same data loaded into both:
# the demo data, then test/bench/lib/data.sql (TENANTS tenants, ROWS users, LEADS leads) and the
# accounts, deals and activities of test/bench/dashboard.sql (OPPORTUNITIES, ACTIVITIES). Both loads
# run without crm's triggers, each in one transaction with SET LOCAL session_replication_role = replica
# (on Citus only a SET LOCAL reaches the workers). Then, on each side:
#   (a) the PostgREST-shaped leads page (claims + crm.pre_request(), READ ONLY), pgbench -c 2 -j 2;
#   (b) SELECT crm.dashboard() as a tenant's manager, median of REPS runs;
#   (c) SELECT * FROM crm.pipeline_summary() as a tenant's manager, median of REPS runs;
#   (d) SELECT crm.rescore_leads(NULL, full_pass => true) as the operator, median of JOB_REPS runs;
# and prints one table: benchmark, single node ms, Citus ms, ratio (Citus / single), TPS. A statement
# that fails is reported with its error instead of a number. Every cluster it started is stopped on exit.
#
#   CITUS_PORT=54440 (54440..54443 used by test/citus.sh)  SINGLE_PORT=54445  LEADS=100000  ROWS=10000
#   TENANTS=100  PGBENCH_SECONDS=20  REPS=9  JOB_REPS=3  OPPORTUNITIES=10000  ACTIVITIES=50000
#   CITUS_REUSE=1   use a Citus cluster already running on CITUS_PORT (KEEP=1 test/citus.sh), and leave it
set -uo pipefail
cd "$(dirname "$0")/../.."

BASE=${CITUS_PORT:-54440}
SINGLE=${SINGLE_PORT:-$((BASE + 5))}
DB=${TEST_DB:-crm_bench}
TENANTS=${TENANTS:-100}
ROWS=${ROWS:-10000}
LEADS=${LEADS:-100000}
OPPORTUNITIES=${OPPORTUNITIES:-10000}
ACTIVITIES=${ACTIVITIES:-50000}
SECONDS_=${PGBENCH_SECONDS:-20}
REPS=${REPS:-9}
JOB_REPS=${JOB_REPS:-3}
PG_CONFIG=${PG_CONFIG:-pg_config}
export PG_CONFIG
PGBIN=$("$PG_CONFIG" --bindir)
export PATH="$PGBIN:$PATH"

work=$(mktemp -d)
cleanup() {
	test/cluster.sh stop "$SINGLE"
	if [ "${CITUS_REUSE:-0}" != 1 ]; then
		for p in 0 1 2 3; do test/cluster.sh stop $((BASE + p)); done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# psql on a side: single (unix socket of test/cluster.sh) or citus (the coordinator, over TCP)
single_dir="${CRM_CLUSTER_ROOT:-${TMPDIR:-/tmp}}/crm-cluster-$SINGLE"
conn() {
	if [ "$1" = single ]; then echo "-h $single_dir -p $SINGLE -U postgres -d $DB"; else echo "-h 127.0.0.1 -p $BASE -U postgres -d $DB"; fi
}
on() { # on SIDE psql-args...
	local side=$1
	shift
	# shellcheck disable=SC2046
	PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 $(conn "$side") "$@"
}

# 1. the clusters
if [ "${CITUS_REUSE:-0}" != 1 ]; then
	echo "== bench-citus: starting the Citus cluster (test/citus.sh, KEEP=1: its test suite runs first)"
	KEEP=1 COMPARE=0 CITUS_PORT=$BASE TEST_DB=$DB test/citus.sh >"$work/citus.log" 2>&1
	tail -3 "$work/citus.log"
	on citus -c 'SELECT 1' >/dev/null 2>&1 || { echo "bench-citus: the Citus cluster is not up:" >&2; tail -30 "$work/citus.log" >&2; exit 1; }
	test/cluster.sh stop $((BASE + 3))   # test/citus.sh's own single node: not ours to measure
fi
echo "== bench-citus: single node on port $SINGLE"
test/cluster.sh start "$SINGLE" "$DB" >/dev/null || exit 1
on single -c 'CREATE EXTENSION crm' || exit 1

# 2. the same data on both: the demo data (already on the coordinator, loaded by test/citus.sh), the
# bench data (data.sql) and the dashboard's deals (dashboard.sql's generator), each load in one
# transaction with SET LOCAL session_replication_role = replica instead of the session-level SET.
on single -f test/demo/data.sql >"$work/demo.log" 2>&1 || { echo "bench-citus: demo data failed on the single node" >&2; tail "$work/demo.log" >&2; exit 1; }
# The leads' INSERT ... SELECT scores every row with crm.lead_score_fields, which reads crm.scoring_models:
# on Citus a distributed query inside the rows an INSERT streams to the shards fails ("another command is
# already in progress"), so the rows are computed into a temporary table first, then inserted (both sides).
sed -e 's/^SET session_replication_role = replica;/BEGIN; SET LOCAL session_replication_role = replica;/' \
	-e 's/^RESET session_replication_role;/COMMIT;/' test/bench/lib/data.sql |
	awk '/^INSERT INTO crm\.leads \(/ {cols = 1; stmt = 1; sub(/^INSERT INTO crm\.leads \(/, ""); head = "(" $0; print "CREATE TEMP TABLE bench_leads (" $0; if ($0 ~ /\)$/) cols = 0; next}
	     cols {head = head "\n" $0; if ($0 ~ /\)$/) {cols = 0; print $0 " AS"} else print; next}
	     stmt && /;$/ {print; print "INSERT INTO crm.leads " head "\nSELECT * FROM bench_leads;"; print "DROP TABLE bench_leads;"; stmt = 0; next}
	     {print}' >"$work/data.sql"
grep -q 'SELECT \* FROM bench_leads' "$work/data.sql" || { echo "bench-citus: could not adapt data.sql" >&2; exit 1; }
{
	echo '\set ON_ERROR_STOP 1'
	echo "SELECT md5('crm bench:tenant:1')::uuid AS dt \\gset"
	# dashboard.sql's generator: the lines between its \if :need_data and \endif
	awk '/^\\if :need_data/ {on = 1; next} /^\\endif/ && on {on = 0} on' test/bench/dashboard.sql |
		sed -e 's/^SET session_replication_role = replica;/BEGIN; SET LOCAL session_replication_role = replica;/' \
			-e 's/^RESET session_replication_role;/COMMIT;/'
} >"$work/deals.sql"
grep -q 'SET LOCAL session_replication_role' "$work/data.sql" && grep -q 'SET LOCAL session_replication_role' "$work/deals.sql" ||
	{ echo "bench-citus: could not adapt the data generators" >&2; exit 1; }
for side in single citus; do
	start=$(date +%s)
	if ! on "$side" -v rows="$ROWS" -v tenants="$TENANTS" -v leads="$LEADS" -A -t -f "$work/data.sql" >"$work/$side.load" 2>&1 ||
		! on "$side" -v tenants="$TENANTS" -v dashboard_opportunities="$OPPORTUNITIES" -v dashboard_activities="$ACTIVITIES" \
			-f "$work/deals.sql" >>"$work/$side.load" 2>&1; then
		echo "bench-citus: the bench data failed to load ($side):" >&2
		grep -v 'only locally' "$work/$side.load" | tail -20 >&2
		exit 1
	fi
	echo "bench-citus: $side: $(grep 'bench data:' "$work/$side.load") in $(($(date +%s) - start)) s"
done
# the same rows on both, for the bench tenants: counts and a digest of the business columns (the demo's
# tenants are on both too, but test/citus.sh's suite may have left rows of its own next to them)
check='SELECT string_agg(format($$%s %s$$, t, n), $$, $$ ORDER BY t) FROM (
  SELECT $$tenants$$ t, count(*) n FROM crm.tenants UNION ALL SELECT $$users$$, count(*) FROM crm.users
  UNION ALL SELECT $$leads$$, count(*) FROM crm.leads UNION ALL SELECT $$accounts$$, count(*) FROM crm.accounts
  UNION ALL SELECT $$opportunities$$, count(*) FROM crm.opportunities UNION ALL SELECT $$activities$$, count(*) FROM crm.activities) c'
digest='WITH b AS (SELECT id FROM crm.tenants WHERE name LIKE $$Bench tenant %$$) SELECT concat_ws($$ $$,
  (SELECT md5(string_agg(x, $$,$$ ORDER BY x)) FROM (SELECT concat_ws($$|$$, tenant_id, email, status, score, grade, budget, updated_at) x FROM crm.leads WHERE tenant_id IN (SELECT id FROM b)) l),
  (SELECT md5(string_agg(x, $$,$$ ORDER BY x)) FROM (SELECT concat_ws($$|$$, tenant_id, email, role, active) x FROM crm.users WHERE tenant_id IN (SELECT id FROM b)) u),
  (SELECT md5(string_agg(x, $$,$$ ORDER BY x)) FROM (SELECT concat_ws($$|$$, o.tenant_id, o.name, o.amount, s.name) x FROM crm.opportunities o JOIN crm.pipeline_stages s ON s.tenant_id = o.tenant_id AND s.id = o.stage_id WHERE o.tenant_id IN (SELECT id FROM b)) o),
  (SELECT md5(string_agg(x, $$,$$ ORDER BY x)) FROM (SELECT concat_ws($$|$$, tenant_id, subject, account_id) x FROM crm.activities WHERE tenant_id IN (SELECT id FROM b)) a),
  (SELECT count(*) FROM crm.leads WHERE tenant_id IN (SELECT id FROM b)))'
counts_single=$(on single -A -t -c "$check") counts_citus=$(on citus -A -t -c "$check")
digest_single=$(on single -A -t -c "$digest") digest_citus=$(on citus -A -t -c "$digest")
echo "bench-citus: all rows, single: $counts_single"
echo "bench-citus: all rows, citus:  $counts_citus"
if [ "$digest_single" != "$digest_citus" ]; then
	echo "bench-citus: the bench tenants' rows differ (md5 of leads, users, deals, activities; bench leads): $digest_single vs $digest_citus" >&2
	exit 1
fi
echo "bench-citus: the bench tenants hold the same rows on both (md5 of leads, users, deals, activities; bench leads: $digest_single)"

# the tenant whose manager is measured: tenant 3 (tenant 1's generated users are all inactive, tenant 2 has no manager), its first
# active manager by email (ids are generated, emails are the same on both sides)
mgr_sql="SELECT md5('crm bench:tenant:3')::uuid || ' ' || (SELECT id FROM crm.users WHERE tenant_id = md5('crm bench:tenant:3')::uuid
           AND role = 'manager' AND active ORDER BY email LIMIT 1)"

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print ""; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# timed SIDE REPS PREFIX STATEMENT: median ms of the statement, each run in its own transaction after
# PREFIX (untimed); on failure prints "ERROR: ..." instead
timed() {
	local side=$1 reps=$2 prefix=$3 stmt=$4 i
	{
		for i in $(seq $((reps + 1))); do   # the first run warms up and is dropped
			echo 'BEGIN;'
			[ -n "$prefix" ] && echo "$prefix \\g /dev/null"
			echo '\timing on'
			echo "$stmt \\g /dev/null"
			echo '\timing off'
			echo 'COMMIT;'
		done
	} >"$work/timed.sql"
	if ! on "$side" -f "$work/timed.sql" >"$work/timed.out" 2>&1; then
		echo "ERROR: $(grep -m1 'ERROR' "$work/timed.out" | sed 's/^.*ERROR: *//')"
		return
	fi
	grep '^Time: ' "$work/timed.out" | tail -n +2 | awk '{print $2}' | median
}

cat >"$work/postgrest.sql" <<SQL
\\set t random(1, $TENANTS)
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('search_path', '"crm_api", "public"', true), set_config('role', 'crm_rep', true),
       set_config('request.jwt.claims', json_build_object('role', 'crm_rep', 'tenant_id', md5('crm bench:tenant:' || :t)::uuid, 'sub', md5('crm bench:user:' || :t)::uuid)::text, true),
       set_config('request.method', 'GET', true), set_config('request.path', '/leads', true);
SELECT crm.pre_request();
WITH pgrst_source AS (SELECT "crm_api"."leads".* FROM "crm_api"."leads" ORDER BY "crm_api"."leads"."updated_at" DESC LIMIT 50 OFFSET 0) SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(json_agg(_postgrest_t), '[]') AS body FROM (SELECT * FROM pgrst_source) _postgrest_t;
COMMIT;
SQL
pgbench_run() { # SIDE: prints "latency_ms tps", or "ERROR: ..."
	# shellcheck disable=SC2046
	if ! pgbench -n -c 2 -j 2 -T 2 -f "$work/postgrest.sql" $(conn "$1") >"$work/pgbench.out" 2>&1; then
		echo "ERROR: $(grep -m1 'ERROR' "$work/pgbench.out" | sed 's/^.*ERROR: *//')"
		return
	fi
	# shellcheck disable=SC2046
	pgbench -n -c 2 -j 2 -T "$SECONDS_" -f "$work/postgrest.sql" $(conn "$1") 2>/dev/null |
		awk '/^latency average/ {lat = $4} /^tps/ {tps = $3} END {print lat, tps}'
}

declare -A res tps rescore
for side in single citus; do
	echo "== bench-citus: measuring on $side"
	on "$side" -c 'VACUUM ANALYZE' >/dev/null
	read -r t m < <(on "$side" -A -t -c "$mgr_sql")
	as_manager="SELECT set_config('role', 'crm_manager', true), crm.set_context('$t', '$m')"
	out=$(pgbench_run "$side")
	if [[ $out == ERROR* ]]; then res[a_$side]=$out; tps[$side]=""; else read -r res[a_$side] tps[$side] <<<"$out"; fi
	res[b_$side]=$(timed "$side" "$REPS" "$as_manager" 'SELECT crm.dashboard()')
	res[c_$side]=$(timed "$side" "$REPS" "$as_manager" 'SELECT * FROM crm.pipeline_summary()')
	res[d_$side]=$(timed "$side" "$JOB_REPS" "" 'SELECT crm.rescore_leads(NULL, full_pass => true)')
	# the rescore's own result: a tenant that failed is logged and skipped, so its time alone says nothing
	rescore[$side]=$(on "$side" -A -t -c "SELECT (r - 'failures')::text || coalesce(' first failure: ' || (r->'failures'->0)::text, '') FROM crm.rescore_leads(NULL, full_pass => true) r" 2>&1)
	for k in a b c d; do echo "  $k: ${res[${k}_$side]}"; done
	echo "  d's result: ${rescore[$side]}"
done

cores=$(nproc)
version=$(on single -A -t -c 'SHOW server_version')
citus_version=$(on citus -A -t -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")
leads=$(on single -A -t -c 'SELECT count(*) FROM crm.leads')
echo
echo "make bench-citus: $TENANTS bench tenants (+ the demo's), $leads leads, $OPPORTUNITIES deals, $cores cores, PostgreSQL $version, Citus $citus_version (coordinator + 2 workers, one machine)"
fmt='%-58s %14s %14s %9s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" benchmark single_ms citus_ms ratio tps
row() { # name key [tps column]
	local s=${res[${2}_single]} c=${res[${2}_citus]} ratio=""
	if [[ $s != ERROR* && $c != ERROR* && -n $s && -n $c ]]; then ratio=$(awk -v s="$s" -v c="$c" 'BEGIN {printf "%.2f", c / s}'); fi
	[[ $s == ERROR* ]] && s="error (below)"
	[[ $c == ERROR* ]] && c="error (below)"
	# shellcheck disable=SC2059
	printf "$fmt" "$1" "$s" "$c" "$ratio" "${3:-}"
}
row "(a) leads page, PostgREST, pgbench 2 clients ${SECONDS_} s (avg)" a "single $(printf '%.0f' "${tps[single]:-0}"), citus $(printf '%.0f' "${tps[citus]:-0}")"
row "(b) crm.dashboard() as a manager (median of $REPS)" b
row "(c) crm.pipeline_summary() as a manager (median of $REPS)" c
row "(d) crm.rescore_leads(NULL, full pass) operator (median of $JOB_REPS)" d
for k in a b c d; do
	for side in single citus; do
		[[ ${res[${k}_$side]} == ERROR* ]] && echo "($k) on $side: ${res[${k}_$side]}"
	done
done
echo "(d) result on single: ${rescore[single]}"
echo "(d) result on citus:  ${rescore[citus]}"
exit 0
