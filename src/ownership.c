/*
 * ownership.c: crm.child_owner(), the trigger that copies a parent record's owner into the rows that
 * belong to it (src/ownership.sql, "child" tables).
 *
 * A child row (a contact's email, an opportunity's line) is read and changed by whoever reads and changes
 * its parent. The policies cannot look the parent up (Citus refuses subqueries in the policies of
 * distributed tables, and a policy function must read no table), so each child row carries its parent's
 * owner in record_owner_id and the policies test that. This trigger sets it on every insert and on every
 * update of the parent reference or of record_owner_id itself (so a caller cannot write its own): it reads
 * the parent as the caller, under the parent's own policies, so a parent the caller cannot see gives
 * NULL, and the policy then refuses the row.
 *
 * One plan per trigger, prepared on first use and kept (a dozen triggers; the cache starts over when a
 * re-created extension brings new ones past its size).
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/uuid.h"

#include "crm.h"

#define MAX_CHILD_TRIGGERS 64

typedef struct ChildPlan
{
	Oid			trigger;
	SPIPlanPtr	plan;
} ChildPlan;

static ChildPlan child_plans[MAX_CHILD_TRIGGERS];
static int	n_child_plans = 0;

/* child_plan returns the prepared lookup of this trigger's parent owner (SPI must be connected). */
static ChildPlan *
child_plan(TriggerData *td)
{
	Trigger    *trig = td->tg_trigger;
	ChildPlan	p;
	Oid			argtypes[2] = {UUIDOID, UUIDOID};
	Oid			parent;
	char	   *sql;

	for (int i = 0; i < n_child_plans; i++)
		if (child_plans[i].trigger == trig->tgoid)
			return &child_plans[i];

	if (n_child_plans >= MAX_CHILD_TRIGGERS)
	{
		for (int i = 0; i < n_child_plans; i++)
			SPI_freeplan(child_plans[i].plan);
		n_child_plans = 0;
	}
	parent = DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(trig->tgargs[0])));
	p.trigger = trig->tgoid;
	sql = psprintf("SELECT %s FROM %s.%s WHERE tenant_id = $1 AND id = $2",
				   quote_identifier(trig->tgargs[2]),
				   quote_identifier(get_namespace_name(get_rel_namespace(parent))),
				   quote_identifier(get_rel_name(parent)));
	p.plan = SPI_prepare(sql, 2, argtypes);
	if (p.plan == NULL)
		elog(ERROR, "crm.child_owner: could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(p.plan) != 0)
		elog(ERROR, "crm.child_owner: could not keep its plan");
	child_plans[n_child_plans] = p;
	return &child_plans[n_child_plans++];
}

PG_FUNCTION_INFO_V1(crm_child_owner);

Datum
crm_child_owner(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	ChildPlan  *p;
	Datum		values[2];
	bool		isnull[2];
	Datum		owner = (Datum) 0;
	bool		owner_null = true;
	int			col;
	AttrNumber	tenant_col,
				parent_col;
	HeapTuple	result;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.child_owner is a BEFORE INSERT OR UPDATE trigger FOR EACH ROW")));
	if (td->tg_trigger->tgnargs != 3)
		elog(ERROR, "crm.child_owner needs 3 arguments: parent table, parent column, parent's owner column");
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	tenant_col = SPI_fnumber(desc, "tenant_id");
	parent_col = SPI_fnumber(desc, td->tg_trigger->tgargs[1]);
	col = SPI_fnumber(desc, "record_owner_id");
	if (tenant_col <= 0 || parent_col <= 0 || col <= 0)
		elog(ERROR, "crm.child_owner: table %s lacks tenant_id, %s or record_owner_id",
			 RelationGetRelationName(td->tg_relation), td->tg_trigger->tgargs[1]);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	p = child_plan(td);
	values[0] = SPI_getbinval(row, desc, tenant_col, &isnull[0]);
	values[1] = SPI_getbinval(row, desc, parent_col, &isnull[1]);
	if (!isnull[0] && !isnull[1])
	{
		char		nulls[2] = {' ', ' '};

		if (SPI_execute_plan(p->plan, values, nulls, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "crm.child_owner: the parent lookup failed");
		if (SPI_processed == 1)
		{
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &owner_null);

			if (!owner_null)
				owner = UUIDPGetDatum((pg_uuid_t *) SPI_palloc(sizeof(pg_uuid_t)));
			if (!owner_null)
				*DatumGetUUIDP(owner) = *DatumGetUUIDP(d);
		}
	}
	result = SPI_modifytuple(td->tg_relation, row, 1, &col, &owner, owner_null ? "n" : " ");
	if (result == NULL)
		elog(ERROR, "crm.child_owner: could not set record_owner_id: %s", SPI_result_code_string(SPI_result));
	SPI_finish();
	return PointerGetDatum(result);
}
