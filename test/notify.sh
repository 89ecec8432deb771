#!/usr/bin/env bash
# notify.sh: on the running test cluster (PG* variables), a committed business event is announced on its
# tenant's own channel (crm.tenants.events_channel) with the event's id as payload; a listener of
# another tenant's channel, or of the old shared channel crm_events, hears nothing of it.
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
db=crm_notify
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db"' EXIT
psql -X -q -d "$db" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION crm;
SELECT crm.create_tenant('Notify', id => 'd0000000-0000-7000-8000-00000000000d');
SELECT crm.create_tenant('Other', id => 'e0000000-0000-7000-8000-00000000000e');
INSERT INTO crm.users (tenant_id, id, email, name) VALUES
    ('d0000000-0000-7000-8000-00000000000d', 'd0000000-0000-7000-8000-0000000000d1', 'n@notify.test', 'N'),
    ('e0000000-0000-7000-8000-00000000000e', 'e0000000-0000-7000-8000-0000000000e1', 'o@other.test', 'O');
SQL
channel() {
	psql -X -q -At -d "$db" -c "SELECT events_channel FROM crm.tenants WHERE id = '$1'"
}
mine=$(channel d0000000-0000-7000-8000-00000000000d)
theirs=$(channel e0000000-0000-7000-8000-00000000000e)
if [ "$mine" = "$theirs" ] || ! [[ $mine =~ ^crm_events_[0-9a-f]{32}$ ]]; then
	echo "notify: expected two distinct secret channels, got '$mine' and '$theirs'"
	exit 1
fi

# A rep of tenant E, with its own context, learns its channel through RLS, and no other.
rep_view=$(psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL ROLE crm_rep;
SELECT crm.set_context('e0000000-0000-7000-8000-00000000000e', 'e0000000-0000-7000-8000-0000000000e1');
SELECT count(*) || ' ' || string_agg(events_channel, ',') FROM crm.tenants;
COMMIT;
SQL
)
rep_view=$(printf '%s\n' "$rep_view" | tail -1)
if [ "$rep_view" != "1 $theirs" ]; then
	echo "notify: a rep of tenant E should read its own channel only, read '$rep_view'"
	exit 1
fi

# One session listens on the three channels, then writes a lead of tenant D: only D's channel speaks.
out=$(psql -X -q -d "$db" -v ON_ERROR_STOP=1 <<SQL 2>&1
LISTEN crm_events;
LISTEN $theirs;
LISTEN $mine;
INSERT INTO crm.leads (tenant_id, company, owner_id) VALUES ('d0000000-0000-7000-8000-00000000000d', 'Notified Inc', 'd0000000-0000-7000-8000-0000000000d1');
SELECT 'event ' || id FROM crm.events WHERE type = 'lead.created';
SQL
)
heard=$(printf '%s\n' "$out" | sed -n 's/^Asynchronous notification "\([^"]*\)" with payload "\([^"]*\)" received.*/\1 \2/p')
event=$(printf '%s\n' "$out" | sed -n 's/^ *event \(.*\)$/\1/p')
if [ -z "$event" ] || [ "$heard" != "$mine $event" ]; then
	echo "notify: expected exactly one notification, on $mine with payload $event; psql said:"
	printf '%s\n' "$out"
	exit 1
fi
echo "notify: ok, tenant D's event $event announced on its own channel only (not on $theirs nor crm_events)"
