/*
 * crm.h: declarations shared by the C files of the crm extension.
 */
#ifndef CRM_H
#define CRM_H

#include "postgres.h"

/* context.c: registers the crm.* GUCs and reserves the prefix; called once from _PG_init. */
extern void crm_context_init(void);

/* jobs.c: registers crm.batch_size; called from _PG_init before the prefix is reserved. */
extern void crm_jobs_init(void);

/* scoring.c: registers the invalidation callback that drops parsed scoring models when they change. */
extern void crm_scoring_init(void);

#endif							/* CRM_H */
