/*
 * scoring.c: the lead scoring engine. crm.lead_score(lead) and crm.lead_score_parts(lead) score a lead
 * row by its tenant's active model (crm.scoring_models, rules described in src/scoring.sql).
 *
 * A model is read (SPI) and parsed into plain C structures the first time a query scores a lead of
 * its tenant; the parsed model stays in the function's fn_extra for the rest of the query (found again
 * per row through a small hash table on the tenant id), so a scan of a million leads reads each
 * tenant's model once, parses each distinct rules document once (tenants with the same rules share
 * it), and then only compares integers and bytes read in place from the row. Nothing is allocated per
 * row but a detoasted value, freed when its rule is done.
 *
 * Engagement rules score a lead's activities from the summary the lead row carries (crm.leads.engagement,
 * kept by a trigger on crm.activities: per activity type and outcome, the times of the latest ones), so
 * scoring never queries crm.activities: each activity is worth the rule's points halved every
 * half_life_days since it occurred, as of the transaction's start.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "crm.h"

/*
 * The lead columns scoring reads, in the order crm.lead_score_fields() takes them after tenant_id: the
 * ones fit rules may score (crm.scoring_field_kind in src/scoring.sql lists the same), then the
 * engagement summary that engagement rules read.
 */
static const char *const score_fields[] = {
	"employee_count", "annual_revenue", "budget", "industry", "country", "title", "company", "source",
	"purchase_timeline", "is_decision_maker", "engagement"
};

#define NFIELDS lengthof(score_fields)
#define ENGAGEMENT_FIELD (NFIELDS - 1)

#define MAX_RULES CRM_SCORING_MAX_RULES	/* (crm.h: crm.validate_scoring_rules refuses more at save) */
#define MAX_GROUPS 64			/* a rule is in one group: never more groups than rules */
StaticAssertDecl(MAX_GROUPS >= MAX_RULES, "a model's groups must fit");
#define MODEL_SLOTS 512			/* the per-query table of tenants' models; more tenants are looked up linearly */

typedef enum
{
	RULE_RANGES,
	RULE_IN,
	RULE_VALUES,
	RULE_EQUALS,
	RULE_ENGAGEMENT
} RuleKind;

typedef struct Range
{
	bool		has_lo;
	bool		lo_inclusive;
	Numeric		lo_num;			/* the same bound as a numeric, for numeric columns */
	bool		has_hi;
	bool		hi_inclusive;
	Numeric		hi_num;
	bool		fixed;			/* both bounds (those it has) as fixed-point numbers too: */
	int128		lo_fixed;
	int128		hi_fixed;
	int64		lo_int;			/* for an integer column: the least and greatest whole values */
	int64		hi_int;			/* in the range (the bounds rounded inwards, saturated) */
	int			points;
} Range;

/* a value of a set or a values map; enum values are matched by OID, text by case-insensitive bytes */
typedef struct ValuePoints
{
	char	   *text;
	int			len;
	Oid			enum_oid;
	int			points;
} ValuePoints;

typedef struct Rule
{
	RuleKind	kind;
	int			field;			/* index into score_fields */
	Oid			atttype;
	bool		is_enum;
	int			group;			/* index into Model.group_caps */
	int			nranges;
	Range	   *ranges;
	int			nvalues;
	ValuePoints *values;
	int			points;			/* in: points for a member; equals: points when equal */
	int			else_points;	/* in: points for any other known value */
	bool		equals;
	char	   *activity_type;	/* engagement: the activity type ... */
	char	   *outcome;		/* ... and outcome (NULL: any) it counts */
	double		half_life;		/* engagement: seconds for an activity's points to halve */
} Rule;

/*
 * A parsed rules document. Tenants whose active models have the same rules (most keep the default)
 * share one: a scan over many tenants' leads then works on one model that stays in the CPU's caches,
 * instead of a different one for nearly every row. What every row reads comes first.
 */
typedef struct Model
{
	int			nrules;
	int			ngroups;
	int			total_cap;
	bool		uses_field[NFIELDS];	/* some rule reads the field */
	bool		has_caps;		/* some group has a cap */
	int			group_caps[MAX_GROUPS]; /* -1: no cap */
	Rule		rules[MAX_RULES];
	char	   *group_names[MAX_GROUPS];
	Jsonb	   *document;		/* the rules it was parsed from */
} Model;

/* a tenant's entry in a query's cache: its model, or NULL when it has no active one */
typedef struct TenantModel
{
	pg_uuid_t	tenant;
	Model	   *model;
} TenantModel;

/*
 * Models change: a query (or a trigger's expression, which lives for its transaction) must not score
 * with a model parsed before the change. A statement trigger on crm.scoring_models sends a relcache
 * invalidation of the table; this backend's callback counts it (for its own changes at the next
 * command, for other backends' at their next statement), and a cache parsed under an older count is
 * dropped before the next row.
 */
static uint64 models_generation = 1;
static Oid	scoring_models_relid = InvalidOid;

static void
models_inval_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == scoring_models_relid)
		models_generation++;
}

void
crm_scoring_init(void)
{
	CacheRegisterRelcacheCallback(models_inval_callback, (Datum) 0);
}

/* crm.scoring_models_changed(): the statement trigger that announces a change of models */
PG_FUNCTION_INFO_V1(crm_scoring_models_changed);
Datum
crm_scoring_models_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.scoring_models_changed() is a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	/* on Citus the trigger fires on a shard: the backends watch the table itself */
	scoring_models_relid = crm_table_of(RelationGetRelid(trigdata->tg_relation));
	if (scoring_models_relid != RelationGetRelid(trigdata->tg_relation))
		CacheInvalidateRelcacheByRelid(scoring_models_relid);
	return PointerGetDatum(NULL);
}

/* what a query keeps between rows */
typedef struct ScoringCache
{
	uint64		generation;		/* models_generation when the models below were parsed */
	MemoryContext models_cxt;	/* the parsed models, their tenants' entries and the lists below:
								 * a child of fn_mcxt, reset when a model changes */
	Oid			field_types[NFIELDS];	/* the type of each scored field */
	TupleDesc	tupdesc;		/* whole-row entry points: crm.leads, in fn_mcxt */
	int			tenant_attno;
	int			field_attnos[NFIELDS];
	TenantModel *last;			/* the tenant of the previous row */
	TenantModel *slots[MODEL_SLOTS];	/* open addressing on the tenant id */
	int			ntenants;
	int			maxtenants;
	TenantModel **tenants;		/* every tenant looked up, in order */
	int			nmodels;
	int			maxmodels;
	Model	  **models;			/* every distinct rules document parsed */
} ScoringCache;

/* ------------------------------------------------------------------------------------------------
 * jsonb helpers (the model was validated when saved: anything unexpected here is a can't-happen)
 * ------------------------------------------------------------------------------------------------ */

static bool
json_field(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
	if (v == NULL)
		return false;
	*out = *v;
	return true;
}

static double
json_number(JsonbValue *v)
{
	if (v->type != jbvNumeric)
		elog(ERROR, "crm scoring model: number expected");
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

static int
json_int_field(JsonbContainer *obj, const char *key, int dflt)
{
	JsonbValue	v;

	if (!json_field(obj, key, &v))
		return dflt;
	return (int) json_number(&v);
}

static char *
json_string_field(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!json_field(obj, key, &v))
		return NULL;
	if (v.type != jbvString)
		elog(ERROR, "crm scoring model: string expected for %s", key);
	return pnstrdup(v.val.string.val, v.val.string.len);
}

static JsonbContainer *
json_container_field(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (!json_field(obj, key, &v))
		return NULL;
	if (v.type != jbvBinary)
		elog(ERROR, "crm scoring model: array or object expected for %s", key);
	return v.val.binary.data;
}

/*
 * numeric_fixed: a numeric as a fixed-point int128 in units of 10^-16, read in place from its stored
 * form (crm_numeric_parts), so that a numeric column is compared with a range's bounds as two integers,
 * exactly, without copying the value or calling numeric_cmp. False when it does not fit (NaN, the
 * infinities, 10^20 or more, a digit beyond the 16th decimal): the caller compares numerics instead.
 */
#define FIXED_FRACTION 4		/* base-10000 digits after the point */
#define FIXED_MAX_EXP 8			/* 10000^8 x 9999 and their sum stay far below 2^127 */

static bool
numeric_fixed(const struct varlena *v, int128 *out)
{
	static const int64 pow10000[] = {1, 10000, 100000000, INT64CONST(1000000000000), INT64CONST(10000000000000000)};
	CrmNumericParts n;
	int128		x = 0;

	if (!crm_numeric_parts(v, &n))
		return false;
	for (int i = 0; i < n.ndigits; i++)
	{
		int16		d;
		int			e = n.weight - i + FIXED_FRACTION;	/* the digit counts 10000^e units */

		memcpy(&d, n.digits + i * sizeof(int16), sizeof(int16));
		if (d == 0)
			continue;
		if (e < 0 || e > FIXED_MAX_EXP)
			return false;
		x += (int128) d * (e <= 4 ? (int128) pow10000[e] : (int128) pow10000[e - 4] * pow10000[4]);
	}
	*out = n.negative ? -x : x;
	return true;
}

/* ------------------------------------------------------------------------------------------------
 * Model parsing
 * ------------------------------------------------------------------------------------------------ */

static int
model_group(Model *m, const char *name)
{
	for (int i = 0; i < m->ngroups; i++)
		if (strcmp(m->group_names[i], name) == 0)
			return i;
	if (m->ngroups >= MAX_GROUPS)
		elog(ERROR, "crm scoring model: too many groups");
	m->group_names[m->ngroups] = pstrdup(name);
	m->group_caps[m->ngroups] = -1;
	return m->ngroups++;
}

/* value_for_column prepares a label for comparison with the column: an enum label becomes its OID. */
static void
value_for_column(ValuePoints *vp, Oid atttype, const char *label, int len)
{
	vp->text = pnstrdup(label, len);
	vp->len = len;
	vp->enum_oid = InvalidOid;
	/* (a label of NAMEDATALEN bytes or more is no enum label, and is no key for the syscache) */
	if (type_is_enum(atttype) && len < NAMEDATALEN)
	{
		HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(atttype), CStringGetDatum(vp->text));

		if (HeapTupleIsValid(tup))
		{
			vp->enum_oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
			ReleaseSysCache(tup);
		}
	}
}

/*
 * whole_bound: a range bound as the least (lower) or greatest (upper) whole number inside the range:
 * min 2.5 -> 3, above 2 -> 3, max 2.5 -> 2, below 3 -> 2; saturated to int64's range.
 */
static int64
whole_bound(Numeric bound, bool lower, bool inclusive)
{
	Datum		b = NumericGetDatum(bound);
	Datum		w = DirectFunctionCall1(lower ? numeric_ceil : numeric_floor, b);
	bool		whole = DatumGetBool(DirectFunctionCall2(numeric_eq, w, b));
	Datum		lim = DirectFunctionCall1(int8_numeric, Int64GetDatum(lower ? PG_INT64_MAX - 1 : PG_INT64_MIN + 1));
	int64		x;

	/* past int64 on its side: nothing of an integer column is in the range beyond it */
	if (lower ? DatumGetBool(DirectFunctionCall2(numeric_gt, w, lim)) : DatumGetBool(DirectFunctionCall2(numeric_lt, w, lim)))
		return lower ? PG_INT64_MAX : PG_INT64_MIN;
	lim = DirectFunctionCall1(int8_numeric, Int64GetDatum(lower ? PG_INT64_MIN : PG_INT64_MAX));
	if (lower ? DatumGetBool(DirectFunctionCall2(numeric_lt, w, lim)) : DatumGetBool(DirectFunctionCall2(numeric_gt, w, lim)))
		return lower ? PG_INT64_MIN : PG_INT64_MAX;
	x = DatumGetInt64(DirectFunctionCall1(numeric_int8, w));
	/* an exclusive whole bound leaves itself out */
	if (whole && !inclusive)
		x += lower ? 1 : -1;
	return x;
}

/* check_rule_values: a can't-happen since crm.validate_scoring_rules refuses more at save */
static void
check_rule_values(const char *rule, int n)
{
	if (n > CRM_SCORING_MAX_VALUES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("scoring rule %s has %d values: a rule has at most %d", rule, n, CRM_SCORING_MAX_VALUES)));
}

static void
parse_rule(Model *m, Rule *r, JsonbContainer *obj, ScoringCache *cache)
{
	char	   *field = json_string_field(obj, "field");
	char	   *name = json_string_field(obj, "name");
	char	   *group = json_string_field(obj, "group");
	JsonbContainer *c;
	JsonbValue	v;

	r->field = -1;
	for (int i = 0; i < (int) NFIELDS; i++)
		if (strcmp(score_fields[i], field) == 0)
			r->field = i;
	if (r->field < 0)
		elog(ERROR, "crm scoring model: %s is not a scored field", field);
	r->atttype = cache->field_types[r->field];
	r->is_enum = type_is_enum(r->atttype);
	r->group = model_group(m, group ? group : name);
	r->nranges = 0;
	r->nvalues = 0;
	r->points = json_int_field(obj, "points", 0);
	r->else_points = json_int_field(obj, "else", 0);

	if ((c = json_container_field(obj, "ranges")) != NULL)
	{
		r->kind = RULE_RANGES;
		r->nranges = JsonContainerSize(c);
		check_rule_values(name, r->nranges);
		r->ranges = palloc0(sizeof(Range) * r->nranges);
		for (int i = 0; i < r->nranges; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(c, i);
			JsonbContainer *ro = e->val.binary.data;
			Range	   *rg = &r->ranges[i];

			if (json_field(ro, "min", &v) || json_field(ro, "above", &v))
			{
				rg->has_lo = true;
				rg->lo_inclusive = json_field(ro, "min", &v);
				rg->lo_num = DatumGetNumericCopy(NumericGetDatum(v.val.numeric));
			}
			if (json_field(ro, "max", &v) || json_field(ro, "below", &v))
			{
				rg->has_hi = true;
				rg->hi_inclusive = json_field(ro, "max", &v);
				rg->hi_num = DatumGetNumericCopy(NumericGetDatum(v.val.numeric));
			}
			rg->points = json_int_field(ro, "points", 0);
			rg->fixed = (!rg->has_lo || numeric_fixed((struct varlena *) rg->lo_num, &rg->lo_fixed)) &&
				(!rg->has_hi || numeric_fixed((struct varlena *) rg->hi_num, &rg->hi_fixed));
			rg->lo_int = rg->has_lo ? whole_bound(rg->lo_num, true, rg->lo_inclusive) : PG_INT64_MIN;
			rg->hi_int = rg->has_hi ? whole_bound(rg->hi_num, false, rg->hi_inclusive) : PG_INT64_MAX;
		}
	}
	else if ((c = json_container_field(obj, "in")) != NULL)
	{
		r->kind = RULE_IN;
		r->nvalues = JsonContainerSize(c);
		check_rule_values(name, r->nvalues);
		r->values = palloc0(sizeof(ValuePoints) * r->nvalues);
		for (int i = 0; i < r->nvalues; i++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(c, i);

			value_for_column(&r->values[i], r->atttype, e->val.string.val, e->val.string.len);
			r->values[i].points = r->points;
		}
	}
	else if ((c = json_container_field(obj, "values")) != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(c);
		JsonbIteratorToken tok;
		int			n = 0;

		r->kind = RULE_VALUES;
		check_rule_values(name, JsonContainerSize(c));
		r->values = palloc0(sizeof(ValuePoints) * JsonContainerSize(c));
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				value_for_column(&r->values[n], r->atttype, v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE)
				r->values[n++].points = (int) json_number(&v);
		}
		r->nvalues = n;
	}
	else if (json_field(obj, "equals", &v) && v.type == jbvBool)
	{
		r->kind = RULE_EQUALS;
		r->equals = v.val.boolean;
	}
	else
		elog(ERROR, "crm scoring model: rule %s has no form", name);
}

/* parse_engagement_rule: {"name", "type", "outcome"?, "points", "half_life_days", "group"?, "reason"?} */
static void
parse_engagement_rule(Model *m, Rule *r, JsonbContainer *obj)
{
	char	   *name = json_string_field(obj, "name");
	char	   *group = json_string_field(obj, "group");
	JsonbValue	v;

	memset(r, 0, sizeof(Rule));
	r->kind = RULE_ENGAGEMENT;
	r->field = ENGAGEMENT_FIELD;
	r->group = model_group(m, group ? group : "engagement");
	r->activity_type = json_string_field(obj, "type");
	r->outcome = json_string_field(obj, "outcome");
	r->points = json_int_field(obj, "points", 0);
	if (!json_field(obj, "half_life_days", &v) || json_number(&v) <= 0)
		elog(ERROR, "crm scoring model: rule %s has no half-life", name);
	r->half_life = json_number(&v) * SECS_PER_DAY;
}

static void
parse_model(Model *m, Jsonb *rules, ScoringCache *cache)
{
	JsonbContainer *root = &rules->root;
	JsonbContainer *fit = json_container_field(root, "fit");
	JsonbContainer *engagement = json_container_field(root, "engagement");
	JsonbContainer *caps = json_container_field(root, "caps");
	int			nfit = fit ? JsonContainerSize(fit) : 0;
	int			nengagement = engagement ? JsonContainerSize(engagement) : 0;

	m->nrules = nfit + nengagement;
	if (m->nrules > MAX_RULES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a scoring model has at most %d rules", MAX_RULES)));
	/* fit rules first, then engagement rules: crm.lead_score_parts keeps that order */
	for (int i = 0; i < nfit; i++)
		parse_rule(m, &m->rules[i], getIthJsonbValueFromContainer(fit, i)->val.binary.data, cache);
	for (int i = 0; i < nengagement; i++)
		parse_engagement_rule(m, &m->rules[nfit + i], getIthJsonbValueFromContainer(engagement, i)->val.binary.data);
	for (int i = 0; i < m->nrules; i++)
		m->uses_field[m->rules[i].field] = true;
	if (caps != NULL)
		for (int g = 0; g < m->ngroups; g++)
		{
			m->group_caps[g] = json_int_field(caps, m->group_names[g], -1);
			m->has_caps |= m->group_caps[g] >= 0;
		}
	m->total_cap = Min(json_int_field(root, "total_cap", CRM_SCORING_MAX_POINTS), CRM_SCORING_MAX_POINTS);
}

/* tenant_slot: where a tenant's entry starts its probe (uuids are random enough: no need to hash them) */
static inline uint32
tenant_slot(const pg_uuid_t *tenant)
{
	uint64		a;
	uint64		b;

	memcpy(&a, tenant->data, sizeof(uint64));
	memcpy(&b, tenant->data + sizeof(uint64), sizeof(uint64));
	return (uint32) (((a ^ b) * UINT64CONST(0x9E3779B97F4A7C15)) >> 55) & (MODEL_SLOTS - 1);
}

/* push_pointer appends p to a growing array of pointers (in the current memory context) */
static void
push_pointer(void ***items, int *n, int *max, void *p)
{
	if (*n == *max)
	{
		*max = *max ? *max * 2 : 4;
		*items = *items ? repalloc(*items, sizeof(void *) * *max) : palloc(sizeof(void *) * *max);
	}
	(*items)[(*n)++] = p;
}

/*
 * model_for_document: the parsed model of a rules document (in mcxt): one parsed before for another
 * tenant when the documents are the same, else a new one.
 */
static Model *
model_for_document(ScoringCache *cache, Jsonb *rules, MemoryContext mcxt)
{
	MemoryContext old;
	Model	   *m;

	for (int i = 0; i < cache->nmodels; i++)
		if (VARSIZE(cache->models[i]->document) == VARSIZE(rules) &&
			memcmp(cache->models[i]->document, rules, VARSIZE(rules)) == 0)
			return cache->models[i];
	old = MemoryContextSwitchTo(mcxt);
	m = palloc0(sizeof(Model));
	m->document = (Jsonb *) palloc(VARSIZE(rules));
	memcpy(m->document, rules, VARSIZE(rules));
	parse_model(m, m->document, cache);
	push_pointer((void ***) &cache->models, &cache->nmodels, &cache->maxmodels, m);
	MemoryContextSwitchTo(old);
	return m;
}

/* load_model reads the tenant's active model (with the caller's rights) and enters it in the cache. */
static TenantModel *
load_model(ScoringCache *cache, pg_uuid_t *tenant, MemoryContext mcxt)
{
	MemoryContext old;
	TenantModel *tm;
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1];
	int			ret;
	int			guc_level;

	old = MemoryContextSwitchTo(mcxt);
	tm = palloc0(sizeof(TenantModel));
	memcpy(&tm->tenant, tenant, sizeof(pg_uuid_t));
	MemoryContextSwitchTo(old);

	if (!OidIsValid(scoring_models_relid))
		scoring_models_relid = get_relname_relid("scoring_models", get_namespace_oid("crm", false));
	args[0] = UUIDPGetDatum(tenant);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * On Citus a query scoring leads may run on the tenant's shard, and this read is then a query from a
	 * query on a shard, which Citus refuses unless told otherwise. It reads the same tenant's row of a
	 * colocated table, on the same node: allowed for the read (docs/design.md §9).
	 */
	guc_level = NewGUCNestLevel();
	if (GetConfigOption("citus.allow_nested_distributed_execution", true, false) != NULL)
		(void) set_config_option("citus.allow_nested_distributed_execution", "on", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	ret = SPI_execute_with_args("SELECT rules FROM crm.scoring_models WHERE tenant_id = $1 AND is_active",
								1, argtypes, args, NULL, true, 1);
	AtEOXact_GUC(true, guc_level);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the scoring model failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			tm->model = model_for_document(cache, DatumGetJsonbP(d), mcxt);
	}
	SPI_finish();

	old = MemoryContextSwitchTo(mcxt);
	push_pointer((void ***) &cache->tenants, &cache->ntenants, &cache->maxtenants, tm);
	MemoryContextSwitchTo(old);
	/* the slots stay at most half full; beyond that, find_model searches the list */
	if (cache->ntenants <= MODEL_SLOTS / 2)
	{
		uint32		h = tenant_slot(tenant);

		while (cache->slots[h] != NULL)
			h = (h + 1) & (MODEL_SLOTS - 1);
		cache->slots[h] = tm;
	}
	return tm;
}

/* find_model: the tenant's entry from the previous row, the slots, or the list; NULL if not loaded. */
static TenantModel *
find_model(ScoringCache *cache, pg_uuid_t *tenant)
{
	if (cache->last != NULL && memcmp(&cache->last->tenant, tenant, sizeof(pg_uuid_t)) == 0)
		return cache->last;
	if (cache->ntenants <= MODEL_SLOTS / 2)
	{
		for (uint32 h = tenant_slot(tenant); cache->slots[h] != NULL; h = (h + 1) & (MODEL_SLOTS - 1))
			if (memcmp(&cache->slots[h]->tenant, tenant, sizeof(pg_uuid_t)) == 0)
				return cache->slots[h];
		return NULL;
	}
	for (int i = 0; i < cache->ntenants; i++)
		if (memcmp(&cache->tenants[i]->tenant, tenant, sizeof(pg_uuid_t)) == 0)
			return cache->tenants[i];
	return NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Scoring
 * ------------------------------------------------------------------------------------------------ */

/*
 * Each rule reads its field as it lies in the row (a numeric as a fixed-point number where it fits, a
 * text's bytes), without copying; only a toasted value is detoasted, and freed when the rule is done.
 */

/* text_points: the points of an "in" or "values" rule for a text or char(n) value */
static int
text_points(const Rule *r, Datum d)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	const char *text;
	int			len;
	int			i;
	int			points;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = PG_DETOAST_DATUM(d);
	text = VARDATA_ANY(p);
	len = VARSIZE_ANY_EXHDR(p);
	if (r->atttype == BPCHAROID)
		while (len > 0 && text[len - 1] == ' ')
			len--;
	for (i = 0; i < r->nvalues; i++)
		if (len == r->values[i].len && pg_strncasecmp(text, r->values[i].text, len) == 0)
			break;
	if (i < r->nvalues)
		points = r->values[i].points;
	else
		/* an "in" rule gives its "else" points to any other known (not empty) text */
		points = (r->kind == RULE_IN && len > 0) ? r->else_points : 0;
	if ((Pointer) p != DatumGetPointer(d))
		pfree(p);
	return points;
}

/*
 * numeric_range_points: the points of the first range holding a numeric value, compared exactly: as
 * fixed-point integers where value and bounds fit, else as numerics.
 */
static int
numeric_range_points(const Rule *r, Datum d)
{
	struct varlena *p = (struct varlena *) DatumGetPointer(d);
	int128		x = 0;
	bool		fits;
	int			points = 0;

	if (VARATT_IS_EXTERNAL(p) || VARATT_IS_COMPRESSED(p))
		p = PG_DETOAST_DATUM(d);
	fits = numeric_fixed(p, &x);
	for (int i = 0; i < r->nranges; i++)
	{
		const Range *rg = &r->ranges[i];
		bool		in;

		if (fits && rg->fixed)
			in = (!rg->has_lo || (rg->lo_inclusive ? x >= rg->lo_fixed : x > rg->lo_fixed)) &&
				(!rg->has_hi || (rg->hi_inclusive ? x <= rg->hi_fixed : x < rg->hi_fixed));
		else
		{
			Datum		v = PointerGetDatum(p);
			int			c;

			in = true;
			if (rg->has_lo)
			{
				c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, v, NumericGetDatum(rg->lo_num)));
				in = rg->lo_inclusive ? c >= 0 : c > 0;
			}
			if (in && rg->has_hi)
			{
				c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, v, NumericGetDatum(rg->hi_num)));
				in = rg->hi_inclusive ? c <= 0 : c < 0;
			}
		}
		if (in)
		{
			points = rg->points;
			break;
		}
	}
	if ((Pointer) p != DatumGetPointer(d))
		pfree(p);
	return points;
}

/* decayed_count: the activities of one list of times (epoch seconds), each halved every half_life. */
static double
decayed_count(JsonbValue *list, double now, double half_life)
{
	JsonbContainer *c;
	double		sum = 0;
	int			n;

	if (list->type != jbvBinary || !JsonContainerIsArray(list->val.binary.data))
		return 0;
	c = list->val.binary.data;
	n = JsonContainerSize(c);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(c, i);

		if (e->type == jbvNumeric)
		{
			double		at = (double) DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(e->val.numeric)));

			sum += exp2(-Max(now - at, 0) / half_life);
		}
		pfree(e);
	}
	return sum;
}

/*
 * engagement_points: an engagement rule's points from the lead's summary
 * {"<type>": {"<outcome or empty>": [epoch seconds, ...]}}, rounded to the nearest whole point.
 */
static int
engagement_points(const Rule *r, Datum d, double now)
{
	Jsonb	   *summary = DatumGetJsonbP(d);
	JsonbValue	typebuf;
	JsonbValue *outcomes;
	double		sum = 0;

	if (!JB_ROOT_IS_OBJECT(summary))
		return 0;
	outcomes = getKeyJsonValueFromContainer(&summary->root, r->activity_type, strlen(r->activity_type), &typebuf);
	if (outcomes == NULL || outcomes->type != jbvBinary || !JsonContainerIsObject(outcomes->val.binary.data))
		return 0;
	if (r->outcome != NULL)
	{
		JsonbValue	listbuf;
		JsonbValue *list = getKeyJsonValueFromContainer(outcomes->val.binary.data, r->outcome, strlen(r->outcome),
														&listbuf);

		if (list != NULL)
			sum = decayed_count(list, now, r->half_life);
	}
	else
	{
		JsonbIterator *it = JsonbIteratorInit(outcomes->val.binary.data);
		JsonbIteratorToken tok;
		JsonbValue	v;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_VALUE)
				sum += decayed_count(&v, now, r->half_life);
	}
	if ((Pointer) summary != DatumGetPointer(d))
		pfree(summary);
	return (int) Min(floor(r->points * sum + 0.5), 10000.0);
}

/* rule_points: the points one rule gives a lead, from its field in fields (score_fields' order). */
static inline int
rule_points(const Rule *r, const NullableDatum *fields, double now)
{
	Datum		d = fields[r->field].value;

	if (fields[r->field].isnull)
		return 0;
	switch (r->kind)
	{
		case RULE_RANGES:
			if (r->atttype == NUMERICOID)
				return numeric_range_points(r, d);
			else
			{
				/* an integer column: the ranges as the whole numbers they hold */
				int64		x = r->atttype == INT4OID ? DatumGetInt32(d)
					: r->atttype == INT8OID ? DatumGetInt64(d) : DatumGetInt16(d);

				for (int i = 0; i < r->nranges; i++)
					if (x >= r->ranges[i].lo_int && x <= r->ranges[i].hi_int)
						return r->ranges[i].points;
				return 0;
			}
		case RULE_IN:
		case RULE_VALUES:
			if (r->is_enum)
			{
				Oid			label = DatumGetObjectId(d);

				for (int i = 0; i < r->nvalues; i++)
					if (label == r->values[i].enum_oid)
						return r->values[i].points;
				/* any other label is a known value */
				return r->kind == RULE_IN ? r->else_points : 0;
			}
			return text_points(r, d);
		case RULE_EQUALS:
			return DatumGetBool(d) == r->equals ? r->points : 0;
		case RULE_ENGAGEMENT:
			return engagement_points(r, d, now);
	}
	return 0;
}

/* now_epoch: the transaction's start in seconds since 1970, the time engagement decays to. */
static double
now_epoch(void)
{
	return (double) GetCurrentTransactionStartTimestamp() / USECS_PER_SEC +
		(double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

/*
 * score_fields_of scores a lead given its tenant and its scored fields (in score_fields' order); parts
 * (if not NULL) receives each rule's points. Returns -1 when the tenant has no active model.
 */
static int
score_fields_of(FunctionCallInfo fcinfo, ScoringCache *cache, pg_uuid_t *tenant, const NullableDatum *fields,
				int *parts, int *nparts)
{
	TenantModel *tm;
	Model	   *m;
	int			group_totals[MAX_GROUPS];
	int			total = 0;
	double		now = 0;

	if (cache->models_cxt == NULL)
		cache->models_cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "crm scoring models",
												  ALLOCSET_SMALL_SIZES);
	if (cache->generation != models_generation)
	{
		/*
		 * a model changed: forget the parsed ones and free them, so that a long statement (or a
		 * trigger's expression, which lives for its transaction) does not keep every model it ever
		 * parsed until it ends
		 */
		MemoryContextReset(cache->models_cxt);
		memset(cache->slots, 0, sizeof(cache->slots));
		cache->ntenants = cache->maxtenants = 0;
		cache->tenants = NULL;
		cache->nmodels = cache->maxmodels = 0;
		cache->models = NULL;
		cache->last = NULL;
		cache->generation = models_generation;
	}
	tm = find_model(cache, tenant);
	if (tm == NULL)
		tm = load_model(cache, tenant, cache->models_cxt);
	cache->last = tm;
	m = tm->model;
	if (m == NULL)
		return -1;

	if (m->uses_field[ENGAGEMENT_FIELD])
		now = now_epoch();

	if (!m->has_caps && parts == NULL)
	{
		/* no group caps (the default model): the total is the plain sum */
		for (int i = 0; i < m->nrules; i++)
			total += rule_points(&m->rules[i], fields, now);
	}
	else
	{
		memset(group_totals, 0, sizeof(int) * m->ngroups);
		for (int i = 0; i < m->nrules; i++)
		{
			int			p = rule_points(&m->rules[i], fields, now);

			if (parts)
				parts[i] = p;
			group_totals[m->rules[i].group] += p;
		}
		for (int g = 0; g < m->ngroups; g++)
			total += (m->group_caps[g] >= 0) ? Min(group_totals[g], m->group_caps[g]) : group_totals[g];
	}
	if (nparts)
		*nparts = m->nrules;
	return Min(total, m->total_cap);
}

/* score_row scores a whole crm.leads row: one pass over the row, then the scored fields. */
static int
score_row(FunctionCallInfo fcinfo, HeapTupleHeader row, int *parts, int *nparts)
{
	ScoringCache *cache = (ScoringCache *) fcinfo->flinfo->fn_extra;
	HeapTupleData tuple;
	Datum	   *values;
	bool	   *nulls;
	NullableDatum fields[NFIELDS];
	int			score;

	if (cache == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		TupleDesc	td = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));

		cache = palloc0(sizeof(ScoringCache));
		cache->tupdesc = CreateTupleDescCopy(td);
		ReleaseTupleDesc(td);
		for (int i = 0; i < cache->tupdesc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(cache->tupdesc, i);

			if (att->attisdropped)
				continue;
			if (strcmp(NameStr(att->attname), "tenant_id") == 0)
				cache->tenant_attno = i + 1;
			for (int f = 0; f < (int) NFIELDS; f++)
				if (strcmp(NameStr(att->attname), score_fields[f]) == 0)
				{
					cache->field_attnos[f] = i + 1;
					cache->field_types[f] = att->atttypid;
				}
		}
		if (cache->tenant_attno == 0)
			elog(ERROR, "crm scoring: the row has no tenant_id");
		for (int f = 0; f < (int) NFIELDS; f++)
			if (cache->field_attnos[f] == 0)
				elog(ERROR, "crm scoring: the row has no %s", score_fields[f]);
		fcinfo->flinfo->fn_extra = cache;
		MemoryContextSwitchTo(old);
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	/* the arrays live in the per-row context; freed here all the same */
	values = palloc(sizeof(Datum) * cache->tupdesc->natts);
	nulls = palloc(sizeof(bool) * cache->tupdesc->natts);
	heap_deform_tuple(&tuple, cache->tupdesc, values, nulls);
	for (int f = 0; f < (int) NFIELDS; f++)
	{
		fields[f].value = values[cache->field_attnos[f] - 1];
		fields[f].isnull = nulls[cache->field_attnos[f] - 1];
	}
	score = nulls[cache->tenant_attno - 1] ? -1
		: score_fields_of(fcinfo, cache, DatumGetUUIDP(values[cache->tenant_attno - 1]), fields, parts, nparts);
	pfree(values);
	pfree(nulls);
	return score;
}

PG_FUNCTION_INFO_V1(crm_lead_score);
Datum
crm_lead_score(PG_FUNCTION_ARGS)
{
	int			score = score_row(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0), NULL, NULL);

	if (score < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(score);
}

PG_FUNCTION_INFO_V1(crm_lead_score_parts);
Datum
crm_lead_score_parts(PG_FUNCTION_ARGS)
{
	int			parts[MAX_RULES];
	int			nparts = 0;
	Datum		elems[MAX_RULES];

	if (score_row(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0), parts, &nparts) < 0)
		PG_RETURN_NULL();
	for (int i = 0; i < nparts; i++)
		elems[i] = Int32GetDatum(parts[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, nparts, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * crm.lead_score_fields(tenant_id, employee_count, ...): the same score from the columns themselves.
 * The planner calls it in place of crm.lead_score(l) when l is a row of crm.leads (see the support
 * function below), so that a scan never has to build whole rows to score them.
 */
PG_FUNCTION_INFO_V1(crm_lead_score_fields);
Datum
crm_lead_score_fields(PG_FUNCTION_ARGS)
{
	ScoringCache *cache = (ScoringCache *) fcinfo->flinfo->fn_extra;
	int			score;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ScoringCache));
		for (int f = 0; f < (int) NFIELDS; f++)
			cache->field_types[f] = get_fn_expr_argtype(fcinfo->flinfo, f + 1);
		fcinfo->flinfo->fn_extra = cache;
	}
	/* the fields are the arguments after the tenant, in score_fields' order */
	score = score_fields_of(fcinfo, cache, PG_GETARG_UUID_P(0), &fcinfo->args[1], NULL, NULL);
	if (score < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(score);
}

/*
 * crm.lead_score(l), with l the whole row of the table crm.leads in the query (rtable: the range table
 * its Var refers to), as crm.lead_score_fields(l.tenant_id, l.employee_count, ...); NULL for anything
 * else (a row from a function, a subquery, an outer query), which is left as it is.
 */
static Node *
lead_score_of_columns(FuncExpr *fcall, List *rtable)
{
	Var		   *row;
	RangeTblEntry *rte;
	Oid			relid;
	List	   *args = NIL;
	Oid			argtypes[NFIELDS + 1];
	Oid			fn;
	List	   *fname;

	if (list_length(fcall->args) != 1 || !IsA(linitial(fcall->args), Var))
		return NULL;
	row = (Var *) linitial(fcall->args);
	if (row->varattno != 0 || row->varlevelsup != 0 || row->varno <= 0 || row->varno > list_length(rtable))
		return NULL;
	rte = rt_fetch(row->varno, rtable);
	relid = get_typ_typrelid(row->vartype);
	if (rte->rtekind != RTE_RELATION || !OidIsValid(relid) || rte->relid != relid)
		return NULL;

	for (int f = -1; f < (int) NFIELDS; f++)
	{
		const char *col = f < 0 ? "tenant_id" : score_fields[f];
		AttrNumber	attno = get_attnum(relid, col);
		Oid			type;
		int32		typmod;
		Oid			coll;

		if (attno == InvalidAttrNumber)
			return NULL;
		get_atttypetypmodcoll(relid, attno, &type, &typmod, &coll);
		args = lappend(args, makeVar(row->varno, attno, type, typmod, coll, 0));
		argtypes[f + 1] = type;
	}
	fname = list_make2(makeString("crm"), makeString("lead_score_fields"));
	fn = LookupFuncName(fname, NFIELDS + 1, argtypes, true);
	if (!OidIsValid(fn))
		return NULL;
	return (Node *) makeFuncExpr(fn, INT4OID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/*
 * Planner support for crm.lead_score: crm.lead_score(l) on a row of crm.leads becomes
 * crm.lead_score_fields(l.tenant_id, l.employee_count, ...) (lead_score_of_columns).
 */
PG_FUNCTION_INFO_V1(crm_lead_score_support);
Datum
crm_lead_score_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	if (req->root == NULL)
		PG_RETURN_POINTER(NULL);
	PG_RETURN_POINTER(lead_score_of_columns(req->fcall, req->root->parse->rtable));
}

/*
 * On Citus the same rewrite must come before the planner: Citus sends a query to the shards as SQL,
 * deparsed from the query tree it is given, in which crm.lead_score(l) would name the row of the
 * shard (crm.leads_102208), of a type no function takes. crm_scoring_rows_to_columns, called by the
 * planner hook of distribute.c on a node with a crm.node_key, rewrites every crm.lead_score(l) of the
 * query that the support function would (in subqueries, CTEs and sublinks too) before Citus plans.
 */
typedef struct RowsContext
{
	Oid			lead_score_fn;
	List	   *rtable;			/* the range table of the query being walked */
} RowsContext;

static Node *
rows_to_columns_mutator(Node *node, RowsContext *cx)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
	{
		List	   *outer = cx->rtable;
		Query	   *q;

		cx->rtable = ((Query *) node)->rtable;
		q = query_tree_mutator((Query *) node, rows_to_columns_mutator, cx, 0);
		cx->rtable = outer;
		return (Node *) q;
	}
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == cx->lead_score_fn)
	{
		Node	   *columns = lead_score_of_columns((FuncExpr *) node, cx->rtable);

		if (columns != NULL)
			return columns;
	}
	return expression_tree_mutator(node, rows_to_columns_mutator, cx);
}

Query *
crm_scoring_rows_to_columns(Query *parse)
{
	Oid			ns = get_namespace_oid("crm", true);
	Oid			leads = OidIsValid(ns) ? get_relname_relid("leads", ns) : InvalidOid;
	Oid			rowtype = OidIsValid(leads) ? get_rel_type_id(leads) : InvalidOid;
	RowsContext cx;

	if (!OidIsValid(rowtype))
		return parse;
	cx.lead_score_fn = LookupFuncName(list_make2(makeString("crm"), makeString("lead_score")), 1, &rowtype, true);
	cx.rtable = NIL;
	if (!crm_query_calls((Node *) parse, cx.lead_score_fn))
		return parse;
	return (Query *) rows_to_columns_mutator((Node *) parse, &cx);
}

/* ------------------------------------------------------------------------------------------------
 * Limits at save
 * ------------------------------------------------------------------------------------------------ */

/*
 * crm.scoring_limits() → jsonb: the limits the engine above holds models and engagement summaries to
 * (crm.h), for crm.validate_scoring_rules and crm.lead_engagement to read, so that the numbers they
 * check at save are the ones C applies when it reads.
 */
PG_FUNCTION_INFO_V1(crm_scoring_limits);
Datum
crm_scoring_limits(PG_FUNCTION_ARGS)
{
	char	   *doc = psprintf("{\"rules\": %d, \"values_per_rule\": %d, \"points\": %d, \"half_life_days\": %d, "
							   "\"engagement_times\": %d}",
							   CRM_SCORING_MAX_RULES, CRM_SCORING_MAX_VALUES, CRM_SCORING_MAX_POINTS,
							   CRM_SCORING_MAX_HALF_LIFE_DAYS, CRM_ENGAGEMENT_MAX_TIMES);

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(doc)));
}

/* path_key appends .key to a JSON path: bare when it is a plain word, else as a JSON string */
static void
path_key(StringInfo path, const char *key, int len)
{
	bool		plain = len > 0 && !isdigit((unsigned char) key[0]);

	for (int i = 0; i < len && plain; i++)
		plain = isalnum((unsigned char) key[i]) || key[i] == '_';
	appendStringInfoChar(path, '.');
	if (plain)
		appendBinaryStringInfo(path, key, len);
	else
	{
		char	   *k = pnstrdup(key, len);

		escape_json(path, k);
		pfree(k);
	}
}

static void
engagement_error(StringInfo path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid lead engagement at %s: %s", path->data, what),
			 errdetail("crm.leads.engagement is {\"<activity type>\": {\"<outcome, or empty>\": [epoch seconds, ...]}}, "
					   "at most %d times per type and outcome, kept by the database from the lead's activities.",
					   CRM_ENGAGEMENT_MAX_TIMES)));
}

/* epoch_seconds: whether a number is whole and within bigint (what decayed_count reads it as) */
static bool
epoch_seconds(Numeric n)
{
	Datum		d = NumericGetDatum(n);
	Datum		lo = DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MIN));
	Datum		hi = DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX));

	return DatumGetBool(DirectFunctionCall2(numeric_eq, DirectFunctionCall1(numeric_floor, d), d)) &&
		DatumGetBool(DirectFunctionCall2(numeric_ge, d, lo)) && DatumGetBool(DirectFunctionCall2(numeric_le, d, hi));
}

/*
 * crm.validate_lead_engagement(engagement jsonb) → jsonb: the summary itself when engagement rules can
 * read it (an object of activity types, each an object of outcomes, each an array of at most
 * CRM_ENGAGEMENT_MAX_TIMES whole epoch seconds within bigint); else 22023 naming the JSON path of the
 * bad part. One pass over the document.
 */
PG_FUNCTION_INFO_V1(crm_validate_lead_engagement);
Datum
crm_validate_lead_engagement(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc;
	StringInfoData path;
	JsonbIterator *types;
	JsonbIteratorToken tok;
	JsonbValue	type;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	doc = PG_GETARG_JSONB_P(0);
	initStringInfo(&path);
	appendStringInfoChar(&path, '$');
	if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
		engagement_error(&path, "an object of activity types is expected");
	types = JsonbIteratorInit(&doc->root);
	while ((tok = JsonbIteratorNext(&types, &type, true)) != WJB_DONE)
	{
		JsonbValue	outcomes;
		JsonbIterator *it;
		JsonbValue	outcome;
		int			type_len;

		if (tok != WJB_KEY)
			continue;
		path.len = 1;
		path_key(&path, type.val.string.val, type.val.string.len);
		type_len = path.len;
		if (JsonbIteratorNext(&types, &outcomes, true) != WJB_VALUE || outcomes.type != jbvBinary ||
			!JsonContainerIsObject(outcomes.val.binary.data))
			engagement_error(&path, "an object of outcomes is expected");
		it = JsonbIteratorInit(outcomes.val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &outcome, true)) != WJB_DONE)
		{
			JsonbValue	times;
			JsonbContainer *c;
			int			n;

			if (tok != WJB_KEY)
				continue;
			path.len = type_len;
			path.data[path.len] = '\0';
			path_key(&path, outcome.val.string.val, outcome.val.string.len);
			if (JsonbIteratorNext(&it, &times, true) != WJB_VALUE || times.type != jbvBinary ||
				!JsonContainerIsArray(times.val.binary.data))
				engagement_error(&path, "an array of epoch seconds is expected");
			c = times.val.binary.data;
			n = JsonContainerSize(c);
			if (n > CRM_ENGAGEMENT_MAX_TIMES)
			{
				appendStringInfo(&path, "[%d]", CRM_ENGAGEMENT_MAX_TIMES);
				engagement_error(&path, psprintf("at most %d times are kept", CRM_ENGAGEMENT_MAX_TIMES));
			}
			for (int i = 0; i < n; i++)
			{
				JsonbValue *e = getIthJsonbValueFromContainer(c, i);

				if (e->type != jbvNumeric || !epoch_seconds(e->val.numeric))
				{
					appendStringInfo(&path, "[%d]", i);
					engagement_error(&path, "epoch seconds (a whole number within bigint) are expected");
				}
				pfree(e);
			}
		}
	}
	pfree(path.data);
	PG_RETURN_JSONB_P(doc);
}
