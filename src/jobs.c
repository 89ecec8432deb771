/*
 * jobs.c: what crm's batch jobs and their driver crm.run_job (src/jobs.sql) share in C.
 *
 * crm.report_progress(message) shows a running job's progress to every session: the message replaces
 * the backend's query text in pg_stat_activity (as autovacuum shows what it does), so a DBA sees
 *   SELECT pid, query FROM pg_stat_activity WHERE query LIKE 'crm.%';
 * while the job's transaction is still open, which a progress table could not show. The driver restores its
 * statement's text with crm.report_progress(current_query()) when a run ends (crm.job_result).
 *
 * crm.job_can_commit() tells crm.run_job (src/jobs.sql) whether it may COMMIT between batches: only a
 * procedure CALLed outside a transaction block (or from a DO block or procedure that could commit
 * itself), with no subtransaction open, can. PL/pgSQL has no way to ask: a COMMIT it is not allowed
 * raises 2D000, and it cannot be tried in a block with an exception handler (that block is itself a
 * subtransaction). The executor knows: the SPI connection of the calling procedure is nonatomic exactly
 * when transaction control is allowed (CALL's own rule: top level, not in a transaction block).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "crm.h"

PG_FUNCTION_INFO_V1(crm_report_progress);
Datum
crm_report_progress(PG_FUNCTION_ARGS)
{
	char	   *message;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	message = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pgstat_report_activity(STATE_RUNNING, message);
	pfree(message);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crm_job_can_commit);
Datum
crm_job_can_commit(PG_FUNCTION_ARGS)
{
	/*
	 * A C function does not connect to SPI itself: the current connection is that of the PL/pgSQL
	 * procedure evaluating this call (or none at top level, and then no COMMIT is possible either).
	 */
	PG_RETURN_BOOL(SPI_inside_nonatomic_context() && !IsSubTransaction());
}

/* crm.batch_size: how many rows a batch job handles per batch; registered once from _PG_init. */
static int	crm_batch_size = 10000;

void
crm_jobs_init(void)
{
	DefineCustomIntVariable("crm.batch_size",
							"Rows per batch of crm's batch jobs (crm.rescore_leads, ...).",
							"Smaller batches report progress more often; larger ones have less overhead.",
							&crm_batch_size, 10000, 1, 1000000, PGC_USERSET, 0, NULL, NULL, NULL);
}
