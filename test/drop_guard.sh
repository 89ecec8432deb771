#!/usr/bin/env bash
# drop_guard.sh: on the running test cluster (PG* variables; PGDATABASE is cron.database_name), every
# form of statement that drops the extension crm (plain, IF EXISTS, CASCADE, in a list, in a
# multi-statement string, by EXECUTE, inside functions, DROP SCHEMA crm CASCADE, DROP OWNED BY its
# owner, under session_replication_role = replica):
#   1. with tenants present, is refused: psql exits 1 with 2BP01 and the hint naming crm.allow_drop,
#      and the extension, its tenant and the other extension named with it are all still there;
#   2. with tenants present and crm.allow_drop = on, and with no tenants, drops crm;
# in fresh databases (copied from a template where crm was installed by a superuser of its own, so that
# DROP OWNED BY that role is one of the forms). Then 3. in PGDATABASE, where pg_cron lives, each form
# again after crm.schedule_maintenance(): refused, the four jobs stay; allowed, they go with crm.
# The allowed drops of each form run in a transaction that is rolled back after looking (so that one
# database serves them all, in a few seconds); a committed drop ends each part. crm is dropped and
# recreated in PGDATABASE, so this check runs after every other user of that database; it ends with crm
# installed there again as run.sh installed it (by the bootstrap superuser, no tenants, no jobs).
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
cd "$(dirname "$0")/.."
main_db=${PGDATABASE:?PGDATABASE must name the test database}
owner=crm_drop_owner
tpl_empty=crm_drop_tpl_empty tpl_tenants=crm_drop_tpl_tenants
tenant=d0000000-0000-7000-8000-00000000000d
jobs_sql="SELECT count(*) FROM cron.job WHERE jobname IN ('crm-health-scores', 'crm-segments', 'crm-lead-rescoring', 'crm-forecast-snapshot')"

# name | statement (one query string, as psql -c sends it)
forms=(
	"plain|DROP EXTENSION crm"
	"IF EXISTS|DROP EXTENSION IF EXISTS crm"
	"CASCADE|DROP EXTENSION crm CASCADE"
	"a list|DROP EXTENSION autoinc, crm"
	"IF EXISTS, a list, CASCADE|DROP EXTENSION IF EXISTS no_such_extension, crm CASCADE"
	"a multi-statement string|SELECT 1; DROP EXTENSION crm;"
	"EXECUTE in PL/pgSQL|DO \$\$BEGIN EXECUTE 'DROP EXTENSION crm'; END\$\$"
	"inside a PL/pgSQL function|SELECT public.crm_drop_plpgsql()"
	"inside a SQL function|SELECT public.crm_drop_sql()"
	"DROP SCHEMA crm CASCADE|DROP SCHEMA crm CASCADE"
	"DROP OWNED BY the owner|DROP OWNED BY $owner"
	"under session_replication_role = replica|SET session_replication_role = replica; DROP EXTENSION crm"
)

# What a drop test needs in a database: crm (owned by $owner), another extension, two functions that drop crm.
setup_sql="
CREATE EXTENSION crm;
CREATE EXTENSION autoinc;
CREATE FUNCTION public.crm_drop_plpgsql() RETURNS void LANGUAGE plpgsql AS \$f\$BEGIN DROP EXTENSION crm; END\$f\$;
CREATE FUNCTION public.crm_drop_sql() RETURNS void LANGUAGE sql AS 'DROP EXTENSION crm';"

cleanup() {
	# crm back in $main_db as run.sh installed it (by the bootstrap superuser, no jobs), whatever failed
	psql -X -q -d "$main_db" -c "SET crm.allow_drop = on" -c "SELECT crm.unschedule_maintenance()" \
		-c "DO \$\$BEGIN IF (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'crm') = '$owner' THEN DROP EXTENSION crm CASCADE; END IF; END\$\$" \
		-c "DO \$\$BEGIN IF (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'crm') = '$owner' THEN DROP SCHEMA crm CASCADE; END IF; END\$\$" \
		-c "DROP EXTENSION IF EXISTS autoinc" -c "DROP FUNCTION IF EXISTS public.crm_drop_plpgsql(), public.crm_drop_sql()" \
		-c "CREATE EXTENSION IF NOT EXISTS crm" >/dev/null 2>&1
	for db in $(psql -X -A -t -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'crm\_drop\_%'"); do
		psql -X -q -d postgres -c "DROP DATABASE $db" >/dev/null 2>&1 || true
	done
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $owner" >/dev/null 2>&1 || echo "drop_guard: could not drop role $owner" >&2
}
trap cleanup EXIT

failures=0 checks=0
check() { # what expected actual
	checks=$((checks + 1))
	if [ "$2" != "$3" ]; then
		failures=$((failures + 1))
		printf 'drop_guard: FAIL: %s\n    expected: %s\n    got:      %s\n' "$1" "$2" "$3"
	fi
}
# attempt DB STATEMENT [allow] [PROBE]: runs the statement as $owner in a new session, with
# crm.allow_drop = on in the connection's options if asked; sets rc and err (its stderr). With a PROBE
# query, the statement runs in a transaction that is rolled back after the probe: out is its result.
err_file=$(mktemp)
attempt() {
	local opts=$PGOPTIONS
	[ "${3:-}" = allow ] && opts="$opts -c crm.allow_drop=on"
	rc=0 out=""
	if [ -n "${4:-}" ]; then
		out=$(PGOPTIONS=$opts psql -X -q -A -t -d "$1" -U "$owner" -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
			-c BEGIN -c "$2" -c "SELECT 'probe=' || ($4)" -c ROLLBACK 2>"$err_file") || rc=$?
		out=$(sed -n 's/^probe=//p' <<<"$out")
	else
		PGOPTIONS=$opts psql -X -q -d "$1" -U "$owner" -v VERBOSITY=verbose -c "$2" >/dev/null 2>"$err_file" || rc=$?
	fi
	err=$(cat "$err_file")
}
state() { # DB: the extensions there and crm's tenants
	psql -X -A -t -d "$1" -c "SELECT string_agg(extname, ',' ORDER BY extname) || ' tenants=' ||
	                              coalesce((SELECT count(*)::text FROM crm.tenants), '-') FROM pg_extension" 2>/dev/null ||
	psql -X -A -t -d "$1" -c "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension"
}
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
crm_sql="SELECT count(*) FROM pg_extension WHERE extname = 'crm'"
refusal="ERROR:  2BP01: cannot drop extension crm while it holds tenants"
hint="HINT:  Set crm.allow_drop = on (a superuser's setting) to drop it anyway."
refused_as_expected() { # what: the last attempt exited 1 with crm's refusal and hint
	check "$1: exit status" 1 "$rc"
	check "$1: error" "$refusal" "$(grep -m1 '^ERROR:' <<<"$err" || true)"
	check "$1: hint" "$hint" "$(grep -m1 '^HINT:' <<<"$err" || true)"
}
allowed_as_expected() { # what expected-probe: the last attempt succeeded, and its probe saw that
	check "$1: exit status" 0 "$rc"
	check "$1: no error" "" "$err"
	check "$1: inside its transaction" "$2" "$out"
}

sql -d postgres -c "CREATE ROLE $owner SUPERUSER LOGIN" -c "CREATE DATABASE $tpl_empty"
sql -d "$tpl_empty" -U "$owner" -c "SET client_min_messages = warning" -c "$setup_sql"
sql -d postgres -c "CREATE DATABASE $tpl_tenants TEMPLATE $tpl_empty STRATEGY FILE_COPY"
sql -d "$tpl_tenants" -c "SELECT crm.create_tenant('Drop', id => '$tenant')" >/dev/null
fresh_db() { # NAME TEMPLATE
	sql -d postgres -c "CREATE DATABASE $1 TEMPLATE $2 STRATEGY FILE_COPY"
}

# 1. Tenants present: every form refused, nothing changed (each attempt is a session of its own, in a
#    fresh database; the state is checked after each).
fresh_db crm_drop_refused "$tpl_tenants"
before=$(state crm_drop_refused)
check "the refusal database before the drops" "autoinc,crm,plpgsql tenants=1" "$before"
for form in "${forms[@]}"; do
	name=${form%%|*} stmt=${form#*|}
	attempt crm_drop_refused "$stmt"
	refused_as_expected "tenants present, $name"
	check "tenants present, $name: everything still there" "$before" "$(state crm_drop_refused)"
done
# the trigger function is executable by no one (event triggers do not check EXECUTE), and the trigger
# fires in every session_replication_role
check "crm.drop_guard(): EXECUTE for no role but its owner, trigger enabled always" "f|f|A" \
	"$(sql -d crm_drop_refused -c "SELECT has_function_privilege('crm_admin', 'crm.drop_guard()', 'EXECUTE'),
	                                      coalesce(aclcontains(p.proacl, makeaclitem(0, p.proowner, 'EXECUTE', false)), true),
	                                      (SELECT evtenabled FROM pg_event_trigger WHERE evtname = 'crm_drop_guard')
	                                 FROM pg_proc p WHERE p.oid = 'crm.drop_guard()'::regprocedure")"
# crm.allow_drop is a superuser's setting, off by default; a non-superuser's SET is refused once crm's
# library is loaded, and discarded (with a warning) when the library loads after it.
rc=0
err=$(psql -X -q -d crm_drop_refused -v VERBOSITY=verbose -c "SELECT crm.uuid_v7()" -c "SET ROLE crm_admin" \
	-c "SET crm.allow_drop = on" 2>&1 >/dev/null) || rc=$?
check "a non-superuser sets crm.allow_drop: refused" "1 ERROR:  42501: permission denied to set parameter \"crm.allow_drop\"" "$rc $(grep -m1 '^ERROR:' <<<"$err" || true)"
check "crm.allow_drop defaults to off" off "$(psql -X -A -t -d crm_drop_refused -c 'SELECT crm.uuid_v7()' -c 'SHOW crm.allow_drop' | tail -1)"
attempt crm_drop_refused "SET ROLE crm_admin; SET crm.allow_drop = on; RESET ROLE; DROP EXTENSION crm"
refused_as_expected "crm.allow_drop set by a non-superuser before crm's library loads"
check "    everything still there" "$before" "$(state crm_drop_refused)"

# 2. Tenants present and crm.allow_drop = on; no tenants: every form drops crm (rolled back after
#    looking, so that the next form finds it again: one that does not would fail, "does not exist"),
#    then a committed DROP EXTENSION crm.
for case in allowed empty; do
	db=crm_drop_$case
	if [ $case = allowed ]; then fresh_db $db "$tpl_tenants"; mode=allow what="crm.allow_drop = on"
	else fresh_db $db "$tpl_empty"; mode="" what="no tenants"; fi
	before=$(state $db)
	for form in "${forms[@]}"; do
		name=${form%%|*} stmt=${form#*|}
		attempt $db "$stmt" "$mode" "$crm_sql"
		allowed_as_expected "$what, $name: crm dropped" 0
	done
	check "$what: after the rollbacks, crm is back" "$before" "$(state $db)"
	attempt $db "DROP EXTENSION crm" "$mode"
	check "$what, committed DROP EXTENSION crm: exit status" "0 " "$rc $err"
	check "$what, committed DROP EXTENSION crm: crm is gone" 0 "$(sql -d $db -c "$crm_sql")"
done

# 3. pg_cron lives only in $main_db. First run.sh's crm goes, by a committed drop that takes the jobs:
sql -d "$main_db" -c "SELECT crm.schedule_maintenance()" >/dev/null
check "$main_db: crm.schedule_maintenance() made the four jobs" 4 "$(sql -d "$main_db" -c "$jobs_sql")"
attempt "$main_db" "DROP EXTENSION crm CASCADE" allow
check "$main_db, committed DROP EXTENSION crm CASCADE: exit status" "0 " "$rc $err"
check "$main_db, committed DROP EXTENSION crm CASCADE: crm and its jobs are gone" "0 0" \
	"$(sql -d "$main_db" -c "$crm_sql" -c "$jobs_sql" | paste -sd ' ')"
# then crm as $owner, with a tenant and the jobs: each form refused keeps the jobs; allowed, it takes them
# (and a rollback brings them back). DROP EXTENSION leaves the schema that CREATE EXTENSION made.
sql -d "$main_db" -U "$owner" -c "SET client_min_messages = warning" -c "DROP SCHEMA crm" -c "$setup_sql" \
	-c "SELECT crm.create_tenant('Drop', id => '$tenant')" -c "SELECT crm.schedule_maintenance()" >/dev/null
for form in "${forms[@]}"; do
	name=${form%%|*} stmt=${form#*|}
	attempt "$main_db" "$stmt"
	refused_as_expected "$main_db, tenants present, $name"
	check "$main_db, refused $name: the four jobs stay" 4 "$(sql -d "$main_db" -c "$jobs_sql")"
	attempt "$main_db" "$stmt" allow "($crm_sql) || ' ' || ($jobs_sql)"
	allowed_as_expected "$main_db, crm.allow_drop = on, $name: crm and its jobs gone" "0 0"
	check "$main_db, after the rollback: the four jobs are back" 4 "$(sql -d "$main_db" -c "$jobs_sql")"
done
attempt "$main_db" "DROP EXTENSION crm" allow
check "$main_db, committed DROP EXTENSION crm with crm.allow_drop = on: crm and its jobs are gone" "0  0 0" \
	"$rc $err $(sql -d "$main_db" -c "$crm_sql" -c "$jobs_sql" | paste -sd ' ')"
# last, crm again as run.sh installed it, and a drop without tenants (committed) takes the jobs too
sql -d "$main_db" -c "SET client_min_messages = warning" -c "DROP EXTENSION autoinc" \
	-c "DROP FUNCTION public.crm_drop_plpgsql(), public.crm_drop_sql()" -c "DROP SCHEMA crm" -c "CREATE EXTENSION crm" \
	-c "SELECT crm.schedule_maintenance()" >/dev/null
psql -X -q -d "$main_db" -v VERBOSITY=verbose -c "DROP EXTENSION crm" >/dev/null 2>"$err_file" && rc=0 || rc=$?
check "$main_db, committed DROP EXTENSION crm without tenants: crm and its jobs are gone" "0  0 0" \
	"$rc $(cat "$err_file") $(sql -d "$main_db" -c "$crm_sql" -c "$jobs_sql" | paste -sd ' ')"
sql -d "$main_db" -c "SET client_min_messages = warning" -c "CREATE EXTENSION crm"
check "$main_db ends with crm and its schema owned by the bootstrap superuser, and without jobs" "1|1|0" \
	"$(sql -d "$main_db" -c "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'crm' AND extowner = 10),
	                              (SELECT count(*) FROM pg_namespace WHERE nspname = 'crm' AND nspowner = 10), ($jobs_sql)")"
rm -f "$err_file"

if [ "$failures" -ne 0 ]; then
	echo "drop_guard: $failures of $checks checks failed"
	exit 1
fi
echo "drop_guard: ok, $checks checks: ${#forms[@]} forms of dropping crm refused with tenants (2BP01), dropping it with crm.allow_drop = on or without tenants, and an allowed drop takes crm's pg_cron jobs"
