/*
 * drop_guard.c: DROP EXTENSION crm is refused while tenants are there, and takes crm's pg_cron jobs
 * along when it is allowed.
 *
 * crm.drop_guard() is an event trigger on ddl_command_start for DROP EXTENSION, DROP SCHEMA and
 * DROP OWNED. It reads the statement from the parse tree that PostgreSQL hands the trigger, not from
 * the query text, so it sees the same statement however it was issued: typed at psql, one of several
 * in a query string, run by EXECUTE in PL/pgSQL or from inside a function. A statement drops crm when
 *   - DROP EXTENSION names crm among its extensions (IF EXISTS and CASCADE change nothing);
 *   - DROP SCHEMA ... CASCADE names crm's schema (without CASCADE PostgreSQL refuses it anyway);
 *   - DROP OWNED BY names the role that owns the extension or its schema.
 * Such a drop is refused while crm.tenants has rows, unless crm.allow_drop is on; a drop that goes
 * ahead first removes crm's pg_cron jobs (crm.unschedule_maintenance()), which pg_cron would otherwise
 * keep running, and failing, every period. The removal is part of the dropping transaction, so a drop
 * that fails later keeps the jobs.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "crm.h"

#define CRM_EXTENSION "crm"

/* crm.allow_drop: lets a DROP EXTENSION crm (or a statement that drops it) go ahead with tenants present. */
static bool crm_allow_drop = false;

/* What the installed extension is: its owner and its schema (both can be named by a drop). */
typedef struct CrmExtension
{
	bool		installed;
	Oid			owner;
	Oid			schema;
	Oid			schema_owner;
} CrmExtension;

/* The decision for one statement. */
typedef enum DropVerdict
{
	DROP_NOT_CRM,				/* the statement does not drop crm: nothing to do */
	DROP_REFUSED,				/* it would drop crm and its tenants: refuse it */
	DROP_ALLOWED				/* it drops crm: remove the jobs, let it go */
} DropVerdict;

/* drop_verdict decides from plain facts: whether the statement drops crm, the tenants, the setting. */
static DropVerdict
drop_verdict(bool drops_crm, int64 tenants, bool allow_drop)
{
	if (!drops_crm)
		return DROP_NOT_CRM;
	if (tenants > 0 && !allow_drop)
		return DROP_REFUSED;
	return DROP_ALLOWED;
}

/* names_include tells whether a parse tree's list of names (String nodes) holds name. */
static bool
names_include(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		Node	   *n = (Node *) lfirst(lc);

		if (IsA(n, String) && strcmp(strVal(n), name) == 0)
			return true;
	}
	return false;
}

/* crm_extension reads the extension's row of pg_extension, and its schema's owner. */
static CrmExtension
crm_extension(void)
{
	CrmExtension ext = {false, InvalidOid, InvalidOid, InvalidOid};
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(CRM_EXTENSION));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tuple);

		ext.installed = true;
		ext.owner = form->extowner;
		ext.schema = form->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (ext.installed)
	{
		HeapTuple	nsp = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(ext.schema));

		if (HeapTupleIsValid(nsp))
		{
			ext.schema_owner = ((Form_pg_namespace) GETSTRUCT(nsp))->nspowner;
			ReleaseSysCache(nsp);
		}
	}
	return ext;
}

/* statement_drops_crm reads a DROP statement's parse tree: does it drop the extension crm? */
static bool
statement_drops_crm(Node *parsetree, const CrmExtension *ext)
{
	if (!ext->installed || parsetree == NULL)
		return false;

	if (IsA(parsetree, DropStmt))
	{
		DropStmt   *stmt = (DropStmt *) parsetree;

		if (stmt->removeType == OBJECT_EXTENSION)
			return names_include(stmt->objects, CRM_EXTENSION);
		if (stmt->removeType == OBJECT_SCHEMA && stmt->behavior == DROP_CASCADE)
		{
			char	   *schema = get_namespace_name(ext->schema);

			return schema != NULL && names_include(stmt->objects, schema);
		}
		return false;
	}
	if (IsA(parsetree, DropOwnedStmt))
	{
		DropOwnedStmt *stmt = (DropOwnedStmt *) parsetree;
		ListCell   *lc;

		foreach(lc, stmt->roles)
		{
			Oid			role = get_rolespec_oid((RoleSpec *) lfirst(lc), true);

			if (OidIsValid(role) && (role == ext->owner || role == ext->schema_owner))
				return true;
		}
	}
	return false;
}

/*
 * count_tenants counts the rows of crm.tenants, all of them: it reads the table directly, so that
 * row-level security (forced on crm.tenants) hides none from the check. It takes SHARE lock, kept to
 * the end of the transaction, so that no tenant is added between the count and the drop, and counts
 * with the latest snapshot: the drop removes every committed row, not only those this transaction sees.
 */
static int64
count_tenants(Oid schema)
{
	Oid			relid = get_relname_relid("tenants", schema);
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int64		n = 0;

	if (!OidIsValid(relid))
		return 0;
	rel = table_open(relid, ShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		n++;
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return n;
}

/* unschedule_jobs removes crm's pg_cron jobs with crm.unschedule_maintenance() (0 without pg_cron). */
static void
unschedule_jobs(void)
{
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "crm.drop_guard: SPI_connect failed");
	rc = SPI_execute("SELECT crm.unschedule_maintenance()", false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "crm.drop_guard: crm.unschedule_maintenance() failed: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * crm.drop_guard(): the event trigger. 2BP01 (dependent_objects_still_exist) is what PostgreSQL
 * itself raises when a DROP would take other objects with it and needs CASCADE: here the tenants' data
 * would go with the extension, and crm.allow_drop plays CASCADE's part. It is not a privilege error
 * (42501): the superuser who owns the extension is refused too, until it says it means it.
 */
PG_FUNCTION_INFO_V1(crm_drop_guard);
Datum
crm_drop_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	CrmExtension ext;
	bool		drops_crm;
	int64		tenants = 0;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.drop_guard() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;

	ext = crm_extension();
	drops_crm = statement_drops_crm(trigdata->parsetree, &ext);
	if (drops_crm && !crm_allow_drop)
		tenants = count_tenants(ext.schema);

	switch (drop_verdict(drops_crm, tenants, crm_allow_drop))
	{
		case DROP_NOT_CRM:
			break;
		case DROP_REFUSED:
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop extension crm while it holds tenants"),
					 errdetail_plural("crm.tenants has %lld row: %s would delete that tenant and all of its data.",
									  "crm.tenants has %lld rows: %s would delete those tenants and all of their data.",
									  (unsigned long) tenants, (long long) tenants,
									  GetCommandTagName(trigdata->tag)),
					 errhint("Set crm.allow_drop = on (a superuser's setting) to drop it anyway.")));
			break;
		case DROP_ALLOWED:
			unschedule_jobs();
			break;
	}
	PG_RETURN_NULL();
}

/* crm_drop_guard_init defines crm.allow_drop; called from _PG_init before the prefix is reserved. */
void
crm_drop_guard_init(void)
{
	/*
	 * PGC_SUSET: only a superuser turns it on. Who can drop crm is its owner or a superuser, and crm is a
	 * superuser-only extension, so this costs a legitimate dropper nothing, while a role that came to own
	 * the schema later still cannot switch the guard off by itself.
	 */
	DefineCustomBoolVariable("crm.allow_drop",
							 "Lets DROP EXTENSION crm go ahead while crm.tenants has rows.",
							 "Off: a statement that would drop the extension crm (DROP EXTENSION, DROP SCHEMA crm CASCADE, "
							 "DROP OWNED BY its owner) is refused while tenants are there.",
							 &crm_allow_drop, false, PGC_SUSET, 0, NULL, NULL, NULL);
}
