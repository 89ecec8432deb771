#!/usr/bin/env bash
# dump_restore.sh FILE: on the running test cluster (PG* variables), install crm in a fresh database,
# load the demo data, pg_dump it to FILE, restore into another fresh database and compare every crm
# table's rows and the policies. Exits non-zero on any difference or restore error.
#
# The restore runs as the README says: with session_replication_role = replica, so that crm's triggers
# (which derive rows: a contact's primary email, and later audit rows and events) do not fire a second
# time while the dumped rows are copied back.
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
cd "$(dirname "$0")/.."
file=${1:?dump file}
src=crm_dump_src dst=crm_dump_dst

for db in "$src" "$dst"; do
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
psql -X -q -d "$src" -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION crm'
psql -X -q -d "$src" -v ON_ERROR_STOP=1 -f test/demo/data.sql >/dev/null
# pg_dump warns about the circular foreign keys (accounts' parents, leads <-> opportunities); they only
# matter to data-only dumps. Its messages are shown when it fails.
dump_log=$(mktemp)
pg_dump -Fc -d "$src" -f "$file" 2>"$dump_log" || { cat "$dump_log" >&2; rm -f "$dump_log"; exit 1; }
rm -f "$dump_log"
PGOPTIONS="$PGOPTIONS -c session_replication_role=replica" pg_restore --exit-on-error -d "$dst" "$file"

# A fingerprint of every crm table's rows, and of the policies on them.
fingerprint() {
	psql -X -A -t -d "$1" -v ON_ERROR_STOP=1 <<'SQL'
SELECT string_agg(format('%s:%s', c.relname,
           (xpath('/row/f/text()', query_to_xml(format('SELECT count(*) || %L || coalesce(md5(string_agg(t::text, %L ORDER BY t::text)), %L) AS f FROM crm.%I t', ':', ';', '', c.relname), false, true, '')))[1]::text),
       ' ' ORDER BY c.relname)
FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r';
SELECT string_agg(format('%s.%s', polrelid::regclass, polname), ' ' ORDER BY polrelid::regclass::text, polname) FROM pg_policy;
SQL
}
a=$(fingerprint "$src")
b=$(fingerprint "$dst")
for db in "$src" "$dst"; do psql -X -q -d postgres -c "DROP DATABASE $db"; done
if [ "$a" != "$b" ]; then
	echo "dump_restore: the restored database differs"
	echo "source:   $a"
	echo "restored: $b"
	exit 1
fi
echo "dump_restore: ok, $(echo "$a" | head -1 | wc -w) tables ($(echo "$a" | head -1 | tr " " "\n" | cut -d: -f1,2 | tr "\n" " ")) and their policies identical after pg_dump | pg_restore"
