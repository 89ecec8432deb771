#!/usr/bin/env bash
# run.sh: the body of `make bench`. A throwaway cluster on BENCH_PORT, crm installed, ROWS users over
# TENANTS tenants generated once, every test/bench/*.sql run, and one table printed: benchmark, our
# median, the alternative's median, the ratio. Timings never fail anything: this is not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${BENCH_PORT:-54331}
ROWS=${ROWS:-1000000}
TENANTS=${TENANTS:-100}
LEADS=${LEADS:-$ROWS}
export PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}

if [ "${KEEP:-0}" != 1 ]; then
	trap 'test/cluster.sh stop "$PORT"' EXIT
	trap 'exit 130' INT TERM
fi
# A benchmark cluster keeps the defaults that matter for timing (fsync off changes nothing for reads),
# with memory enough to hold the data set.
eval "$(test/cluster.sh start "$PORT" crm_bench shared_buffers=2GB work_mem=64MB max_parallel_workers_per_gather=0 jit=off)"

psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION crm'
psql -X -q -v ON_ERROR_STOP=1 -f test/bench/lib/harness.sql
echo "bench: generating $ROWS users and $LEADS leads over $TENANTS tenants"
start=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -v tenants="$TENANTS" -v leads="$LEADS" -A -t -f test/bench/lib/data.sql
echo "bench: data ready in $(( $(date +%s) - start )) s"

for f in test/bench/*.sql; do
	echo "bench: $f"
	psql -X -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null
done
# load tests with pgbench (they record their results in bench.results too)
for f in test/bench/*.sh; do
	[ "$f" = test/bench/run.sh ] && continue
	[ "$f" = test/bench/citus.sh ] && continue   # its own command (make bench-citus): a cluster of its own
	echo "bench: $f"
	"$f"
done

echo
echo "make bench: ROWS=$ROWS LEADS=$LEADS TENANTS=$TENANTS, $(nproc) cores, PostgreSQL $(psql -X -A -t -c 'SHOW server_version')"
psql -X -q -P footer=off <<'SQL'
SELECT name AS benchmark,
       round(ours_ms::numeric, 3) AS ours_ms,
       round(alt_ms::numeric, 3) AS alternative_ms,
       round((ours_ms / nullif(alt_ms, 0))::numeric, 3) AS ratio,
       coalesce(target, '') AS target,
       ours, alternative, reps, coalesce(note, '') AS note
FROM bench.results ORDER BY seq;
SQL
