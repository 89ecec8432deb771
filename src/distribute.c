/*
 * distribute.c: what crm needs to know of Citus (docs/design.md §9), read from Citus's catalogs directly
 * (no query, so that it works inside a query Citus runs on a shard, and no Citus headers).
 *
 * crm.table_of(relid): the crm table a relation stands for. On Citus a trigger fires on a shard (crm.leads
 * is then crm.leads_102040), so a trigger function that checks which table it runs for (TG_RELID) asks
 * this instead of comparing TG_RELID itself.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "crm.h"

/* pg_dist_shard's first row whose column `col` equals `value` (an oid or an int8): the other column. */
static bool
dist_shard_lookup(const char *col, Datum value, Oid eq_proc, const char *want, Datum *result)
{
	Oid			dist_shard = get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE);
	AttrNumber	key_att,
				want_att;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	bool		found = false;

	if (!OidIsValid(dist_shard))
		return false;
	key_att = get_attnum(dist_shard, col);
	want_att = get_attnum(dist_shard, want);
	if (key_att <= 0 || want_att <= 0)
		return false;
	rel = table_open(dist_shard, AccessShareLock);
	ScanKeyInit(&key, key_att, BTEqualStrategyNumber, eq_proc, value);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, want_att, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			*result = d;
			found = true;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* crm_citus_shard_of returns the id of a Citus table's first shard (0: not a Citus table). */
int64
crm_citus_shard_of(Oid relid)
{
	Datum		shard;

	if (!dist_shard_lookup("logicalrelid", ObjectIdGetDatum(relid), F_OIDEQ, "shardid", &shard))
		return 0;
	return DatumGetInt64(shard);
}

/* shard_table: the table of a shard (name_<shardid> in the same schema, pg_dist_shard agreeing), or relid */
static Oid
shard_table(Oid relid, const char *name)
{
	const char *us = strrchr(name, '_');
	char	   *end;
	int64		shardid;
	Datum		logical;
	Oid			table;
	char	   *table_name;
	bool		match;

	if (us == NULL || us[1] == '\0')
		return relid;
	shardid = strtoll(us + 1, &end, 10);
	if (*end != '\0' || shardid <= 0 ||
		!dist_shard_lookup("shardid", Int64GetDatum(shardid), F_INT8EQ, "logicalrelid", &logical))
		return relid;
	table = DatumGetObjectId(logical);
	table_name = get_rel_name(table);
	match = table_name != NULL && get_rel_namespace(table) == get_rel_namespace(relid) &&
		strlen(table_name) == (size_t) (us - name) && strncmp(table_name, name, us - name) == 0;
	if (table_name != NULL)
		pfree(table_name);
	return match ? table : relid;
}

/*
 * crm_table_of returns the table a shard belongs to, or relid itself. Trigger functions ask it for
 * every row: the last answer, a shard's or not, is kept, so a run of rows of one table costs a compare.
 */
Oid
crm_table_of(Oid relid)
{
	static Oid	last_in = InvalidOid;
	static Oid	last_out = InvalidOid;
	char	   *name;

	if (relid == last_in && OidIsValid(relid))
		return last_out;
	name = get_rel_name(relid);
	if (name == NULL)
		return relid;
	last_out = shard_table(relid, name);
	last_in = relid;
	pfree(name);
	return last_out;
}

PG_FUNCTION_INFO_V1(crm_table_of_sql);

/* crm.table_of(oid) → regclass */
Datum
crm_table_of_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(crm_table_of(PG_GETARG_OID(0)));
}

/*
 * Router plans. Citus sends a query to one shard only when the distribution column is compared with a
 * constant or a parameter; the policies compare tenant_id with crm.current_tenant(), a STABLE call, so
 * every tenant query would go to every shard. On a node with a crm.node_key (a Citus cluster) the
 * planner hook below puts the request's tenant in place of each call of crm.current_tenant() before
 * Citus plans the query (in the policies too: they are in the query by then), so Citus routes it to
 * the tenant's shard.
 *
 * A plan that holds a tenant as a constant must never serve another tenant: plans are made for one
 * tenant at a time (crm_planned_tenant), and whenever the request's tenant becomes another one (the
 * context GUCs' assign hooks, src/context.c), every cached plan of the backend is invalidated
 * (ResetPlanCache), so that it is planned again, for the new tenant, before its next use. Should one
 * slip through anyway, the workers still apply every policy with their own crm.current_tenant() (the
 * signed context), so it could find no other tenant's row.
 */
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "utils/plancache.h"
#include "utils/uuid.h"

static planner_hook_type prev_planner_hook = NULL;

/* the tenant the backend's cached plans may hold as a constant */
static bool planned_tenant_set = false;
static pg_uuid_t planned_tenant;

typedef struct RouteContext
{
	Oid			current_tenant_fn;
	pg_uuid_t	tenant;
} RouteContext;

static bool
calls_fn_walker(Node *node, Oid *fn)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == *fn)
		return true;
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, calls_fn_walker, fn, 0);
	return expression_tree_walker(node, calls_fn_walker, fn);
}

static Node *
route_mutator(Node *node, RouteContext *cx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == cx->current_tenant_fn)
	{
		pg_uuid_t  *v = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));

		*v = cx->tenant;
		return (Node *) makeConst(UUIDOID, -1, InvalidOid, UUID_LEN, UUIDPGetDatum(v), false, false);
	}
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, route_mutator, cx, 0);
	return expression_tree_mutator(node, route_mutator, cx);
}

/* crm_tenant_changed: the request's tenant is now `tenant` (NULL: none); called by the context's hooks. */
void
crm_tenant_changed(const pg_uuid_t *tenant)
{
	if (!planned_tenant_set)
		return;
	if (tenant != NULL && memcmp(tenant, &planned_tenant, sizeof(pg_uuid_t)) == 0)
		return;
	ResetPlanCache();
	planned_tenant_set = false;
}

static PlannedStmt *
crm_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	if (crm_node_key_set())
	{
		Oid			fn = LookupFuncName(list_make2(makeString("crm"), makeString("current_tenant")), 0, NULL, true);
		RouteContext cx;

		if (OidIsValid(fn) && calls_fn_walker((Node *) parse, &fn) && crm_request_tenant(&cx.tenant))
		{
			if (planned_tenant_set && memcmp(&planned_tenant, &cx.tenant, sizeof(pg_uuid_t)) != 0)
				ResetPlanCache();
			planned_tenant = cx.tenant;
			planned_tenant_set = true;
			cx.current_tenant_fn = fn;
			parse = query_tree_mutator(parse, route_mutator, &cx, 0);
		}
		/* Citus sends the query to the shards as SQL: no whole row of a table may be in it */
		parse = crm_scoring_rows_to_columns(parse);
	}
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/* crm_distribute_init installs the planner hook (a pass-through on a node without crm.node_key). */
void
crm_distribute_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = crm_planner;
}
