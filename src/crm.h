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

/* drop_guard.c: registers crm.allow_drop; called from _PG_init before the prefix is reserved. */
extern void crm_drop_guard_init(void);

/* scoring.c: registers the invalidation callback that drops parsed scoring models when they change. */
extern void crm_scoring_init(void);

/*
 * Limits of the documents that C reads after they were saved, shared with the validators that check
 * them at save (src/scoring.sql through crm.scoring_limits(), src/health.sql through
 * crm.health_weights()), so that a document accepted at save is one C accepts when it reads it.
 */
#define CRM_SCORING_MAX_RULES 64	/* fit and engagement rules of a model, together */
#define CRM_SCORING_MAX_VALUES 1000 /* ranges, "in" values or "values" entries of one rule */
#define CRM_SCORING_MAX_POINTS 100	/* points of a rule, range or value; a group cap; the total cap */
#define CRM_SCORING_MAX_HALF_LIFE_DAYS 3650 /* an engagement rule's half-life */
#define CRM_ENGAGEMENT_MAX_TIMES 50 /* times kept per activity type and outcome in crm.leads.engagement */
#define CRM_HEALTH_MAX_WEIGHT 1000000	/* a health measure's weight (tenant setting health_weights) */

/*
 * crm_numeric_parts reads a finite numeric's sign, weight and base-10000 digits in place from its
 * stored form (the on-disk layout described in PostgreSQL's utils/adt/numeric.c, fixed across
 * versions), without copying or allocating, so that per-row code can use a column's value as it lies
 * in the tuple (packed or not; not toasted). False for NaN and the infinities. Digit i counts
 * 10000^(weight - i); read each with memcpy from digits + i * sizeof(int16) (it may be unaligned).
 * Inline: scoring and the pipeline aggregate call it for every row.
 */
typedef struct CrmNumericParts
{
	bool		negative;
	int			weight;
	int			ndigits;
	const char *digits;
} CrmNumericParts;

static inline bool
crm_numeric_parts(const struct varlena *v, CrmNumericParts *parts)
{
	const char *p = VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v);
	uint16		header;

	memcpy(&header, p, sizeof(uint16));
	if ((header & 0xC000) == 0xC000)
		return false;			/* NaN, +/-Infinity */
	if (header & 0x8000)
	{
		/* short form: sign, display scale and a 7-bit weight in the header */
		parts->negative = (header & 0x2000) != 0;
		parts->weight = (header & 0x0040) ? (int) (~0x003F | (header & 0x003F)) : (int) (header & 0x003F);
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		parts->negative = (header & 0xC000) == 0x4000;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		parts->weight = w;
		p += sizeof(uint16) + sizeof(int16);
		len -= sizeof(uint16) + sizeof(int16);
	}
	parts->digits = p;
	parts->ndigits = len / (int) sizeof(int16);
	return true;
}

/* distribute.c: Citus's view of a table (shards), read from its catalogs; plain tables without Citus. */
extern int64 crm_citus_shard_of(Oid relid);
extern Oid	crm_table_of(Oid relid);
extern void crm_distribute_init(void);
struct pg_uuid_t;
extern void crm_tenant_changed(const struct pg_uuid_t *tenant);
struct Node;
extern bool crm_query_calls(struct Node *node, Oid fn);

/* scoring.c, for the planner hook of distribute.c: crm.lead_score(l) as crm.lead_score_fields(columns) */
struct Query;
extern struct Query *crm_scoring_rows_to_columns(struct Query *parse);

/* context.c, for the planner hook of distribute.c */
extern bool crm_node_key_set(void);
extern void crm_sign_bound_login(void);
extern bool crm_request_tenant(struct pg_uuid_t *tenant);

#endif							/* CRM_H */
