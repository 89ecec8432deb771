#!/usr/bin/env bash
# jobs.sh: on the running test cluster (PG* variables), in a database of its own (so that a run for every
# tenant sees only these two), the job driver CALLed on its own, committing as it goes (test/jobs.sql
# tests it in one transaction, specs/run_job.spec a rep's edit that does not wait):
#   1. a run for every tenant in which tenant A fails in its second batch: A's first batch stays
#      committed and A's run is logged failed with it, tenant B is rescored and logged, the result
#      names A, and A's lock is released;
#   2. a run for A alone raises the error, and its failure is still logged (committed before the raise);
#   3. a run cancelled while it waits (statement_timeout) stops with 57014, logged, its lock released;
#   4. a run whose role was set for the transaction only stops at its first commit (42501), its lock
#      released;
#   5. a run whose session is terminated leaves its row running and no lock; the next run marks it failed.
set -euo pipefail
export PGOPTIONS='-c client_min_messages=warning'
db=crm_jobs
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
cleanup() {
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" \
		-c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
A=a1000000-0000-7000-8000-00000000000a
B=b1000000-0000-7000-8000-00000000000b
q() { psql -X -q -At -d "$db" -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "jobs: $*"; exit 1; }

q >/dev/null <<SQL
CREATE EXTENSION crm;
SELECT crm.create_tenant('A', id => '$A');
SELECT crm.create_tenant('B', id => '$B');
INSERT INTO crm.users (tenant_id, id, email, name, role) VALUES
    ('$A', 'a1000000-0000-7000-8000-0000000000a1', 'm@a.test', 'Manager A', 'manager'),
    ('$B', 'b1000000-0000-7000-8000-0000000000b1', 'm@b.test', 'Manager B', 'manager');
SET session_replication_role = replica;
INSERT INTO crm.leads (tenant_id, id, first_name, employee_count, owner_id)
SELECT t, (left(t::text, 30) || lpad(i::text, 6, '0'))::uuid, 'Lead ' || i, 100 * i, u
  FROM (VALUES ('$A'::uuid, 'a1000000-0000-7000-8000-0000000000a1'::uuid), ('$B', 'b1000000-0000-7000-8000-0000000000b1')) x(t, u),
       generate_series(1, 3) i;
-- the second lead of A cannot be written: a failure in A's second batch
CREATE FUNCTION public.fail_lead() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    RAISE EXCEPTION 'lead % refused', NEW.first_name USING ERRCODE = 'CRM02';
END \$\$;
CREATE TRIGGER fail_lead BEFORE UPDATE ON crm.leads FOR EACH ROW WHEN (NEW.id = 'a1000000-0000-7000-8000-000000000002')
    EXECUTE FUNCTION public.fail_lead();
-- how a run of tenant A's rescoring was last logged, and whether any session holds its lock
CREATE FUNCTION public.last_run(t uuid) RETURNS text LANGUAGE sql AS \$\$
    SELECT concat_ws(' ', r.status, r.processed, r.commits, r.error_sqlstate, r.error_message) FROM crm.job_runs r
     WHERE r.tenant_id = t AND r.job = 'rescore_leads' ORDER BY r.id DESC LIMIT 1 \$\$;
CREATE FUNCTION public.locked(t uuid) RETURNS boolean LANGUAGE sql AS \$\$
    SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 2
                      AND l.classid = hashtext('crm job rescore_leads')::oid AND l.objid = hashtext(t::text)::oid) \$\$;
CREATE FUNCTION public.scored(t uuid) RETURNS text LANGUAGE sql AS \$\$
    SELECT string_agg(CASE WHEN l.score IS NULL THEN '-' ELSE 's' END, '' ORDER BY l.id) FROM crm.leads l WHERE l.tenant_id = t \$\$;
CREATE FUNCTION public.unscore() RETURNS void LANGUAGE sql AS \$\$
    SET LOCAL session_replication_role = replica;
    UPDATE crm.leads SET score = NULL, grade = NULL;
\$\$;
SQL
run() { PGOPTIONS="$PGOPTIONS -c crm.batch_size=1 ${EXTRA:-}" psql -X -q -At -d "$db" "$@"; }

# 1. every tenant, A failing in its second batch
result=$(run -v ON_ERROR_STOP=1 -c "CALL crm.run_job('rescore_leads', NULL)" 2>/dev/null)
[ "$(q -c "SELECT ('$result'::jsonb)->>'failed', ('$result'::jsonb)->'failures'->0->>'tenant', ('$result'::jsonb)->>'tenants'")" = "1|$A|2" ] ||
	fail "1: expected 1 of 2 tenants failed (A), got $result"
[ "$(q -c "SELECT last_run('$A')")" = "failed 1 1 CRM02 lead Lead 2 refused" ] ||
	fail "1: A's run should be failed with its committed first batch (1 processed, 1 commit), got '$(q -c "SELECT last_run('$A')")'"
[ "$(q -c "SELECT scored('$A') || ' ' || scored('$B')")" = "s-- sss" ] ||
	fail "1: A's first lead (committed) and all of B's should be scored, got $(q -c "SELECT scored('$A') || ' ' || scored('$B')")"
[ "$(q -c "SELECT last_run('$B')")" = "succeeded 3 3" ] || fail "1: B's run should be succeeded after 3 committed batches, got '$(q -c "SELECT last_run('$B')")'"
[ "$(q -c "SELECT locked('$A') OR locked('$B')")" = f ] || fail "1: the run left a lock behind"
echo "jobs: 1 ok, a run for every tenant: A failed in its 2nd batch (its 1st committed and logged), B rescored, no lock left"

# 2. A alone: the error is raised, and logged all the same
q -c "SELECT unscore()" >/dev/null
if err=$(run -v ON_ERROR_STOP=1 -c "CALL crm.run_job('rescore_leads', '$A')" 2>&1); then
	fail "2: a run for A alone should raise its error"
fi
[[ $err == *"lead Lead 2 refused"* ]] || fail "2: expected the run's error, got: $err"
[ "$(q -c "SELECT last_run('$A') || ' ' || scored('$A') || ' ' || locked('$A')")" = "failed 1 1 CRM02 lead Lead 2 refused s-- false" ] ||
	fail "2: the failure should be logged and committed with the first batch, got '$(q -c "SELECT last_run('$A') || ' ' || scored('$A')")'"
echo "jobs: 2 ok, a run for one tenant raises its error (CRM02) after committing its log"
q -c "DROP TRIGGER fail_lead ON crm.leads" -c "SELECT unscore()" >/dev/null

# a session that holds the third lead of A, so that a run waits in its third batch
hold() {
	PGAPPNAME=jobs_holder psql -X -q -d "$db" -c "BEGIN" -c "SELECT 1 FROM crm.leads WHERE id = 'a1000000-0000-7000-8000-000000000003' FOR UPDATE" \
		-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	for _ in $(seq 100); do
		[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobs_holder' AND state = 'active' AND query LIKE '%pg_sleep%'")" = 1 ] && return
		sleep 0.1
	done
	fail "the holder did not start"
}
release() { q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ('jobs_holder', 'jobs_runner')" >/dev/null; sleep 0.3; }
wait_blocked() {
	for _ in $(seq 100); do
		[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'jobs_runner' AND wait_event_type = 'Lock'")" = 1 ] && return
		sleep 0.1
	done
	fail "$1: the run did not wait for the held lead"
}

# 3. cancelled while it waits
hold
if err=$(EXTRA="-c statement_timeout=2000" PGAPPNAME=jobs_runner run -v ON_ERROR_STOP=1 -c "CALL crm.run_job('rescore_leads', '$A')" 2>&1); then
	fail "3: a cancelled run should raise 57014"
fi
release
[[ $err == *"canceling statement due to statement timeout"* ]] || fail "3: expected the cancel, got: $err"
[ "$(q -c "SELECT last_run('$A') || ' ' || scored('$A') || ' ' || locked('$A')")" = "failed 2 2 57014 canceling statement due to statement timeout ss- false" ] ||
	fail "3: expected the cancel logged after two committed batches, got '$(q -c "SELECT last_run('$A') || ' ' || scored('$A') || ' ' || locked('$A')")'"
echo "jobs: 3 ok, a cancelled run stops (57014) with its two committed batches logged, and its lock released"
q -c "SELECT unscore()" >/dev/null

# 4. a role set for the transaction only does not outlast the first commit
if err=$(run -v ON_ERROR_STOP=1 -c "DO \$\$ DECLARE r jsonb; BEGIN
            PERFORM set_config('role', 'crm_manager', true);
            PERFORM crm.set_context('$A', 'a1000000-0000-7000-8000-0000000000a1');
            CALL crm.run_job('rescore_leads', result => r);
        END \$\$" 2>&1); then
	fail "4: a run whose role ends with its transaction should stop"
fi
[[ $err == *"permission denied: the role or tenant context that started job rescore_leads changed while it ran"* ]] ||
	fail "4: expected 42501 for the changed role, got: $err"
[ "$(q -c "SELECT scored('$A') || ' ' || locked('$A')")" = "s-- false" ] || fail "4: expected one batch committed and no lock, got $(q -c "SELECT scored('$A') || ' ' || locked('$A')")"
echo "jobs: 4 ok, a run whose role was SET LOCAL stops at its first commit (42501), lock released"

# 5. terminated while it waits: its row stays running, its lock goes with the session, the next run marks it
q -c "SELECT unscore()" >/dev/null
hold
(PGAPPNAME=jobs_runner run -c "CALL crm.run_job('rescore_leads', '$A')" >/dev/null 2>&1 || true) &
wait_blocked 5
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'jobs_runner'" >/dev/null
sleep 0.3
[ "$(q -c "SELECT last_run('$A') || ' ' || locked('$A')")" = "running 2 2 false" ] ||
	fail "5: a terminated run should leave its row running (2 batches) and no lock, got '$(q -c "SELECT last_run('$A') || ' ' || locked('$A')")'"
dead=$(q -c "SELECT id FROM crm.job_runs WHERE tenant_id = '$A' AND status = 'running'")
release
run -v ON_ERROR_STOP=1 -c "CALL crm.run_job('rescore_leads', '$A')" >/dev/null
[ "$(q -c "SELECT status || ' ' || error_sqlstate FROM crm.job_runs WHERE id = '$dead'") $(q -c "SELECT last_run('$A') || ' ' || scored('$A')")" = "failed 57000 succeeded 3 3 sss" ] ||
	fail "5: the next run should mark the dead one failed (57000) and finish the last lead, got '$(q -c "SELECT status || ' ' || error_sqlstate FROM crm.job_runs WHERE id = '$dead'") $(q -c "SELECT last_run('$A')")'"
echo "jobs: 5 ok, a terminated run leaves no lock; the next run marks its row failed (57000) and rescores the rest"
echo "jobs: ok"
