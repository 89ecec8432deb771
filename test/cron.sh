#!/usr/bin/env bash
# cron.sh: on the running test cluster (PG* variables; PGDATABASE is cron.database_name), crm's segment
# refresh and lead rescoring are scheduled every minute with crm.schedule_maintenance and pg_cron really
# runs them: the runs succeed (cron.job_run_details), the tenant's Enterprise segment gets its member,
# the job's run is logged in crm.job_runs, and the rescoring (CALL crm.run_job, crm.batch_size 1 for
# this database) committed batch by batch: three leads, three commits. Up to about 80 s (pg_cron starts
# jobs on the minute).
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
tenant=c1000000-0000-7000-8000-00000000000c
cleanup() {
	psql -X -q -c "SELECT crm.unschedule_maintenance()" -c "DELETE FROM crm.tenants WHERE id = '$tenant'" \
		-c "ALTER DATABASE $PGDATABASE RESET crm.batch_size" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SELECT crm.create_tenant('Cron', id => '$tenant') \g /dev/null
INSERT INTO crm.users (tenant_id, id, email, name) VALUES ('$tenant', 'c1000000-0000-7000-8000-0000000000c1', 'ops@cron.test', 'Ops');
INSERT INTO crm.accounts (tenant_id, name, employee_count, owner_id) VALUES
    ('$tenant', 'Big Co', 5000, 'c1000000-0000-7000-8000-0000000000c1'), ('$tenant', 'Small Co', 20, 'c1000000-0000-7000-8000-0000000000c1');
-- unscored leads, for the rescoring to score (SET LOCAL: on Citus, test/citus/jobs.sh, it reaches the workers too)
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO crm.leads (tenant_id, first_name, employee_count, owner_id)
SELECT '$tenant', 'Lead ' || i, 100 * i, 'c1000000-0000-7000-8000-0000000000c1' FROM generate_series(1, 3) i;
COMMIT;
ALTER DATABASE $PGDATABASE SET crm.batch_size = 1;
SELECT crm.schedule_maintenance(segments_cron => '* * * * *', scoring_cron => '* * * * *') \g /dev/null
SQL
status=""
deadline=$((SECONDS + 80))
while [ $SECONDS -lt $deadline ]; do
	status=$(psql -X -A -t -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid
	                           WHERE j.jobname = 'crm-segments' AND d.status IN ('succeeded', 'failed') ORDER BY d.runid DESC LIMIT 1")
	scoring=$(psql -X -A -t -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid
	                            WHERE j.jobname = 'crm-lead-rescoring' AND d.status IN ('succeeded', 'failed') ORDER BY d.runid DESC LIMIT 1")
	[ -n "$status" ] && [ -n "$scoring" ] && break
	sleep 2
done
members=$(psql -X -A -t -c "SELECT member_count FROM crm.segments WHERE tenant_id = '$tenant' AND name = 'Enterprise'")
logged=$(psql -X -A -t -c "SELECT count(*) FROM crm.job_runs WHERE tenant_id = '$tenant' AND job = 'refresh_segments'")
if [ "$status" != succeeded ] || [ "$members" != 1 ] || [ "$logged" -lt 1 ]; then
	echo "cron: expected a succeeded run of crm-segments that put Big Co in Enterprise; got status '${status:-none}', $members member(s), $logged logged run(s)"
	psql -X -c "SELECT d.status, d.return_message FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid WHERE j.jobname = 'crm-segments'" || true
	exit 1
fi
rescored=$(psql -X -A -t -c "SELECT concat_ws(' ', status, processed, changed, commits) FROM crm.job_runs WHERE tenant_id = '$tenant' AND job = 'rescore_leads' ORDER BY id LIMIT 1")
if [ "$scoring" != succeeded ] || [ "$rescored" != "succeeded 3 3 3" ]; then
	echo "cron: expected a succeeded run of crm-lead-rescoring that rescored 3 leads in 3 committed batches; got status '${scoring:-none}', run '$rescored'"
	psql -X -c "SELECT d.status, d.return_message FROM cron.job_run_details d JOIN cron.job j ON j.jobid = d.jobid WHERE j.jobname = 'crm-lead-rescoring'" || true
	exit 1
fi
echo "cron: ok, pg_cron ran crm-segments ($status after $SECONDS s): Enterprise has $members member, $logged run logged; crm-lead-rescoring committed its 3 batches one by one"
