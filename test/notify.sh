#!/usr/bin/env bash
# notify.sh: on the running test cluster (PG* variables), a committed business event is announced on
# channel crm_events with payload '<tenant_id>:<event id>', and that id is the event's row in crm.events.
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
db=crm_notify
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT
out=$(psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<'SQL' 2>&1
CREATE EXTENSION crm;
SELECT crm.create_tenant('Notify', id => 'd0000000-0000-7000-8000-00000000000d') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name) VALUES ('d0000000-0000-7000-8000-00000000000d', 'd0000000-0000-7000-8000-0000000000d1', 'n@notify.test', 'N');
LISTEN crm_events;
INSERT INTO crm.leads (tenant_id, company, owner_id) VALUES ('d0000000-0000-7000-8000-00000000000d', 'Notified Inc', 'd0000000-0000-7000-8000-0000000000d1');
SELECT 'event ' || tenant_id || ':' || id FROM crm.events WHERE type = 'lead.created';
SQL
)
payload=$(printf '%s\n' "$out" | sed -n 's/^Asynchronous notification "crm_events" with payload "\([^"]*\)" received.*/\1/p')
event=$(printf '%s\n' "$out" | sed -n 's/^ *event \(.*\)$/\1/p')
if [ -z "$payload" ] || [ "$payload" != "$event" ]; then
	echo "notify: expected a crm_events notification naming the event; psql said:"
	printf '%s\n' "$out"
	exit 1
fi
echo "notify: ok, crm_events announced $payload"
