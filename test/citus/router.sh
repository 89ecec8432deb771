#!/usr/bin/env bash
# router.sh (make test-citus): every query a tenant's call runs is a single-shard (router) query. Each
# call runs with auto_explain logging the plan of every statement it executes (nested ones included) to
# the client; every "Task Count" must be 1. Usage: router.sh PORT DB (the coordinator; the demo data is
# loaded). Prints "router: ok, ..." or what fanned out, and exits non-zero on a failure.
set -uo pipefail
port=${1:?port} db=${2:?db}
acme=$(psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "SELECT md5('crm demo:tenant:acme')::uuid")
admin=$(psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "SELECT md5('crm demo:user:acme:1')::uuid")
status=0
check() { # check LABEL SQL
	local label=$1 sql=$2 log counts
	log=$(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 2>&1 <<SQL
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
BEGIN;
SET LOCAL ROLE crm_admin;
SELECT crm.set_context('$acme', '$admin');
SET LOCAL client_min_messages = notice;
$sql;
ROLLBACK;
SQL
)
	if printf '%s\n' "$log" | grep -q '^ERROR'; then
		echo "router: $label failed:"; printf '%s\n' "$log" | grep -A3 '^ERROR'
		status=1; return
	fi
	counts=$(printf '%s\n' "$log" | sed -n 's/.*Task Count: \([0-9]*\).*/\1/p' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
	if [ -z "$counts" ]; then
		echo "router: $label ran no distributed query (no Task Count in its plans)"; status=1
	elif printf '%s\n' "$log" | sed -n 's/.*Task Count: \([0-9]*\).*/\1/p' | grep -qv '^1$'; then
		echo "router: $label fanned out: task counts (how many plans had each):$counts"; status=1
	else
		echo "router: ok, $label: every query a single task ($counts plans)"
	fi
}
check "crm.dashboard()" "SELECT crm.dashboard()"
check "a list (crm_api.leads, PostgREST-shaped)" "SELECT * FROM crm_api.leads ORDER BY updated_at DESC LIMIT 50"
check "an action (crm.log_activity)" "SELECT crm.log_activity('call', lead_id => (SELECT id FROM crm.leads ORDER BY id LIMIT 1), subject => 'router check')"
exit $status
