#!/usr/bin/env bash
# jobs.sh (make test-citus): the batch jobs on a running Citus cluster, CALLed on their own as pg_cron
# calls them (committing batch by batch and tenant by tenant), for two tenants of their own on the two
# workers. Usage: jobs.sh PORT DB (the coordinator). Prints one "jobs: ok, ..." line per check passed
# and "jobs: FAIL ..." for each that failed; exits non-zero on a failure.
#   1. each job (rescore_leads, refresh_segments, rebuild_account_activity, rebuild_win_model,
#      refresh_health_scores, snapshot_forecast):
#      with citus.log_remote_commands, the coordinator sends each tenant's body call as one command, to
#      the tenant's node, and nothing of the body's own work (only the run's log, crm.job_runs);
#   2. crm.batch_size reaches the worker: three leads, batch size 1: three batches, each committed; two
#      accounts' health: three batches (the last finds no account after the second);
#   3. a tenant failing on its node is logged failed, the other tenant's run goes on and is committed;
#   4. a tenant whose job lock another session holds is skipped at once (55P03), the other is run;
#   5. a tenant whose rows another transaction holds locked fails after the caller's lock_timeout,
#      which goes with the body to the worker, and the other is run;
#   6. pg_cron on the coordinator runs the scheduled jobs (test/cron.sh, unchanged, on the cluster).
set -uo pipefail
cd "$(dirname "$0")/../.."
port=${1:?port} db=${2:?db}
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=$db
export PGOPTIONS='-c client_min_messages=warning'
J1=f1000000-0000-7000-8000-00000000000f
J2=f4000000-0000-7000-8000-00000000000f
status=0
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ok() { echo "jobs: ok, $*"; }
bad() { echo "jobs: FAIL $*"; status=1; }
holder=""
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'crm jobs.sh holder'" \
		-c "DELETE FROM crm.tenants WHERE id IN ('$J1', '$J2')" >/dev/null 2>&1
}
trap cleanup EXIT

q >/dev/null <<SQL || { bad "the fixture could not be written"; exit 1; }
DELETE FROM crm.tenants WHERE id IN ('$J1', '$J2');
SELECT crm.create_tenant('Jobs one', id => '$J1');
SELECT crm.create_tenant('Jobs two', id => '$J2');
INSERT INTO crm.users (tenant_id, id, email, name, role)
SELECT t, (left(t::text, 30) || '0000f1')::uuid, 'm@' || left(t::text, 2) || '.test', 'Manager', 'manager' FROM unnest(ARRAY['$J1', '$J2']::uuid[]) t;
INSERT INTO crm.accounts (tenant_id, id, name, employee_count, owner_id)
SELECT t, (left(t::text, 30) || '0000a' || i)::uuid, 'Account ' || i, 2000 * i - 1500, (left(t::text, 30) || '0000f1')::uuid
  FROM unnest(ARRAY['$J1', '$J2']::uuid[]) t, generate_series(1, 2) i;
INSERT INTO crm.contacts (tenant_id, id, first_name, account_id, owner_id)
SELECT t, (left(t::text, 30) || '0000b1')::uuid, 'Pat', (left(t::text, 30) || '0000a2')::uuid, (left(t::text, 30) || '0000f1')::uuid
  FROM unnest(ARRAY['$J1', '$J2']::uuid[]) t;
INSERT INTO crm.activities (tenant_id, type, outcome, occurred_at, contact_id, owner_id)
SELECT t, 'call', 'connected', '2026-03-01 10:00+00'::timestamptz + i * interval '1 day', (left(t::text, 30) || '0000b1')::uuid,
       (left(t::text, 30) || '0000f1')::uuid
  FROM unnest(ARRAY['$J1', '$J2']::uuid[]) t, generate_series(1, 2) i;
INSERT INTO crm.leads (tenant_id, id, first_name, employee_count, owner_id)
SELECT t, (left(t::text, 30) || '00010' || i)::uuid, 'Lead ' || i, 100 * i, (left(t::text, 30) || '0000f1')::uuid
  FROM unnest(ARRAY['$J1', '$J2']::uuid[]) t, generate_series(1, 3) i;
SQL
unscore() { # the leads' scores gone, without the triggers (SET LOCAL: Citus carries it to the workers)
	q -c "BEGIN" -c "SET LOCAL session_replication_role = replica" \
		-c "UPDATE crm.leads SET score = NULL, grade = NULL WHERE tenant_id IN ('$J1', '$J2')" -c "COMMIT" >/dev/null
}
node_of() {
	q -c "SELECT n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	      WHERE s.shardid = get_shard_id_for_distribution_column('crm.leads', '$1')"
}
n1=$(node_of "$J1") n2=$(node_of "$J2")
last_run() { # last_run JOB TENANT: status processed changed commits sqlstate of the tenant's latest run
	q -c "SELECT concat_ws(' ', status, processed, changed, commits, error_sqlstate) FROM crm.job_runs
	      WHERE tenant_id = '$2' AND job = '$1' ORDER BY id DESC LIMIT 1"
}

# 1 and 2: each delegated job, its commands watched
unscore
for job in rescore_leads refresh_segments rebuild_account_activity rebuild_win_model refresh_health_scores snapshot_forecast; do
	log=$(PGOPTIONS="$PGOPTIONS -c crm.batch_size=1 -c citus.log_remote_commands=on -c client_min_messages=notice" \
		psql -X -q -At -v ON_ERROR_STOP=1 -c "CALL crm.run_job('$job', NULL)" 2>&1)
	if printf '%s\n' "$log" | grep -q '^ERROR'; then
		bad "$job: the run failed: $(printf '%s\n' "$log" | grep -m1 -A2 '^ERROR')"; continue
	fi
	# the commands sent, each with the node it went to (NOTICE: issuing ..., then DETAIL: on server ...)
	sent=$(printf '%s\n' "$log" | awk '/^NOTICE:  issuing /{c=substr($0, 18); next} /^DETAIL:  on server /{if (c != "") {split($4, a, "@"); print a[2] "\t" c}; c=""}')
	calls=""
	for t in "$J1:$n1" "$J2:$n2"; do
		tenant=${t%%:*} port_t=${t##*:}
		here=$(printf '%s\n' "$sent" | grep -F "SELECT b FROM crm.${job}_tenant('$tenant'::uuid" | cut -f1 | sort | uniq -c | sed 's/^ *//')
		calls="$calls${calls:+, }${tenant:0:2}: ${here:-none}"
		[[ $here == *" 127.0.0.1:$port_t" ]] && [[ $here != *$'\n'* ]] || bad "$job: the body calls of tenant ${tenant:0:2} should all go to its node 127.0.0.1:$port_t, got '${here:-none}'"
	done
	# anything else sent: only the transaction's own commands and the run's log
	other=$(printf '%s\n' "$sent" | cut -f2- | grep -v -E "^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|PREPARE TRANSACTION|COMMIT PREPARED|SET LOCAL|SELECT assign_distributed_transaction_id|SELECT b FROM crm\.${job}_tenant\(|INSERT INTO crm\.job_runs_[0-9]+ |UPDATE crm\.job_runs_[0-9]+ |SELECT .* FROM crm\.(tenants|users)_[0-9]+ )" | cut -c1-120 | sort -u)
	if [ -n "$other" ]; then
		bad "$job: the coordinator sent more than the body calls and the log: $other"
	else
		ok "$job: each tenant's body call sent whole to its node ($calls), nothing else of the body"
	fi
done
[ "$(last_run rescore_leads "$J1")" = "succeeded 3 3 3" ] && [ "$(last_run rescore_leads "$J2")" = "succeeded 3 3 3" ] &&
	ok "crm.batch_size 1 reached the workers: each tenant's three leads rescored in three committed batches" ||
	bad "rescore_leads with crm.batch_size 1: expected 'succeeded 3 3 3' for both tenants, got '$(last_run rescore_leads "$J1")' and '$(last_run rescore_leads "$J2")'"
[ "$(last_run refresh_health_scores "$J1")" = "succeeded 2 2 2" ] && [ "$(last_run refresh_health_scores "$J2")" = "succeeded 2 2 2" ] &&
	ok "the health refresh in batches of 1 on the workers: each tenant's two accounts scored in two committed batches (and a third that found none)" ||
	bad "refresh_health_scores with crm.batch_size 1: expected 'succeeded 2 2 2' for both tenants, got '$(last_run refresh_health_scores "$J1")' and '$(last_run refresh_health_scores "$J2")'"

# 3. J1 fails on its node (a segment's criteria the refresh cannot use, written past its check)
q -c "BEGIN" -c "SET LOCAL session_replication_role = replica" \
	-c "UPDATE crm.segments SET criteria = '{\"field\": \"no_such_field\", \"op\": \"=\", \"value\": 1}' WHERE tenant_id = '$J1' AND name = 'SMB'" \
	-c "COMMIT" >/dev/null
q -c "DELETE FROM crm.segment_members WHERE tenant_id IN ('$J1', '$J2')" >/dev/null
result=$(q -c "CALL crm.run_job('refresh_segments', NULL)" 2>/dev/null)
members=$(q -c "SELECT count(*) FROM crm.segment_members WHERE tenant_id = '$J2'")
if [ "$(q -c "SELECT ('$result'::jsonb)->'failures'->0->>'tenant', ('$result'::jsonb)->>'failed'")" = "$J1|1" ] &&
	[ "$(last_run refresh_segments "$J1")" = "failed 0 0 0 22023" ] && [ "$(last_run refresh_segments "$J2" | cut -d' ' -f1)" = succeeded ] &&
	[ "$members" -gt 0 ]; then
	ok "a tenant failing on its node (22023) is logged failed; the other's refresh went on and committed ($members segment members)"
else
	bad "failure isolation: result $result; J1 '$(last_run refresh_segments "$J1")', J2 '$(last_run refresh_segments "$J2")', J2 members $members"
fi
q -c "BEGIN" -c "SET LOCAL session_replication_role = replica" \
	-c "UPDATE crm.segments SET criteria = '{\"field\": \"employee_count\", \"op\": \"<\", \"value\": 200}' WHERE tenant_id = '$J1' AND name = 'SMB'" -c "COMMIT" >/dev/null

# 4 and 5: every tenant rescored (CALL, PGOPTIONS plus $1) while a holder session keeps something of
# J1's; then the holder is stopped. Sets result and took (seconds).
rescore_while_held() {
	start=$SECONDS
	result=$(PGOPTIONS="$PGOPTIONS $1" q -c "CALL crm.run_job('rescore_leads', NULL)" 2>/dev/null)
	took=$((SECONDS - start))
	q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'crm jobs.sh holder'" >/dev/null
	wait "$holder" 2>/dev/null
	holder=""
}
# whether J1 failed with 55P03 in good time and J2 was rescored
j1_locked_out() {
	[ "$(q -c "SELECT ('$result'::jsonb)->'failures'->0->>'sqlstate', ('$result'::jsonb)->'failures'->0->>'tenant'")" = "55P03|$J1" ] &&
		[ "$(last_run rescore_leads "$J2")" = "succeeded 3 3 0" ] && [ "$took" -lt 20 ]
}

# 4. another session holds J1's rescoring lock: J1 is skipped at once, J2 is rescored
unscore
PGAPPNAME='crm jobs.sh holder' psql -X -q -At -c "SELECT crm.lock_job('rescore_leads', '$J1', true)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
	[ "$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'crm jobs.sh holder' AND l.locktype = 'advisory'")" = 1 ] && break
	sleep 0.2
done
rescore_while_held ""
if j1_locked_out; then
	ok "a tenant whose job lock another session holds is skipped at once (55P03); the other was rescored (${took}s)"
else
	bad "a locked job: result $result; J2 '$(last_run rescore_leads "$J2")', ${took}s"
fi

# 5. another transaction holds J1's leads (on J1's node): with a lock_timeout, J1 fails after it and J2
#    is rescored; the timeout is the caller's, carried to the worker with the body
unscore
PGAPPNAME='crm jobs.sh holder' psql -X -q -At -c "BEGIN" -c "SELECT count(*) FROM (SELECT 1 FROM crm.leads WHERE tenant_id = '$J1' FOR UPDATE) x" \
	-c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 2
rescore_while_held "-c lock_timeout=2s"
if j1_locked_out; then
	ok "a tenant whose rows another transaction locks fails after lock_timeout 2s on its node (55P03); the other was rescored (${took}s)"
else
	bad "locked rows: result $result; J1 '$(last_run rescore_leads "$J1")', J2 '$(last_run rescore_leads "$J2")', ${took}s"
fi
q -c "DELETE FROM crm.tenants WHERE id IN ('$J1', '$J2')" >/dev/null

# 6. pg_cron on the coordinator
if cron=$(test/cron.sh 2>&1); then
	ok "pg_cron on the coordinator: ${cron#cron: ok, }"
else
	bad "pg_cron: $cron"
fi
exit $status
