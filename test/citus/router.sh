#!/usr/bin/env bash
# router.sh (make test-citus): a tenant's calls stay on the tenant's node. Each call runs with
# citus.log_remote_commands, which names the node of every command the coordinator sends, its nested
# statements' included; every one must go to the same node, the one holding the tenant's shards (a
# query on every shard would reach both workers). Usage: router.sh PORT DB (the coordinator, with the
# demo data loaded). Prints "router: ok, ..." or what went elsewhere; exits non-zero on a failure.
set -uo pipefail
port=${1:?port} db=${2:?db}
q() { psql -X -A -t -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "$1"; }
acme=$(q "SELECT md5('crm demo:tenant:acme')::uuid")
admin=$(q "SELECT md5('crm demo:user:acme:1')::uuid")
lead=$(q "SELECT id FROM crm.leads WHERE tenant_id = '$acme' ORDER BY id LIMIT 1")
node=$(q "SELECT n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
          WHERE s.shardid = get_shard_id_for_distribution_column('crm.leads', '$acme')")
status=0
check() { # check LABEL SQL
	local label=$1 sql=$2 log servers n
	log=$(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" -v ON_ERROR_STOP=1 2>&1 <<SQL
BEGIN;
SET LOCAL ROLE crm_admin;
SELECT crm.set_context('$acme', '$admin');
SET LOCAL citus.log_remote_commands = on;
$sql;
ROLLBACK;
SQL
)
	if printf '%s\n' "$log" | grep -q '^ERROR'; then
		echo "router: $label failed:"; printf '%s\n' "$log" | grep -A3 '^ERROR'
		status=1; return
	fi
	servers=$(printf '%s\n' "$log" | sed -n 's/^DETAIL:  on server [^@]*@\([^ ]*\) connectionId.*/\1/p' | sort -u | tr '\n' ' ')
	n=$(printf '%s\n' "$log" | grep -c '^NOTICE:  issuing')
	if [ "$servers" = "127.0.0.1:$node " ]; then
		echo "router: ok, $label: $n commands, all to the tenant's node (127.0.0.1:$node)"
	else
		echo "router: $label went to [${servers}] (the tenant's node is 127.0.0.1:$node), $n commands"; status=1
	fi
}
check "crm.dashboard()" "SELECT crm.dashboard()"
check "a list (crm_api.leads, PostgREST-shaped)" "SELECT * FROM crm_api.leads ORDER BY updated_at DESC LIMIT 50"
check "an action (crm.log_activity)" "SELECT crm.log_activity('call', lead_id => '$lead', subject => 'router check')"
exit $status
