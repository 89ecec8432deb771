#!/usr/bin/env bash
# jobs.sh: the job driver (crm.run_job, src/jobs.sql) against the loop it replaced: rescoring every
# tenant, full pass, after a bulk import left 1% of the leads unscored. Ours twice: CALLed on its own,
# committing after every batch and tenant (as pg_cron runs it), and as the function crm.rescore_leads
# (the driver in one transaction); the alternative: crm.rescore_leads as it was before the driver
# (test/bench/lib/rescore_leads_old.sql), one transaction. A shell bench, as a CALL that commits cannot
# run inside bench.compare's function. Medians of a few runs, after a warm-up; each run starts from the
# same 1% unscored. Records two rows in bench.results.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${JOBS_REPS:-3}
export PGOPTIONS='-c client_min_messages=warning'
psql -X -q -v ON_ERROR_STOP=1 -f test/bench/lib/rescore_leads_old.sql

# one timed statement after an untimed reset: prints its milliseconds, then its result
timed() {
	psql -X -q -v ON_ERROR_STOP=1 -c 'SELECT bench.unscore(1)' >/dev/null
	psql -X -q -A -t -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" |
		awk '/^Time: / {ms = $2} !/^Time: / && NF {res = $0} END {print ms; print res}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

q_call="CALL crm.run_job('rescore_leads', NULL, '{\"full_pass\": true}')"
q_function="SELECT crm.rescore_leads(NULL, full_pass => true)"
q_old="SELECT bench.rescore_leads_old(NULL, full_pass => true)"

# the same work: each side's result (its counts) from the same start, compared before anything is timed
a_call=$(timed "$q_call" | tail -1)
a_function=$(timed "$q_function" | tail -1)
a_old=$(timed "$q_old" | tail -1)
same=$(psql -X -q -A -t -c "SELECT '$a_call'::jsonb = '$a_old'::jsonb AND '$a_function'::jsonb = '$a_old'::jsonb")
if [ "$same" != t ]; then
	echo "bench jobs: the driver and the old loop disagree: CALL $a_call, function $a_function, old loop $a_old" >&2
	exit 1
fi
echo "bench jobs: all three rescore the same: $a_old"

call_ms=() function_ms=() old_ms=()
for i in $(seq "$reps"); do
	# alternate which goes first, so that none always runs on another's warm cache
	if [ $((i % 2)) -eq 1 ]; then order="call function old"; else order="old function call"; fi
	for side in $order; do
		case $side in
		call) call_ms+=("$(timed "$q_call" | head -1)") ;;
		function) function_ms+=("$(timed "$q_function" | head -1)") ;;
		old) old_ms+=("$(timed "$q_old" | head -1)") ;;
		esac
	done
done
call=$(median "${call_ms[@]}")
function=$(median "${function_ms[@]}")
old=$(median "${old_ms[@]}")
echo "bench jobs: CALL crm.run_job $call ms, crm.rescore_leads $function ms, the old loop $old ms (medians of $reps)"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target, note) VALUES
    ('jobs: rescoring every tenant, full pass, 1% unscored', 'CALL crm.run_job(''rescore_leads''): commits per batch and tenant',
     'crm.rescore_leads before the job driver (one transaction)', $call, $old, $reps, '~ 1x',
     'the same leads rescored; no rescored lead stays locked past its batch'),
    ('jobs: rescoring every tenant, full pass, 1% unscored', 'crm.rescore_leads (the driver in one transaction)',
     'crm.rescore_leads before the job driver (one transaction)', $function, $old, $reps, '~ 1x', 'the driver''s own cost');
SQL
