#!/usr/bin/env bash
# demo_check.sh: every figure of `make demo`'s report, recomputed by hand, as it were: on the running
# cluster of the PG* variables (make test's), the demo data is loaded and the report run as `make demo`
# runs them (test/demo/data.sql, test/demo/report.sql), writing its CSV files, figures.csv and the report
# as printed into a directory; then, in a second database of the same cluster without crm, the files are
# loaded into plain tables and every figure recomputed from them with plain SQL (test/demo/recheck.sql),
# compared with figures.csv, and figures.csv with the report as printed. Fails on any difference.
#
#   test/demo_check.sh          produce the files, then recheck them
#   test/demo_check.sh DIR      recheck the files of an earlier `make demo` (DIR: its DEMO_OUT, e.g. demo-data)
set -euo pipefail
cd "$(dirname "$0")/.."
export PGOPTIONS='-c client_min_messages=warning'
demo_db=crm_demo_check
check_db=crm_demo_recheck
work=$(mktemp -d)
# the files are read by psql, the client; as root the cluster runs as postgres, which needs nothing of them
trap 'rm -rf "$work"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $demo_db" -c "DROP DATABASE IF EXISTS $check_db"' EXIT

if [ $# -ge 1 ]; then
	cp "$1"/*.csv "$1"/report.txt "$work"/ || { echo "demo_check: $1 holds no CSV files and report.txt of make demo"; exit 1; }
	from="the files of $1"
else
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $demo_db" -c "CREATE DATABASE $demo_db"
	psql -X -q -d "$demo_db" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION crm' >/dev/null
	psql -X -q -d "$demo_db" -v ON_ERROR_STOP=1 -f test/demo/data.sql >/dev/null
	if ! psql -X -q -d "$demo_db" -v ON_ERROR_STOP=1 -v demo_out="$work" -f test/demo/report.sql >"$work/report.txt" 2>"$work/report.err"; then
		echo "demo_check: the report failed:"
		cat "$work/report.err"
		exit 1
	fi
	from="a fresh run of the demo report"
fi

# The report's tables as printed (psql's aligned format): a header line, a line of dashes and plus signs,
# the rows (cells between | signs, padded), a blank line. One CSV row per cell: table, row, column (its
# place and its name), value.
awk '
	function trim(s) { gsub(/^ +| +$/, "", s); return s }
	function csv(s) { gsub(/"/, "\"\"", s); return "\"" s "\"" }
	BEGIN { print "table_no,row_no,column_no,column_name,value" }
	/^-+(\+-+)*$/ && prev != "" {
		table++; row = 0; inside = 1
		ncols = split(prev, header, "|")
		for (i = 1; i <= ncols; i++) header[i] = trim(header[i])
		next
	}
	inside && /^$/ { inside = 0 }
	inside {
		row++
		n = split($0, cell, "|")
		if (n != ncols) { printf "demo_check: table %d, row %d has %d cells, its header %d\n", table, row, n, ncols > "/dev/stderr"; bad = 1 }
		for (i = 1; i <= n; i++) print table "," row "," i "," csv(header[i]) "," csv(trim(cell[i]))
	}
	{ prev = $0 }
	END { if (table == 0 || bad) exit 1 }
' "$work/report.txt" >"$work/printed.csv" || { echo "demo_check: could not read the tables of report.txt"; exit 1; }

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $check_db" -c "CREATE DATABASE $check_db"
# (no crm in this database: the recomputation cannot call it)
if ! psql -X -q -d "$check_db" -v ON_ERROR_STOP=1 -v dir="$work" -f test/demo/recheck.sql >"$work/recheck.out" 2>&1; then
	echo "demo_check: the recomputed figures differ from $from (or the check could not run):"
	cat "$work/recheck.out"
	exit 1
fi
if psql -X -q -At -d "$check_db" -c "SELECT 1 FROM pg_extension WHERE extname = 'crm'" | grep -q 1; then
	echo "demo_check: crm is installed in $check_db: the recomputation must not be able to call it"
	exit 1
fi
summary=$(grep -o 'recheck: .*' "$work/recheck.out" | sed 's/^recheck: //' | paste -sd ';' - | sed 's/;/; /g')
echo "demo_check: ok, $from: $summary"
