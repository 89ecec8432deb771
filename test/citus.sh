#!/usr/bin/env bash
# citus.sh: the body of `make test-citus`. Builds Citus 13.2.2 if it is missing, starts a throwaway
# coordinator and two workers (127.0.0.1, ports CITUS_PORT .. CITUS_PORT+2, stopped on every exit),
# installs crm through the coordinator, distributes it with crm.distribute(), and runs the pgTAP suite
# test/citus/*.sql on the coordinator. Exits non-zero if anything failed.
#
#   KEEP=1 test/citus.sh     leaves the three clusters running (make stop stops them)
#   COMPARE=0 test/citus.sh  leaves out the single-node comparison of the demo (on by default)
set -uo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
BASE=${CITUS_PORT:-54332}
DB=${TEST_DB:-crm_test}
PORTS=("$BASE" $((BASE + 1)) $((BASE + 2)))
SINGLE=$((BASE + 3))   # a single node, for the comparison
ROOT=${CRM_CLUSTER_ROOT:-${TMPDIR:-/tmp}}

# Citus: built from the tarball in the workplace's shared/citus (no Debian package exists).
if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]; then
	build=""
	for b in "${CITUS_BUILD:-}" ../shared/citus/build.sh /work/shared/citus/build.sh; do
		[ -n "$b" ] && [ -x "$b" ] && { build=$b; break; }
	done
	if [ -z "$build" ]; then
		echo "citus.sh: Citus is not installed and no build script was found (set CITUS_BUILD=/path/to/build.sh)" >&2
		exit 1
	fi
	echo "== building Citus with $build (about 4.5 minutes)"
	PG_CONFIG=$PG_CONFIG "$build" || { echo "citus.sh: the Citus build failed" >&2; exit 1; }
fi

stop_all() {
	for p in "${PORTS[@]}" "$SINGLE"; do test/cluster.sh stop "$p"; done
}
if [ "${KEEP:-0}" != 1 ]; then
	trap stop_all EXIT
fi
trap 'exit 130' INT TERM

# One key for every node: what crm.set_context signs the request context with, so that the workers
# believe the context the coordinator checked (docs/design.md §3). Readable by superusers only.
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
for p in "${PORTS[@]}"; do
	test/cluster.sh start "$p" "$DB" "listen_addresses='127.0.0.1'" "shared_preload_libraries='citus,pg_cron'" \
		"wal_level=logical" "max_worker_processes=24" "crm.node_key='$key'" >/dev/null ||
		{ echo "citus.sh: could not start the node on port $p" >&2; exit 1; }
done
node() { # node INDEX psql-args...: psql on that node's database, as the superuser, over TCP
	local i=$1
	shift
	psql -X -q -h 127.0.0.1 -p "${PORTS[$i]}" -U postgres -d "$DB" -v ON_ERROR_STOP=1 "$@"
}
for i in 0 1 2; do
	node "$i" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION citus' -c 'CREATE EXTENSION pg_cron' ||
		{ echo "citus.sh: CREATE EXTENSION citus failed on node $i" >&2; exit 1; }
done
node 0 -c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORTS[0]})" \
	-c "SELECT citus_add_node('127.0.0.1', ${PORTS[1]})" -c "SELECT citus_add_node('127.0.0.1', ${PORTS[2]})" >/dev/null ||
	{ echo "citus.sh: could not form the cluster" >&2; exit 1; }

echo "== crm on Citus: coordinator 127.0.0.1:${PORTS[0]}, workers :${PORTS[1]} and :${PORTS[2]}"
# dblink: the PostgREST replays (test/postgrest/replay.psql) run each request in a session of its own
node 0 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION dblink' -c 'CREATE EXTENSION crm' ||
	{ echo "citus.sh: CREATE EXTENSION crm through the coordinator failed" >&2; exit 1; }
node 0 -c 'SELECT crm.distribute()' || { echo "citus.sh: crm.distribute() failed" >&2; exit 1; }

passed=0 failed=0
prove() { # prove FILE...: pg_prove on the coordinator; adds to passed and failed
	local log status tests bad
	log=$(mktemp)
	PGHOST=127.0.0.1 PGPORT=${PORTS[0]} PGUSER=postgres PGDATABASE=$DB pg_prove --ext .sql "$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -1)
	bad=$(sed -n 's/^Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
	rm -f "$log"
	tests=${tests:-0}
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
	[ "$tests" -lt "$bad" ] && tests=$bad   # a file that died counts its planned tests as failed
	passed=$((passed + tests - bad))
	failed=$((failed + bad))
}

# The single-node suites named in test/citus/suites, unchanged, on the distributed tables: their fixture
# (test/lib/two_tenants.psql) commits on Citus and removes what the previous file left. Then every tenant
# goes, and the Citus suite test/citus/*.sql starts from an empty crm.
suites=()
while read -r line; do
	line=${line%%#*}
	line=${line//[[:space:]]/}
	[ -n "$line" ] && suites+=("$line")
done <test/citus/suites
if [ ${#suites[@]} -gt 0 ]; then
	echo "== the single-node suites of test/citus/suites, on Citus"
	prove "${suites[@]}"
	node 0 -c 'DELETE FROM crm.tenants' >/dev/null 2>&1 || { echo "citus.sh: could not remove the suites' tenants" >&2; failed=$((failed + 1)); }
fi
shopt -s nullglob
files=(test/citus/*.sql)
shopt -u nullglob
[ ${#files[@]} -eq 0 ] && { echo "citus.sh: no test files in test/citus/" >&2; failed=$((failed + 1)); }
echo "== the Citus suite: test/citus/*.sql"
prove "${files[@]}"

# --- batch jobs on the tenants' nodes, and pg_cron on the coordinator (test/citus/jobs.sh) ---
echo "== batch jobs and pg_cron on Citus (test/citus/jobs.sh)"
jobs_log=$(test/citus/jobs.sh "${PORTS[0]}" "$DB" 2>&1)
printf '%s\n' "$jobs_log"
jobs_ok=$(printf '%s\n' "$jobs_log" | grep -c '^jobs: ok')
jobs_bad=$(printf '%s\n' "$jobs_log" | grep -c '^jobs: FAIL')
[ $((jobs_ok + jobs_bad)) -lt 9 ] && jobs_bad=$((9 - jobs_ok))   # nine checks
passed=$((passed + jobs_ok))
failed=$((failed + jobs_bad))
# --- end of the batch jobs block ---

# The demo data (test/demo/data.sql) loads through the coordinator, and the demo report runs there: the
# whole write path, the actions and the jobs on distributed tables. A job that fails for a tenant is
# logged and the load goes on (failure isolation): the failures, if any, are printed.
echo "== the demo data and report through the coordinator"
out=$(mktemp -d)
mkdir -p "$out/citus"
demo_ok=1
if ! node 0 -f test/demo/data.sql >"$out/citus.load" 2>&1; then
	echo "citus.sh: the demo data failed to load:"
	grep -v 'WARNING:  "\|DETAIL:  "\|only locally' "$out/citus.load" | grep -m1 -A8 ERROR
	demo_ok=0
fi
job_failures=$(node 0 -A -t -c "SELECT string_agg(job || ': ' || error_sqlstate || ' ' || error_message, '; ') FROM crm.job_runs
                                WHERE status = 'failed' AND tenant_id IN (md5('crm demo:tenant:acme')::uuid, md5('crm demo:tenant:borealis')::uuid)")
if [ -n "$job_failures" ]; then
	echo "jobs that failed for a demo tenant: $job_failures"; failed=$((failed + 1))
fi
if [ "$demo_ok" = 1 ] && node 0 -v demo_out="$out/citus" -f test/demo/report.sql >"$out/citus.report" 2>&1; then
	echo "ok: the demo data loads and the demo report runs through the coordinator ($(wc -l <"$out/citus/figures.csv") printed cells)"
	passed=$((passed + 1))
else
	[ "$demo_ok" = 1 ] && { echo "citus.sh: the demo report failed:"; grep -v 'WARNING:  "\|DETAIL:  "\|only locally' "$out/citus.report" | grep -m1 -A8 ERROR; }
	failed=$((failed + 1))
fi

# The same script on a single node too, then every table's contents (test/citus/snapshot.psql: ids and
# times aside) and every printed cell of the report (figures.csv) must be identical (COMPARE=0: skipped).
if [ "${COMPARE:-1}" = 1 ]; then
	echo "== the demo data on Citus and on a single node: every table and the report compared"
	eval "$(test/cluster.sh start "$SINGLE" "$DB")" || { echo "citus.sh: could not start the single node" >&2; exit 1; }
	mkdir -p "$out/single"
	psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION crm' >/dev/null &&
		psql -X -q -v ON_ERROR_STOP=1 -f test/demo/data.sql >"$out/single.load" 2>&1 &&
		psql -X -q -v ON_ERROR_STOP=1 -v demo_out="$out/single" -f test/demo/report.sql >"$out/single.report" 2>&1 ||
		{ echo "citus.sh: the single node's demo failed" >&2; exit 1; }
	psql -X -q -v ON_ERROR_STOP=1 -f test/citus/snapshot.psql >"$out/single.tables"
	node 0 -f test/citus/snapshot.psql >"$out/citus.tables"
	table_lines=$(wc -l <"$out/single.tables")
	same=$(comm -12 <(sort "$out/single.tables") <(sort "$out/citus.tables") | wc -l)
	passed=$((passed + same))
	if [ "$same" -ne "$table_lines" ] || [ "$table_lines" -eq 0 ]; then
		echo "tables that differ (table rows md5: < single node, > Citus):"
		diff "$out/single.tables" "$out/citus.tables"
		failed=$((failed + table_lines - same + 1))
	else
		echo "ok: $same tables hold the same rows on Citus as on a single node"
	fi
	if [ -s "$out/citus/figures.csv" ] && diff -u "$out/single/figures.csv" "$out/citus/figures.csv" >"$out/report.diff"; then
		echo "ok: the demo report is the same on Citus ($(wc -l <"$out/citus/figures.csv") printed cells)"
		passed=$((passed + 1))
	else
		echo "the demo report differs ($(grep -c '^[-+][^-+]' "$out/report.diff") lines; - single node, + Citus):"
		head -40 "$out/report.diff"
		failed=$((failed + 1))
	fi
fi
rm -rf "$out"

# A tenant's calls on the demo data stay on the tenant's node, every statement they run.
echo "== router plans of a tenant's calls (test/citus/router.sh)"
router_log=$(test/citus/router.sh "${PORTS[0]}" "$DB")
printf '%s\n' "$router_log"
router_ok=$(printf '%s\n' "$router_log" | grep -c '^router: ok')
router_bad=$(printf '%s\n' "$router_log" | grep -c '^router: [^o]')
[ $((router_ok + router_bad)) -lt 3 ] && router_bad=$((3 - router_ok))   # three calls are checked
passed=$((passed + router_ok))
failed=$((failed + router_bad))

echo "== citus summary: $passed passed, $failed failed (${#suites[@]} single-node suites, ${#files[@]} pgTAP files, the jobs and pg_cron checks, the demo, the router checks$([ "${COMPARE:-1}" = 1 ] && echo ', the single-node comparison'))"
[ "$failed" -eq 0 ]
