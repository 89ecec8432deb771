#!/usr/bin/env bash
# run.sh: the body of `make test` (after the build and install): a throwaway cluster, pg_regress over
# sql/ against expected/, pgTAP over test/*.sql and test/postgrest/*.sql. The cluster is stopped on
# every exit, Ctrl-C included. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PORT=${TEST_PORT:-54329}
DB=${TEST_DB:-crm_test}
MAKE=${MAKE:-make}

trap 'test/cluster.sh stop "$PORT"' EXIT
trap 'exit 130' INT TERM

env_lines=$(test/cluster.sh start "$PORT" "$DB") || { echo "run.sh: could not start the test cluster" >&2; exit 1; }
eval "$env_lines"

psql -X -q -v ON_ERROR_STOP=1 <<'SQL' || { echo "run.sh: could not prepare the test database" >&2; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
CREATE EXTENSION pgtap;
CREATE EXTENSION crm;
SQL

regress_passed=0 regress_failed=0 tap_passed=0 tap_failed=0

echo "== pg_regress: sql/ against expected/, and the isolation tester: specs/ against expected/"
rm -rf regression.diffs regression.out output_iso
regress_log=$(mktemp)
$MAKE -s installcheck PG_CONFIG="${PG_CONFIG:-pg_config}" TEST_DB="$DB" 2>&1 | tee "$regress_log"
regress_status=${PIPESTATUS[0]}
# pg_regress 15 prints one line per test: "test NAME ... ok" or "... FAILED"
regress_passed=$(grep -cE '^(test|     ) +[a-z0-9_]+ +\.\.\. ok' "$regress_log" || true)
regress_failed=$(grep -cE '^(test|     ) +[a-z0-9_]+ +\.\.\. (FAILED|failed)' "$regress_log" || true)
rm -f "$regress_log"
for diffs in regression.diffs output_iso/regression.diffs; do
	if [ -s "$diffs" ]; then
		echo "== $diffs"
		cat "$diffs"
	fi
done
# A run that failed without naming a test (a crash, a missing expected file) still counts as a failure.
if [ "$regress_status" -ne 0 ] && [ "$regress_failed" -eq 0 ]; then
	regress_failed=1
fi

echo "== pgTAP: test/*.sql test/postgrest/*.sql"
shopt -s nullglob
tap_files=(test/*.sql test/postgrest/*.sql)
shopt -u nullglob
tap_log=$(mktemp)
if [ ${#tap_files[@]} -gt 0 ]; then
	pg_prove --ext .sql "${tap_files[@]}" 2>&1 | tee "$tap_log"
	tap_status=${PIPESTATUS[0]}
else
	echo "no pgTAP files found" | tee "$tap_log"
	tap_status=1
fi
# pg_prove prints "ok" after each passing file and a summary "Files=N, Tests=M"; a failing file is
# listed under "Test Summary Report" with "Failed tests:" or a parse error (bad plan, died).
tap_files_ok=$(grep -cE '^test/[^ ]+ \.+ ok$' "$tap_log" || true)
tap_files_bad=$(( ${#tap_files[@]} - tap_files_ok ))
tap_tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$tap_log" | tail -1)
tap_tests=${tap_tests:-0}
tap_failed=$(sed -n 's/^Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$tap_log" | awk '{s += $1} END {print s + 0}')
rm -f "$tap_log"
if [ "$tap_status" -ne 0 ] && [ "$tap_failed" -eq 0 ]; then
	tap_failed=1   # a file died or had a bad plan: count it, whatever pg_prove's counts say
fi
tap_passed=$((tap_tests - tap_failed))
[ "$tap_passed" -lt 0 ] && tap_passed=0

# The clusters run in UTC (test/cluster.sh), and crm's days are UTC days. The same suite again in the
# sessions' timezone of each side of the date line: at any hour of the day, one of the two has a local
# date other than UTC's (Kiritimati is UTC+14, Pago Pago UTC-11), so code that mixes the session's
# current_date with UTC days fails here.
for tz in Pacific/Kiritimati Pacific/Pago_Pago; do
	echo "== pgTAP again with timezone = $tz"
	tz_log=$(mktemp)
	PGOPTIONS="${PGOPTIONS:-} -c timezone=$tz" pg_prove --ext .sql "${tap_files[@]}" 2>&1 | tee "$tz_log"
	tz_status=${PIPESTATUS[0]}
	tz_tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$tz_log" | tail -1)
	tz_failed=$(sed -n 's/^Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$tz_log" | awk '{s += $1} END {print s + 0}')
	rm -f "$tz_log"
	if [ "$tz_status" -ne 0 ] && [ "$tz_failed" -eq 0 ]; then
		tz_failed=1
	fi
	tap_failed=$((tap_failed + tz_failed))
	tap_passed=$((tap_passed + ${tz_tests:-0} - tz_failed))
done

# Checks that need more than one session or a client: pg_dump and restore (the extension's rows are kept,
# policies and config data restore cleanly), the events' notifications (a channel per tenant), a real
# pg_cron run, the job driver committing as it goes (failures, cancels, a killed run), the README's SQL
# blocks, every figure of the demo report recomputed from its CSV files, and the guarded DROP EXTENSION
# (last: it drops and recreates crm in the test database that the others use).
echo "== shell checks: test/dump_restore.sh, test/notify.sh, test/cron.sh, test/jobs.sh, test/readme.sh, test/demo_check.sh, test/drop_guard.sh"
shell_passed=0 shell_failed=0
dump_file=$(mktemp)
if test/dump_restore.sh "$dump_file"; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
rm -f "$dump_file"
if test/notify.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
if test/cron.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
if test/jobs.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
if test/readme.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
if test/demo_check.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi
if test/drop_guard.sh; then shell_passed=$((shell_passed + 1)); else shell_failed=$((shell_failed + 1)); fi

passed=$((regress_passed + tap_passed + shell_passed))
failed=$((regress_failed + tap_failed + shell_failed))
echo
echo "pg_regress: $regress_passed tests passed, $regress_failed failed"
echo "pgTAP: $tap_passed assertions passed, $tap_failed failed, in ${#tap_files[@]} files ($tap_files_bad not ok)"
echo "shell checks: $shell_passed passed, $shell_failed failed"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
