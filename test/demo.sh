#!/usr/bin/env bash
# demo.sh: the body of `make demo`. Installs crm into a throwaway cluster, loads the demo data set, prints
# the report and how to connect. KEEP=1 leaves the throwaway cluster running (`make stop` stops it).
# The rows behind the report's figures are written as CSV files into DEMO_OUT (default demo-data, under
# the checkout), with figures.csv (every printed figure) and report.txt (the report as printed);
# test/demo_check.sh recomputes every figure from them.
# An existing server is used only when asked: SERVER=1 (the one the standard PG* variables name,
# database crm_demo unless PGDATABASE says otherwise) or CRM_DEMO_DSN=<a libpq connection string>.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${DEMO_PORT:-54330}
own_cluster=0
if [ -n "${CRM_DEMO_DSN:-}" ]; then
	# psql's -d takes a connection string; every psql below gets it through PSQL_DB
	export PSQL_DB="$CRM_DEMO_DSN"
	echo "demo: using the server of CRM_DEMO_DSN"
elif [ "${SERVER:-0}" = 1 ]; then
	export PSQL_DB=${PGDATABASE:-crm_demo}
	echo "demo: using the server named by PG* variables, database $PSQL_DB"
else
	own_cluster=1
	if [ "${KEEP:-0}" != 1 ]; then
		trap 'test/cluster.sh stop "$PORT"' EXIT
		trap 'exit 130' INT TERM
	fi
	eval "$(test/cluster.sh start "$PORT" crm_demo)"
	export PSQL_DB=$PGDATABASE
	echo "demo: a throwaway PostgreSQL cluster on $PGHOST, port $PGPORT"
fi
psql() { command psql -d "$PSQL_DB" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS crm CASCADE'
psql -X -q -v ON_ERROR_STOP=1 -f test/demo/data.sql >/dev/null
# the output directory, named absolutely; every run writes each of its files anew (and touches no other)
out=${DEMO_OUT:-demo-data}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
case "$out" in *[[:space:]]*) echo "demo: DEMO_OUT must be a path without spaces, not '$out'" >&2; exit 1 ;; esac
# (the report as printed is kept too, for test/demo_check.sh to compare with figures.csv)
psql -X -q -v ON_ERROR_STOP=1 -v demo_out="$out" -f test/demo/report.sql | tee "$out/report.txt"
echo
echo "The rows behind every figure are in $out/ (CSV files with a header line; figures.csv holds each printed"
echo "figure). To recompute every figure from them with plain SQL, in a database without crm (make test does it):"
if [ "$own_cluster" = 1 ] && [ "${KEEP:-0}" = 1 ]; then
	echo "  eval \"\$(test/cluster.sh env $PORT crm_demo)\"; test/demo_check.sh '$out'"
else
	echo "  test/demo_check.sh '$out'   (on the server the PG* variables name; e.g. after make demo KEEP=1)"
fi

echo
acme_admin=$(psql -X -A -t -c "SELECT md5('crm demo:user:acme:1')::uuid")
acme=$(psql -X -A -t -c "SELECT md5('crm demo:tenant:acme')::uuid")
if [ "$own_cluster" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
	echo "The cluster stops now. To explore it: make demo KEEP=1, then"
else
	echo "Connect with:"
fi
if [ "$own_cluster" = 1 ]; then
	echo "  psql -h '$PGHOST' -p $PGPORT -U ${PGUSER:-$(id -un)} $PGDATABASE"
else
	echo "  psql '$PSQL_DB'"
fi
echo "and act as Acme's admin:"
echo "  BEGIN; SET LOCAL ROLE crm_admin; SELECT crm.set_context('$acme', '$acme_admin'); SELECT name, role FROM crm.users;"
[ "$own_cluster" = 1 ] && [ "${KEEP:-0}" = 1 ] && echo "Stop it with: make stop"
exit 0
