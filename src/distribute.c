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
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/plancache.h"
#include "access/sysattr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "parser/parse_relation.h"
#endif
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

/* Whether the query (or expression) calls the function fn anywhere, its subqueries included. */
bool
crm_query_calls(Node *node, Oid fn)
{
	return OidIsValid(fn) && calls_fn_walker(node, &fn);
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

/* has_view_check: a view's WITH CHECK OPTION is in the statement (Citus would not send it to the shard) */
static bool
has_view_check(Query *q)
{
	ListCell   *lc;

	foreach(lc, q->withCheckOptions)
		if (lfirst_node(WithCheckOption, lc)->kind == WCO_VIEW_CHECK)
			return true;
	return false;
}

/*
 * Writes through the crm_api views. The crm_api views are simple views (one crm table, its columns):
 * PostgreSQL's rewriter turns an INSERT, UPDATE or DELETE on one into the same statement on the table,
 * with the table's policies, defaults and RETURNING, and keeps the view's entry first in the range table,
 * referenced by nothing, only so that the executor checks the caller's privileges on the view (its
 * column privileges included). Citus refuses every modification whose first range table entry is a view
 * ("cannot modify views when the query contains citus tables"), although it plans the statement on the
 * table itself. So, on a node with a crm.node_key, the view's entry and the table's trade places (every
 * reference to the table follows it; Citus takes an INSERT's first entry for its table): Citus then
 * plans the statement on the table as it would have been written, and the executor still checks the
 * view's privileges. Only crm_api views without a CHECK OPTION (Citus would not send the view's check
 * to the shard; the table's policies are applied there), only when nothing refers to the entry; any
 * other statement is left as it is, for Citus to refuse.
 */
static bool
unpin_view_walker(Node *node, Oid *api_schema)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		if ((q->commandType == CMD_INSERT || q->commandType == CMD_UPDATE || q->commandType == CMD_DELETE) &&
			q->rtable != NIL && q->resultRelation > 1)
		{
			RangeTblEntry *first = linitial_node(RangeTblEntry, q->rtable);
			RangeTblEntry *target;

			if (first->rtekind == RTE_RELATION && first->relkind == RELKIND_VIEW && !first->inFromCl &&
				get_rel_namespace(first->relid) == *api_schema &&
				!rangeTableEntry_used((Node *) q, 1, 0) && !has_view_check(q))
			{
				int			table_rti = q->resultRelation;

				ChangeVarNodes((Node *) q, table_rti, 1, 0);
				linitial(q->rtable) = list_nth(q->rtable, table_rti - 1);
				list_nth_cell(q->rtable, table_rti - 1)->ptr_value = first;
				/*
				 * The table as a statement written on it has it, so that Citus deparses the same shard
				 * query: not in FROM (it came from the view's FROM), and named (RETURNING leads.id).
				 */
				target = rt_fetch(q->resultRelation, q->rtable);
				target->inFromCl = false;
				if (target->alias == NULL)
					target->alias = makeAlias(target->eref->aliasname, NIL);
				/*
				 * INSERT ... ON CONFLICT: the rewriter gave the table an EXCLUDED entry of its own and
				 * left the view's, referenced by nothing, before it; renamed, the table's is "excluded"
				 * in the shard query too.
				 */
				if (q->onConflict != NULL && q->onConflict->exclRelIndex > 0)
				{
					ListCell   *lc;
					int			rti = 0;

					foreach(lc, q->rtable)
					{
						RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

						rti++;
						if (rti != q->onConflict->exclRelIndex && rte->rtekind == RTE_RELATION &&
							rte->relid == first->relid && rte->alias != NULL &&
							strcmp(rte->alias->aliasname, "excluded") == 0 &&
							!rangeTableEntry_used((Node *) q, rti, 0))
							rte->alias = makeAlias("excluded_view", NIL);
					}
				}
			}
		}
		return query_tree_walker(q, unpin_view_walker, api_schema, 0);
	}
	return expression_tree_walker(node, unpin_view_walker, api_schema);
}

/*
 * Column privileges on Citus. The rewriter adds to an INSERT every column with a default that the
 * statement leaves out (crm.tags: usage_count, created_at, updated_at), and Citus sends the shard the
 * INSERT with all of them; the executor checks privileges on the columns the caller named only, but the
 * worker checks the shard's copy of the grants on every column listed, and refuses a crm_rep its
 * "INSERT INTO crm.tags (name)" ("permission denied for table tags_102496"). So, on a node with a
 * crm.node_key, an INSERT into a crm table drops the defaults the rewriter added for columns that the
 * caller may not insert (never tenant_id, which routes the row): the shard fills in the same defaults.
 * The caller's own columns, and their checks on the coordinator, are as they were.
 */
static bool
shard_defaults_walker(Node *node, Oid *crm_schema)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;

		if (q->commandType == CMD_INSERT && q->resultRelation > 0)
		{
			RangeTblEntry *rte = rt_fetch(q->resultRelation, q->rtable);

			/* a Citus table (not one of its shards, where the defaults are to be filled in) */
			if (rte->rtekind == RTE_RELATION && get_rel_namespace(rte->relid) == *crm_schema &&
				crm_citus_shard_of(rte->relid) != 0)
			{
#if PG_VERSION_NUM >= 160000
				Bitmapset  *named = getRTEPermissionInfo(q->rteperminfos, rte)->insertedCols;
#else
				Bitmapset  *named = rte->insertedCols;
#endif
				Oid			user = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
				List	   *kept = NIL;
				ListCell   *lc;

				/* the privilege on the table covers every column (a column's own ACL adds to it) */
				if (pg_class_aclcheck(rte->relid, user, ACL_INSERT) == ACLCHECK_OK)
					return query_tree_walker(q, shard_defaults_walker, crm_schema, 0);
				foreach(lc, q->targetList)
				{
					TargetEntry *te = lfirst_node(TargetEntry, lc);
					bool		drop = false;

					if (!te->resjunk && te->resno > 0 &&
						!bms_is_member(te->resno - FirstLowInvalidHeapAttributeNumber, named) &&
						!IsA(te->expr, Var) &&
						pg_attribute_aclcheck(rte->relid, te->resno, user, ACL_INSERT) != ACLCHECK_OK)
					{
						char	   *att = get_attname(rte->relid, te->resno, true);

						drop = att != NULL && strcmp(att, "tenant_id") != 0;
					}
					if (!drop)
						kept = lappend(kept, te);
				}
				q->targetList = kept;
			}
		}
		return query_tree_walker(q, shard_defaults_walker, crm_schema, 0);
	}
	return expression_tree_walker(node, shard_defaults_walker, crm_schema);
}

static PlannedStmt *
crm_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	if (crm_node_key_set())
	{
		Oid			api_schema = get_namespace_oid("crm_api", true);

		Oid			crm_schema = get_namespace_oid("crm", true);

		if (OidIsValid(api_schema))
			(void) unpin_view_walker((Node *) parse, &api_schema);
		if (OidIsValid(crm_schema))
			(void) shard_defaults_walker((Node *) parse, &crm_schema);
	}
	if (crm_node_key_set())
	{
		Oid			fn = LookupFuncName(list_make2(makeString("crm"), makeString("current_tenant")), 0, NULL, true);
		RouteContext cx;

		bool		reads_tenant = crm_query_calls((Node *) parse, fn);

		/* a bound login that switched role needs its user signed for the workers (context.c) */
		if (reads_tenant)
			crm_sign_bound_login();
		if (reads_tenant && crm_request_tenant(&cx.tenant))
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
