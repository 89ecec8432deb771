/*
 * health.c: the arithmetic of customer health (src/health.sql gathers the inputs).
 *
 * crm.health_measures(inputs float8[]) turns an account's raw figures into four measures on 0-100,
 * each NULL when the account has no data for it; crm.health_score(measures, weights) is their weighted
 * mean, a missing measure left out and its weight spread over the others (never counted as 0). Both
 * are plain C functions of arrays: no catalog access, no allocation beyond the result.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "crm.h"

/* the inputs, in the order of crm.health_inputs() in src/health.sql */
enum
{
	IN_ACTIVITIES,				/* activities ever */
	IN_LAST_30,					/* activities in the last 30 days */
	IN_LAST_90,					/* ... in the last 90 days */
	IN_DAYS_SINCE_LAST,			/* days since the last activity (NULL: none) */
	IN_POSITIVE,				/* activities with a positive sentiment, last 90 days */
	IN_NEGATIVE,				/* ... negative */
	IN_RATED,					/* ... with any sentiment */
	IN_OPEN_OPPORTUNITIES,
	IN_CSAT,					/* mean satisfaction of cases, 1-5 (NULL: none rated) */
	IN_NPS,						/* mean NPS answer of the last year, 0-10 (NULL: none) */
	IN_CASES,					/* cases ever */
	IN_OPEN_CASES,
	IN_OVERDUE_CASES,			/* open for more than 7 days */
	IN_CLOSED_OPPORTUNITIES,	/* won or lost, ever */
	IN_WON_RECENT,				/* won amount, last 180 days */
	IN_WON_BEFORE,				/* won amount, the 180 days before */
	IN_LOST_RECENT,				/* opportunities lost, last 180 days */
	N_INPUTS
};

enum
{
	M_ENGAGEMENT,
	M_ACTIVITY,
	M_SATISFACTION,
	M_COMMERCIAL,
	N_MEASURES
};

static double
clamp100(double x)
{
	return x < 0 ? 0 : (x > 100 ? 100 : x);
}

/*
 * health_measures_of: the four measures from the inputs (in[i] valid unless isnull[i]); a measure is
 * NULL (out_null) when the account has no data for it.
 */
static void
health_measures_of(const double *in, const bool *isnull, double *out, bool *out_null)
{
#define V(i) (isnull[i] ? 0.0 : in[i])
	/* engagement: volume of the last 30 and 90 days, recency halving every 30 days, sentiment mix */
	if (V(IN_ACTIVITIES) > 0)
	{
		double		volume = clamp100(10 * V(IN_LAST_30) + 4 * (V(IN_LAST_90) - V(IN_LAST_30)));
		double		recency = isnull[IN_DAYS_SINCE_LAST] ? 0 : 100 * exp2(-in[IN_DAYS_SINCE_LAST] / 30);

		if (V(IN_RATED) > 0)
		{
			double		sentiment = 50 + 50 * (V(IN_POSITIVE) - V(IN_NEGATIVE)) / V(IN_RATED);

			out[M_ENGAGEMENT] = 0.4 * volume + 0.4 * recency + 0.2 * sentiment;
		}
		else
			out[M_ENGAGEMENT] = 0.5 * volume + 0.5 * recency;
		out_null[M_ENGAGEMENT] = false;
	}
	else
		out_null[M_ENGAGEMENT] = true;

	/* activity: days since the last activity (halving every 45 days), open opportunities */
	if (V(IN_ACTIVITIES) > 0 || V(IN_OPEN_OPPORTUNITIES) > 0)
	{
		double		recency = isnull[IN_DAYS_SINCE_LAST] ? 0 : 100 * exp2(-in[IN_DAYS_SINCE_LAST] / 45);

		out[M_ACTIVITY] = clamp100(0.7 * recency + 30 * Min(V(IN_OPEN_OPPORTUNITIES), 1.0));
		out_null[M_ACTIVITY] = false;
	}
	else
		out_null[M_ACTIVITY] = true;

	/* satisfaction: CSAT and NPS (each on 0-100, their mean), less open and overdue cases */
	if (!isnull[IN_CSAT] || !isnull[IN_NPS] || V(IN_CASES) > 0)
	{
		double		sum = 0;
		int			n = 0;

		if (!isnull[IN_CSAT])
		{
			sum += (in[IN_CSAT] - 1) * 25;
			n++;
		}
		if (!isnull[IN_NPS])
		{
			sum += in[IN_NPS] * 10;
			n++;
		}
		out[M_SATISFACTION] = clamp100((n > 0 ? sum / n : 75) - 5 * V(IN_OPEN_CASES) - 10 * V(IN_OVERDUE_CASES));
		out_null[M_SATISFACTION] = false;
	}
	else
		out_null[M_SATISFACTION] = true;

	/*
	 * commercial: won revenue of the last 180 days against the 180 before (60 when even, 100 from
	 * doubled, 20 when nothing was won lately; 100 for a first win, 50 without wins in a year), less
	 * 10 per deal lost in the last 180 days
	 */
	if (V(IN_CLOSED_OPPORTUNITIES) > 0)
	{
		double		recent = V(IN_WON_RECENT);
		double		before = V(IN_WON_BEFORE);
		double		trend;

		/* a past buyer buying less is a warning, not a loss: 20 when nothing was won lately */
		if (before > 0)
			trend = 60 + 40 * Max(-1.0, Min(1.0, (recent - before) / before));
		else
			trend = recent > 0 ? 100 : 50;
		out[M_COMMERCIAL] = clamp100(trend - 10 * V(IN_LOST_RECENT));
		out_null[M_COMMERCIAL] = false;
	}
	else
		out_null[M_COMMERCIAL] = true;
#undef V
}

/* float8 array helpers */
static int
float8_array(ArrayType *a, double **values, bool **nulls)
{
	Datum	   *d;
	int			n;

	if (ARR_NDIM(a) > 1 || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a one-dimensional float8 array is expected")));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, nulls, &n);
	*values = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
		(*values)[i] = (*nulls)[i] ? 0 : DatumGetFloat8(d[i]);
	pfree(d);
	return n;
}

PG_FUNCTION_INFO_V1(crm_health_measures);
Datum
crm_health_measures(PG_FUNCTION_ARGS)
{
	double	   *in;
	bool	   *isnull;
	double		out[N_MEASURES];
	bool		out_null[N_MEASURES];
	Datum		elems[N_MEASURES];
	int			dims[1] = {N_MEASURES};
	int			lbs[1] = {1};
	int			n = float8_array(PG_GETARG_ARRAYTYPE_P(0), &in, &isnull);

	if (n != N_INPUTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("crm.health_measures takes %d inputs, not %d", N_INPUTS, n)));
	health_measures_of(in, isnull, out, out_null);
	for (int i = 0; i < N_MEASURES; i++)
		elems[i] = Float8GetDatum(out_null[i] ? 0 : round(out[i] * 100) / 100);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, out_null, 1, dims, lbs, FLOAT8OID, sizeof(float8),
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * crm.health_score(measures float8[], weights float8[]) → integer: the weighted mean of the measures
 * that are not NULL (weights of the missing ones spread over the others), rounded; NULL when no
 * measure has data or the remaining weights sum to 0.
 */
PG_FUNCTION_INFO_V1(crm_health_score);
Datum
crm_health_score(PG_FUNCTION_ARGS)
{
	double	   *m;
	double	   *w;
	bool	   *mnull;
	bool	   *wnull;
	int			nm = float8_array(PG_GETARG_ARRAYTYPE_P(0), &m, &mnull);
	int			nw = float8_array(PG_GETARG_ARRAYTYPE_P(1), &w, &wnull);
	double		sum = 0;
	double		weight = 0;

	if (nm != nw)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d measures but %d weights", nm, nw)));
	for (int i = 0; i < nm; i++)
	{
		if (wnull[i] || w[i] < 0 || isnan(w[i]) || isinf(w[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weight %d is not a number of 0 or more", i + 1)));
		if (mnull[i])
			continue;
		if (m[i] < 0 || m[i] > 100 || isnan(m[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("measure %d is %g: measures are on 0-100", i + 1, m[i])));
		sum += m[i] * w[i];
		weight += w[i];
	}
	if (weight <= 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32((int32) floor(sum / weight + 0.5));
}


/*
 * crm.activity_stats(occurred_at, sentiment, since_30, since_90): an aggregate of one account's (or
 * contact's, or opportunity's) activities, the activity inputs of health in one transition call per row
 * instead of seven filtered counts: {activities, in the last 30 days, in the last 90 days, the latest
 * (Unix epoch seconds, -Infinity for none), positive, negative and rated ones of the last 90 days}. The
 * state is that float8[7] itself, changed in place (as float8_accum does); the combine function adds
 * two of them, so the aggregate is parallel safe with a concrete state.
 */
enum
{
	AS_N,
	AS_N30,
	AS_N90,
	AS_LAST,
	AS_POSITIVE,
	AS_NEGATIVE,
	AS_RATED,
	N_ACTIVITY_STATS
};

/* activity_stats_values: the seven values of a state, checked (a state can be any float8[] given) */
static float8 *
activity_stats_values(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != N_ACTIVITY_STATS || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("an activity_stats state is a float8[] of %d values without NULLs", N_ACTIVITY_STATS)));
	/* no NULLs, one dimension: the data follow the fixed header (ARR_DATA_PTR, without its sign warning) */
	return (float8 *) (((char *) a) + ARR_OVERHEAD_NONULLS(1));
}

/* The OIDs of the sentiment labels positive and negative, looked up once per query. */
typedef struct SentimentLabels
{
	Oid			type;
	Oid			positive;
	Oid			negative;
} SentimentLabels;

static Oid
enum_label_oid(Oid type, const char *label)
{
	HeapTuple	tup = SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(type), CStringGetDatum(label));
	Oid			oid;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "enum %s has no label %s", format_type_be(type), label);
	oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
	ReleaseSysCache(tup);
	return oid;
}

static SentimentLabels *
sentiment_labels(FunctionCallInfo fcinfo)
{
	SentimentLabels *labels = (SentimentLabels *) fcinfo->flinfo->fn_extra;
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 2);

	if (labels == NULL || labels->type != type)
	{
		if (!OidIsValid(type))
			elog(ERROR, "crm_activity_stats_add: unknown sentiment type");
		labels = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(SentimentLabels));
		labels->type = type;
		labels->positive = enum_label_oid(type, "positive");
		labels->negative = enum_label_oid(type, "negative");
		fcinfo->flinfo->fn_extra = labels;
	}
	return labels;
}

PG_FUNCTION_INFO_V1(crm_activity_stats_add);
Datum
crm_activity_stats_add(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *v;
	TimestampTz at;
	double		epoch;
	bool		recent;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "crm_activity_stats_add called in non-aggregate context");
	if (PG_ARGISNULL(0))
		elog(ERROR, "crm_activity_stats_add: the state cannot be NULL");
	state = PG_GETARG_ARRAYTYPE_P(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_ARRAYTYPE_P(state);
	v = activity_stats_values(state);
	at = PG_GETARG_TIMESTAMPTZ(1);
	epoch = (double) at / USECS_PER_SEC + (double) ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	v[AS_N] += 1;
	if (at > PG_GETARG_TIMESTAMPTZ(3))
		v[AS_N30] += 1;
	recent = at > PG_GETARG_TIMESTAMPTZ(4);
	if (recent)
		v[AS_N90] += 1;
	if (epoch > v[AS_LAST])
		v[AS_LAST] = epoch;
	if (recent && !PG_ARGISNULL(2))
	{
		SentimentLabels *labels = sentiment_labels(fcinfo);
		Oid			sentiment = PG_GETARG_OID(2);

		v[AS_RATED] += 1;
		if (sentiment == labels->positive)
			v[AS_POSITIVE] += 1;
		else if (sentiment == labels->negative)
			v[AS_NEGATIVE] += 1;
	}
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(crm_activity_stats_merge);
Datum
crm_activity_stats_merge(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	float8	   *v;
	float8	   *w;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "crm_activity_stats_merge called in non-aggregate context");
	state = PG_GETARG_ARRAYTYPE_P(0);
	v = activity_stats_values(state);
	w = activity_stats_values(PG_GETARG_ARRAYTYPE_P(1));
	for (int i = 0; i < N_ACTIVITY_STATS; i++)
	{
		if (i == AS_LAST)
			v[i] = Max(v[i], w[i]);
		else
			v[i] += w[i];
	}
	PG_RETURN_ARRAYTYPE_P(state);
}
