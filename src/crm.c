/*
 * crm.c: the module's entry point. Each capability keeps its own C file; this one only loads them.
 */
#include "postgres.h"

#include "fmgr.h"

#include "crm.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* _PG_init runs once per backend when the library is loaded: it registers the GUCs and the scoring models' invalidation callback. */
void
_PG_init(void)
{
	crm_jobs_init();
	crm_drop_guard_init();
	crm_context_init();
	crm_scoring_init();
	crm_distribute_init();
}
