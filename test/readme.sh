#!/usr/bin/env bash
# readme.sh: on the running test cluster (PG* variables), every ```sql block of README.md runs, in order,
# exactly as a reader would paste it into psql: in a fresh database with the demo data of `make demo`
# (test/demo/data.sql), as the superuser `make demo` connects as, stopping at the first error.
set -euo pipefail
cd "$(dirname "$0")/.."
export PGOPTIONS='-c client_min_messages=warning'
db=crm_readme
script=$(mktemp)
log=$(mktemp)
trap 'rm -f "$script" "$log"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
# the logins the README creates, gone from an earlier run on the same cluster
psql -X -q -d postgres -c 'DROP ROLE IF EXISTS app_user, back_office, authenticator'
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION crm' >/dev/null
psql -X -q -d "$db" -v ON_ERROR_STOP=1 -f test/demo/data.sql >/dev/null
# the blocks as they stand, each introduced by a comment naming its line in README.md
awk '/^```sql$/ { inside = 1; printf "\\echo README.md line %d\n", NR; next }
     /^```$/     { inside = 0; next }
     inside      { print }' README.md >"$script"
blocks=$(grep -c '^\\echo README.md line' "$script")
if ! psql -X -d "$db" -v ON_ERROR_STOP=1 -f "$script" >"$log" 2>&1; then
	echo "readme: a SQL block of README.md fails as pasted:"
	tail -n 30 "$log"
	exit 1
fi
if [ "$blocks" -lt 8 ]; then
	echo "readme: expected the README's SQL blocks, found $blocks"
	exit 1
fi
echo "readme: ok, all $blocks SQL blocks of README.md ran as pasted against the demo data"
