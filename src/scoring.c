/*
 * scoring.c: the lead scoring engine. crm.lead_score(lead) and crm.lead_score_parts(lead) score a lead
 * row by its tenant's active model (crm.scoring_models, rules described in src/scoring.sql).
 *
 * A model is read (SPI) and parsed into plain C structures the first time a query scores a lead of
 * its tenant; the parsed model stays in the function's fn_extra for the rest of the query (found again
 * per row through a small hash table on the tenant id), so a scan of a million leads parses each
 * tenant's model once and then only compares numbers and strings. Nothing is allocated per row beyond
 * what the executor's per-row context takes back (a detoasted text or numeric).
 *
 * Engagement rules score a lead's activities from the summary the lead row carries (crm.leads.engagement,
 * kept by a trigger on crm.activities: per activity type and outcome, the times of the latest ones), so
 * scoring never queries crm.activities: each activity is worth the rule's points halved every
 * half_life_days since it occurred, as of the transaction's start.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
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

#define MAX_RULES 64
#define MAX_GROUPS 64
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
	double		lo;
	Numeric		lo_num;			/* the same bound as a numeric, for numeric columns */
	bool		has_hi;
	bool		hi_inclusive;
	double		hi;
	Numeric		hi_num;
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

typedef struct Model
{
	pg_uuid_t	tenant;
	bool		found;			/* the tenant has an active model */
	int			nrules;
	Rule		rules[MAX_RULES];
	int			ngroups;
	char	   *group_names[MAX_GROUPS];
	int			group_caps[MAX_GROUPS]; /* -1: no cap */
	int			total_cap;
	bool		uses_field[NFIELDS];	/* some rule reads the field */
} Model;

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
	scoring_models_relid = RelationGetRelid(trigdata->tg_relation);
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/* what a query keeps between rows */
typedef struct ScoringCache
{
	uint64		generation;		/* models_generation when the models below were parsed */
	Oid			field_types[NFIELDS];	/* the type of each scored field */
	TupleDesc	tupdesc;		/* whole-row entry points: crm.leads, in fn_mcxt */
	int			tenant_attno;
	int			field_attnos[NFIELDS];
	Model	   *last;			/* the model used for the previous row */
	Model	   *slots[MODEL_SLOTS]; /* open addressing on the tenant id */
	int			nmodels;
	int			maxmodels;
	Model	  **models;			/* every model loaded, in load order */
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
	if (type_is_enum(atttype))
	{
		HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(atttype), CStringGetDatum(vp->text));

		if (HeapTupleIsValid(tup))
		{
			vp->enum_oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
			ReleaseSysCache(tup);
		}
	}
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
				rg->lo = json_number(&v);
				rg->lo_num = DatumGetNumericCopy(NumericGetDatum(v.val.numeric));
			}
			if (json_field(ro, "max", &v) || json_field(ro, "below", &v))
			{
				rg->has_hi = true;
				rg->hi_inclusive = json_field(ro, "max", &v);
				rg->hi = json_number(&v);
				rg->hi_num = DatumGetNumericCopy(NumericGetDatum(v.val.numeric));
			}
			rg->points = json_int_field(ro, "points", 0);
		}
	}
	else if ((c = json_container_field(obj, "in")) != NULL)
	{
		r->kind = RULE_IN;
		r->nvalues = JsonContainerSize(c);
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
			m->group_caps[g] = json_int_field(caps, m->group_names[g], -1);
	m->total_cap = Min(json_int_field(root, "total_cap", 100), 100);
}

/* load_model reads the tenant's active model (with the caller's rights) and parses it into mcxt. */
static Model *
load_model(ScoringCache *cache, pg_uuid_t *tenant, MemoryContext mcxt)
{
	MemoryContext old;
	Model	   *m;
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1];
	int			ret;

	old = MemoryContextSwitchTo(mcxt);
	m = palloc0(sizeof(Model));
	memcpy(&m->tenant, tenant, sizeof(pg_uuid_t));
	MemoryContextSwitchTo(old);

	if (!OidIsValid(scoring_models_relid))
		scoring_models_relid = get_relname_relid("scoring_models", get_namespace_oid("crm", false));
	args[0] = UUIDPGetDatum(tenant);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT rules FROM crm.scoring_models WHERE tenant_id = $1 AND is_active",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the scoring model failed: %s", SPI_result_code_string(ret));
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			old = MemoryContextSwitchTo(mcxt);
			parse_model(m, DatumGetJsonbPCopy(d), cache);
			m->found = true;
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();

	old = MemoryContextSwitchTo(mcxt);
	if (cache->nmodels == cache->maxmodels)
	{
		cache->maxmodels = cache->maxmodels ? cache->maxmodels * 2 : 4;
		cache->models = cache->models ? repalloc(cache->models, sizeof(Model *) * cache->maxmodels)
			: palloc(sizeof(Model *) * cache->maxmodels);
	}
	cache->models[cache->nmodels++] = m;
	MemoryContextSwitchTo(old);
	/* the slots stay at most half full; beyond that, find_model searches the list */
	if (cache->nmodels <= MODEL_SLOTS / 2)
	{
		uint32		h = hash_bytes((const unsigned char *) tenant, sizeof(pg_uuid_t)) & (MODEL_SLOTS - 1);

		while (cache->slots[h] != NULL)
			h = (h + 1) & (MODEL_SLOTS - 1);
		cache->slots[h] = m;
	}
	return m;
}

/* find_model: the tenant's model from the previous row, the slots, or the list; NULL if not loaded. */
static Model *
find_model(ScoringCache *cache, pg_uuid_t *tenant)
{
	if (cache->last != NULL && memcmp(&cache->last->tenant, tenant, sizeof(pg_uuid_t)) == 0)
		return cache->last;
	if (cache->nmodels <= MODEL_SLOTS / 2)
	{
		uint32		h = hash_bytes((const unsigned char *) tenant, sizeof(pg_uuid_t)) & (MODEL_SLOTS - 1);

		for (; cache->slots[h] != NULL; h = (h + 1) & (MODEL_SLOTS - 1))
			if (memcmp(&cache->slots[h]->tenant, tenant, sizeof(pg_uuid_t)) == 0)
				return cache->slots[h];
		return NULL;
	}
	for (int i = 0; i < cache->nmodels; i++)
		if (memcmp(&cache->models[i]->tenant, tenant, sizeof(pg_uuid_t)) == 0)
			return cache->models[i];
	return NULL;
}

/* ------------------------------------------------------------------------------------------------
 * Scoring
 * ------------------------------------------------------------------------------------------------ */

static bool
text_matches(ValuePoints *vp, Datum d, Oid atttype, bool is_enum)
{
	text	   *t;
	char	   *s;
	int			len;
	bool		match;

	if (is_enum)
		return DatumGetObjectId(d) == vp->enum_oid;
	t = DatumGetTextPP(d);
	s = VARDATA_ANY(t);
	len = VARSIZE_ANY_EXHDR(t);
	if (atttype == BPCHAROID)
		while (len > 0 && s[len - 1] == ' ')
			len--;
	match = len == vp->len && pg_strncasecmp(s, vp->text, len) == 0;
	if ((Pointer) t != DatumGetPointer(d))
		pfree(t);
	return match;
}

/* range_matches: whether a column value lies in a range (numerics compared as numerics, exactly). */
static bool
range_matches(Range *rg, Datum d, Oid atttype)
{
	if (atttype == NUMERICOID)
	{
		if (rg->has_lo)
		{
			int			c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, d, NumericGetDatum(rg->lo_num)));

			if (rg->lo_inclusive ? c < 0 : c <= 0)
				return false;
		}
		if (rg->has_hi)
		{
			int			c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, d, NumericGetDatum(rg->hi_num)));

			if (rg->hi_inclusive ? c > 0 : c >= 0)
				return false;
		}
		return true;
	}
	else
	{
		double		x;

		switch (atttype)
		{
			case INT4OID:
				x = (double) DatumGetInt32(d);
				break;
			case INT8OID:
				x = (double) DatumGetInt64(d);
				break;
			case INT2OID:
				x = (double) DatumGetInt16(d);
				break;
			default:
				elog(ERROR, "crm scoring: unsupported numeric column type %u", atttype);
		}
		if (rg->has_lo && (rg->lo_inclusive ? x < rg->lo : x <= rg->lo))
			return false;
		if (rg->has_hi && (rg->hi_inclusive ? x > rg->hi : x >= rg->hi))
			return false;
		return true;
	}
}

static bool
is_known_text(Datum d, bool is_enum)
{
	text	   *t;
	bool		known;

	if (is_enum)
		return true;
	t = DatumGetTextPP(d);
	known = VARSIZE_ANY_EXHDR(t) > 0;
	if ((Pointer) t != DatumGetPointer(d))
		pfree(t);
	return known;
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
engagement_points(Rule *r, Datum d, double now)
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

/* rule_points: the points one rule gives a lead (its scored fields in values/nulls). */
static int
rule_points(Rule *r, Datum *values, bool *nulls, double now)
{
	Datum		d = values[r->field];

	if (nulls[r->field])
		return 0;
	switch (r->kind)
	{
		case RULE_RANGES:
			for (int i = 0; i < r->nranges; i++)
				if (range_matches(&r->ranges[i], d, r->atttype))
					return r->ranges[i].points;
			return 0;
		case RULE_IN:
			for (int i = 0; i < r->nvalues; i++)
				if (text_matches(&r->values[i], d, r->atttype, r->is_enum))
					return r->values[i].points;
			return is_known_text(d, r->is_enum) ? r->else_points : 0;
		case RULE_VALUES:
			for (int i = 0; i < r->nvalues; i++)
				if (text_matches(&r->values[i], d, r->atttype, r->is_enum))
					return r->values[i].points;
			return 0;
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
 * score_fields_of scores a lead given its tenant and its scored fields; parts (if not NULL) receives
 * each rule's points. Returns -1 when the tenant has no active model.
 */
static int
score_fields_of(FunctionCallInfo fcinfo, ScoringCache *cache, pg_uuid_t *tenant, Datum *values, bool *nulls,
				int *parts, int *nparts)
{
	Model	   *m;
	int			group_totals[MAX_GROUPS];
	int			total = 0;
	Datum		original[NFIELDS];
	double		now = 0;

	if (cache->generation != models_generation)
	{
		/* a model changed: forget the parsed ones (they go with the function's context) */
		memset(cache->slots, 0, sizeof(cache->slots));
		cache->nmodels = 0;
		cache->last = NULL;
		cache->generation = models_generation;
	}
	m = find_model(cache, tenant);
	if (m == NULL)
		m = load_model(cache, tenant, fcinfo->flinfo->fn_mcxt);
	cache->last = m;
	if (!m->found)
		return -1;

	/* numerics are detoasted once per row rather than once per comparison */
	for (int f = 0; f < (int) NFIELDS; f++)
	{
		original[f] = values[f];
		if (m->uses_field[f] && !nulls[f] && cache->field_types[f] == NUMERICOID)
			values[f] = PointerGetDatum(PG_DETOAST_DATUM(values[f]));
	}
	if (m->uses_field[ENGAGEMENT_FIELD])
		now = now_epoch();

	memset(group_totals, 0, sizeof(int) * m->ngroups);
	for (int i = 0; i < m->nrules; i++)
	{
		int			p = rule_points(&m->rules[i], values, nulls, now);

		if (parts)
			parts[i] = p;
		group_totals[m->rules[i].group] += p;
	}
	if (nparts)
		*nparts = m->nrules;
	for (int f = 0; f < (int) NFIELDS; f++)
		if (values[f] != original[f])
		{
			pfree(DatumGetPointer(values[f]));
			values[f] = original[f];
		}
	for (int g = 0; g < m->ngroups; g++)
		total += (m->group_caps[g] >= 0) ? Min(group_totals[g], m->group_caps[g]) : group_totals[g];
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
	Datum		fv[NFIELDS];
	bool		fn[NFIELDS];
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
		fv[f] = values[cache->field_attnos[f] - 1];
		fn[f] = nulls[cache->field_attnos[f] - 1];
	}
	score = nulls[cache->tenant_attno - 1] ? -1
		: score_fields_of(fcinfo, cache, DatumGetUUIDP(values[cache->tenant_attno - 1]), fv, fn, parts, nparts);
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
	Datum		fv[NFIELDS];
	bool		fn[NFIELDS];
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
	for (int f = 0; f < (int) NFIELDS; f++)
	{
		fn[f] = PG_ARGISNULL(f + 1);
		fv[f] = fn[f] ? (Datum) 0 : PG_GETARG_DATUM(f + 1);
	}
	score = score_fields_of(fcinfo, cache, PG_GETARG_UUID_P(0), fv, fn, NULL, NULL);
	if (score < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(score);
}

/*
 * Planner support for crm.lead_score: crm.lead_score(l), with l the whole row of the table crm.leads in
 * the query, becomes crm.lead_score_fields(l.tenant_id, l.employee_count, ...). Anything else (a row
 * from a function, a subquery, an outer query) is left as it is.
 */
PG_FUNCTION_INFO_V1(crm_lead_score_support);
Datum
crm_lead_score_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	Var		   *row;
	RangeTblEntry *rte;
	Oid			relid;
	List	   *args = NIL;
	Oid			argtypes[NFIELDS + 1];
	Oid			fn;
	List	   *fname;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	if (req->root == NULL || list_length(req->fcall->args) != 1 || !IsA(linitial(req->fcall->args), Var))
		PG_RETURN_POINTER(NULL);
	row = (Var *) linitial(req->fcall->args);
	if (row->varattno != 0 || row->varlevelsup != 0 || row->varno <= 0 ||
		row->varno > list_length(req->root->parse->rtable))
		PG_RETURN_POINTER(NULL);
	rte = rt_fetch(row->varno, req->root->parse->rtable);
	relid = get_typ_typrelid(row->vartype);
	if (rte->rtekind != RTE_RELATION || !OidIsValid(relid) || rte->relid != relid)
		PG_RETURN_POINTER(NULL);

	for (int f = -1; f < (int) NFIELDS; f++)
	{
		const char *col = f < 0 ? "tenant_id" : score_fields[f];
		AttrNumber	attno = get_attnum(relid, col);
		Oid			type;
		int32		typmod;
		Oid			coll;

		if (attno == InvalidAttrNumber)
			PG_RETURN_POINTER(NULL);
		get_atttypetypmodcoll(relid, attno, &type, &typmod, &coll);
		args = lappend(args, makeVar(row->varno, attno, type, typmod, coll, 0));
		argtypes[f + 1] = type;
	}
	fname = list_make2(makeString("crm"), makeString("lead_score_fields"));
	fn = LookupFuncName(fname, NFIELDS + 1, argtypes, true);
	if (!OidIsValid(fn))
		PG_RETURN_POINTER(NULL);
	PG_RETURN_POINTER(makeFuncExpr(fn, INT4OID, args, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
}
