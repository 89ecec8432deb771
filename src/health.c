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

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "crm.h"

/* the inputs, in the order crm.refresh_health_scores_tenant() in src/health.sql gathers them */
enum
{
	IN_ACTIVITIES,				/* any activity up to the day: 0 = none (the refresh gives 0 or 1) */
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

/*
 * float8_array reads a one-dimensional float8 array straight from its stored form into values and
 * nulls (one allocation, in the per-row context); returns its length.
 */
static int
float8_array(ArrayType *a, double **values, bool **nulls)
{
	int			n;
	const char *data;
	bits8	   *bitmap;

	if (ARR_NDIM(a) > 1 || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a one-dimensional float8 array is expected")));
	n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
	*values = palloc(Max(n, 1) * (sizeof(double) + sizeof(bool)));
	*nulls = (bool *) (*values + Max(n, 1));
	/* (ARR_DATA_PTR's offset, spelled out: its own ?: mixes signedness, which -Wextra refuses) */
	data = (const char *) a + (ARR_HASNULL(a) ? (Size) a->dataoffset : ARR_OVERHEAD_NONULLS(ARR_NDIM(a)));
	bitmap = ARR_NULLBITMAP(a);
	for (int i = 0; i < n; i++)
	{
		(*nulls)[i] = bitmap != NULL && (bitmap[i / 8] & (1 << (i % 8))) == 0;
		if ((*nulls)[i])
			(*values)[i] = 0;
		else
		{
			memcpy(&(*values)[i], data, sizeof(double));
			data += sizeof(double);
		}
	}
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
 * crm.health_factors(inputs float8[], measures float8[], weights float8[]) → jsonb: what a snapshot
 * shows of how its score came about: each measure with its value and the weight it had (0 when it had
 * no data), and the inputs behind them. The same document as nested jsonb_build_object calls, at a
 * fraction of their cost (a refresh writes one per account): the objects are built as JsonbValue trees
 * with their keys already in jsonb's order (shorter keys first, then bytewise), so nothing is sorted
 * per row, and the numbers become numerics without going through text where that gives the same value.
 */

/* cents / 100 as the numeric of its shortest text: 9381 -> 93.81, 9380 -> 93.8, 9300 -> 93 */
static Numeric
cents_numeric(int64 cents)
{
	if (cents % 100 == 0)
		return int64_to_numeric(cents / 100);
	if (cents % 10 == 0)
		return int64_div_fast_to_numeric(cents / 10, 1);
	return int64_div_fast_to_numeric(cents, 2);
}

/*
 * A float8 as jsonb turns it: through its text form (so 0.1 + 0.2 stays 0.30000000000000004),
 * non-finite ones as strings. A whole number, or one that is exactly the double nearest to a number of
 * cents (below 10^12 no shorter decimal is that near, so that is its text), is made without the text.
 */
static void
float8_jsonb(JsonbValue *v, double x, bool isnull)
{
	if (isnull)
	{
		v->type = jbvNull;
		return;
	}
	v->type = jbvNumeric;
	if (x == floor(x) && fabs(x) < 1e15)
	{
		v->val.numeric = int64_to_numeric((int64) x);
		return;
	}
	if (fabs(x) < 1e12)
	{
		double		cents = round(x * 100);

		if (cents / 100 == x)
		{
			v->val.numeric = cents_numeric((int64) cents);
			return;
		}
	}
	{
		char	   *text = DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(x)));

		if (isnan(x) || isinf(x))
		{
			v->type = jbvString;
			v->val.string.val = text;
			v->val.string.len = strlen(text);
		}
		else
			v->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
																 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	}
}

/*
 * x::numeric rounded to 2 decimals, as round(x::numeric, 2): the cast keeps 15 significant digits, then
 * the rounding is half away from zero. Below 10^6 the 15 digits are within 10^-9 of x, so unless x is
 * that near a half cent the nearest cent of x is the answer; otherwise through the numerics themselves.
 */
static void
round2_jsonb(JsonbValue *v, double x, bool isnull)
{
	if (isnull || isnan(x) || isinf(x))
	{
		float8_jsonb(v, x, isnull);
		return;
	}
	v->type = jbvNumeric;
	if (fabs(x) < 1e6)
	{
		double		y = fabs(x) * 100;
		double		whole = floor(y);
		double		frac = y - whole;

		if (fabs(frac - 0.5) > 1e-6)
		{
			int64		cents = (int64) (frac > 0.5 ? whole + 1 : whole);

			v->val.numeric = int64_div_fast_to_numeric(x < 0 ? -cents : cents, 2);
			return;
		}
	}
	v->val.numeric = DatumGetNumeric(DirectFunctionCall2(numeric_round,
														 DirectFunctionCall1(float8_numeric, Float8GetDatum(x)),
														 Int32GetDatum(2)));
}

static void
set_key(JsonbPair *pair, const char *key, uint32 order)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = strlen(key);
	pair->order = order;
}

static void
set_object(JsonbValue *v, JsonbPair *pairs, int n)
{
	v->type = jbvObject;
	v->val.object.nPairs = n;
	v->val.object.pairs = pairs;
}

/* jsonb's order of keys: shorter first, then bytewise (as lengthCompareJsonbStringValue) */
static int
key_order(const void *a, const void *b)
{
	const char *x = *(const char *const *) a;
	const char *y = *(const char *const *) b;
	size_t		lx = strlen(x);
	size_t		ly = strlen(y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return memcmp(x, y, lx);
}

enum
{
	F_VALUE,
	F_WEIGHT,
	N_MEASURE_KEYS
};

PG_FUNCTION_INFO_V1(crm_health_factors);
Datum
crm_health_factors(PG_FUNCTION_ARGS)
{
	/* the document's keys; the inputs shown (days since the last activity floored, CSAT and NPS to 2 decimals) */
	static const char *const measure_names[N_MEASURES] = {"engagement", "activity", "satisfaction", "commercial"};
	static const struct
	{
		const char *name;
		int			input;
	}			shown[] = {
		{"activities_30d", IN_LAST_30}, {"activities_90d", IN_LAST_90},
		{"days_since_last_activity", IN_DAYS_SINCE_LAST}, {"open_opportunities", IN_OPEN_OPPORTUNITIES},
		{"csat", IN_CSAT}, {"nps", IN_NPS}, {"open_cases", IN_OPEN_CASES}, {"overdue_cases", IN_OVERDUE_CASES},
		{"won_last_180d", IN_WON_RECENT}, {"won_previous_180d", IN_WON_BEFORE}, {"lost_last_180d", IN_LOST_RECENT},
	};
#define N_SHOWN lengthof(shown)
	/* the top level's keys in jsonb's order ("inputs" among the measures), and the inputs', sorted once */
	static const char *top_keys[N_MEASURES + 1];
	static int	top_measure[N_MEASURES + 1];	/* the measure of each top-level key; -1: "inputs" */
	static const char *shown_keys[N_SHOWN];
	static int	shown_input[N_SHOWN];
	double	   *in;
	double	   *m;
	double	   *w;
	bool	   *in_null;
	bool	   *m_null;
	bool	   *w_null;
	int			n_in = float8_array(PG_GETARG_ARRAYTYPE_P(0), &in, &in_null);
	int			n_m = float8_array(PG_GETARG_ARRAYTYPE_P(1), &m, &m_null);
	int			n_w = float8_array(PG_GETARG_ARRAYTYPE_P(2), &w, &w_null);
	JsonbPair	top[N_MEASURES + 1];
	JsonbPair	measure_pairs[N_MEASURES][N_MEASURE_KEYS];
	JsonbPair	input_pairs[N_SHOWN];
	JsonbValue	doc;

	if (n_in != N_INPUTS || n_m != N_MEASURES || n_w != N_MEASURES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("crm.health_factors takes %d inputs, %d measures and %d weights, not %d, %d and %d",
						N_INPUTS, N_MEASURES, N_MEASURES, n_in, n_m, n_w)));
	if (top_keys[0] == NULL)
	{
		const char *keys[N_MEASURES + 1];

		for (int i = 0; i < N_MEASURES; i++)
			keys[i] = measure_names[i];
		keys[N_MEASURES] = "inputs";
		qsort(keys, N_MEASURES + 1, sizeof(char *), key_order);
		for (int i = 0; i < (int) N_SHOWN; i++)
			shown_keys[i] = shown[i].name;
		qsort(shown_keys, N_SHOWN, sizeof(char *), key_order);
		for (int i = 0; i < (int) N_SHOWN; i++)
			for (int j = 0; j < (int) N_SHOWN; j++)
				if (strcmp(shown[j].name, shown_keys[i]) == 0)
					shown_input[i] = shown[j].input;
		for (int t = 0; t < N_MEASURES + 1; t++)
		{
			top_measure[t] = -1;
			for (int i = 0; i < N_MEASURES; i++)
				if (strcmp(measure_names[i], keys[t]) == 0)
					top_measure[t] = i;
		}
		memcpy(top_keys, keys, sizeof(keys));
	}

	for (int i = 0; i < (int) N_SHOWN; i++)
	{
		int			k = shown_input[i];

		set_key(&input_pairs[i], shown_keys[i], i);
		if (k == IN_CSAT || k == IN_NPS)
			round2_jsonb(&input_pairs[i].value, in[k], in_null[k]);
		else if (k == IN_DAYS_SINCE_LAST)
			float8_jsonb(&input_pairs[i].value, floor(in[k]), in_null[k]);
		else
			float8_jsonb(&input_pairs[i].value, in[k], in_null[k]);
	}
	for (int t = 0; t < N_MEASURES + 1; t++)
	{
		int			i = top_measure[t];

		set_key(&top[t], top_keys[t], t);
		if (i < 0)
		{
			set_object(&top[t].value, input_pairs, N_SHOWN);
			continue;
		}
		set_key(&measure_pairs[i][F_VALUE], "value", F_VALUE);
		float8_jsonb(&measure_pairs[i][F_VALUE].value, m[i], m_null[i]);
		set_key(&measure_pairs[i][F_WEIGHT], "weight", F_WEIGHT);
		/* (a NULL weight shows as null, as jsonb_build_object would show it) */
		float8_jsonb(&measure_pairs[i][F_WEIGHT].value, m_null[i] ? 0 : w[i], !m_null[i] && w_null[i]);
		set_object(&top[t].value, measure_pairs[i], N_MEASURE_KEYS);
	}
	set_object(&doc, top, N_MEASURES + 1);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&doc));
#undef N_SHOWN
}


/*
 * crm.health_recommendations(inputs float8[], measures float8[]) → text[]: what to do about an
 * account, in plain words, from its inputs (the measures are not needed today; the signature leaves
 * room for advice on them). Numbers are printed as SQL prints them: counts and days as float8 text,
 * NPS and CSAT as numeric rounded to one decimal.
 */
static char *
float8_text(double x)
{
	return DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(x)));
}

static char *
round1_text(double x)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   DirectFunctionCall2(numeric_round,
																   DirectFunctionCall1(float8_numeric, Float8GetDatum(x)),
																   Int32GetDatum(1))));
}

PG_FUNCTION_INFO_V1(crm_health_recommendations);
Datum
crm_health_recommendations(PG_FUNCTION_ARGS)
{
	Datum		advice[8];
	int			n = 0;
	double	   *in;
	bool	   *isnull;

	if (!PG_ARGISNULL(0))
	{
		int			n_in = float8_array(PG_GETARG_ARRAYTYPE_P(0), &in, &isnull);

		if (n_in != N_INPUTS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("crm.health_recommendations takes %d inputs, not %d", N_INPUTS, n_in)));
#define HAS(i) (!isnull[i])
		if (HAS(IN_ACTIVITIES) && in[IN_ACTIVITIES] == 0)
			advice[n++] = CStringGetTextDatum("no activity recorded: schedule a first call");
		else if (HAS(IN_DAYS_SINCE_LAST) && in[IN_DAYS_SINCE_LAST] >= 30)
			advice[n++] = CStringGetTextDatum(psprintf("no contact in %s days: schedule a check-in",
													   float8_text(floor(in[IN_DAYS_SINCE_LAST]))));
		if (HAS(IN_OVERDUE_CASES) && in[IN_OVERDUE_CASES] > 0)
			advice[n++] = CStringGetTextDatum(psprintf("%s overdue case%s: escalate", float8_text(in[IN_OVERDUE_CASES]),
													   in[IN_OVERDUE_CASES] > 1 ? "s" : ""));
		if (HAS(IN_OPEN_CASES) && in[IN_OPEN_CASES] >= 3)
			advice[n++] = CStringGetTextDatum(psprintf("%s open cases: review the account's support", float8_text(in[IN_OPEN_CASES])));
		if (HAS(IN_NPS) && in[IN_NPS] < 7)
			advice[n++] = CStringGetTextDatum(psprintf("NPS of %s (a detractor): call the contact", round1_text(in[IN_NPS])));
		if (HAS(IN_CSAT) && in[IN_CSAT] < 3)
			advice[n++] = CStringGetTextDatum(psprintf("low case satisfaction (%s of 5): review the handling", round1_text(in[IN_CSAT])));
		if (HAS(IN_WON_BEFORE) && HAS(IN_WON_RECENT) && in[IN_WON_BEFORE] > 0 && in[IN_WON_RECENT] < in[IN_WON_BEFORE])
			advice[n++] = CStringGetTextDatum("won revenue is declining: plan a business review");
		if (HAS(IN_LOST_RECENT) && in[IN_LOST_RECENT] >= 2)
			advice[n++] = CStringGetTextDatum(psprintf("%s deals lost lately: ask why", float8_text(in[IN_LOST_RECENT])));
		if (HAS(IN_OPEN_OPPORTUNITIES) && HAS(IN_CLOSED_OPPORTUNITIES) && in[IN_OPEN_OPPORTUNITIES] == 0 && in[IN_CLOSED_OPPORTUNITIES] > 0)
			advice[n++] = CStringGetTextDatum("no open opportunity: look for an expansion");
#undef HAS
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(advice, n, TEXTOID, -1, false, TYPALIGN_INT));
}


/*
 * crm.health_weights(weights jsonb) → float8[]: the tenant setting health_weights as the weights of
 * the four measures, in their order (a missing one weighs 0; NULL: all 0), what crm.health_score and
 * crm.health_factors then take. Anything they could not take is 22023 naming the JSON path of the bad
 * part: a key that is no measure, a weight that is not a number from 0 to CRM_HEALTH_MAX_WEIGHT (so
 * that it is a finite float8 and the weighted sum cannot overflow). The tenants' trigger calls it at
 * save, the refresh when it reads the weights, so the two cannot disagree.
 */
PG_FUNCTION_INFO_V1(crm_health_weights);
Datum
crm_health_weights(PG_FUNCTION_ARGS)
{
	static const char *const measure_names[N_MEASURES] = {"engagement", "activity", "satisfaction", "commercial"};
	Datum		elems[N_MEASURES];
	double		w[N_MEASURES] = {0};

	if (!PG_ARGISNULL(0))
	{
		Jsonb	   *doc = PG_GETARG_JSONB_P(0);
		JsonbIterator *it;
		JsonbIteratorToken tok;
		JsonbValue	k;
		JsonbValue	v;
		Datum		max = DirectFunctionCall1(int4_numeric, Int32GetDatum(CRM_HEALTH_MAX_WEIGHT));
		Datum		zero = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));

		if (!JB_ROOT_IS_OBJECT(doc) || JB_ROOT_IS_SCALAR(doc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid tenant setting at $.health_weights: an object of measure -> weight is expected")));
		it = JsonbIteratorInit(&doc->root);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			int			m = -1;
			char	   *key;

			if (tok != WJB_KEY)
				continue;
			key = pnstrdup(k.val.string.val, k.val.string.len);
			for (int i = 0; i < N_MEASURES; i++)
				if (strcmp(measure_names[i], key) == 0)
					m = i;
			if (m < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid tenant setting at $.health_weights.%s: not a health measure", key),
						 errhint("The measures are engagement, activity, satisfaction and commercial.")));
			(void) JsonbIteratorNext(&it, &v, true);
			if (v.type != jbvNumeric ||
				DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(v.val.numeric), zero)) ||
				DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v.val.numeric), max)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid tenant setting at $.health_weights.%s: a weight from 0 to %d is expected",
								key, CRM_HEALTH_MAX_WEIGHT)));
			/* through its text, as ::float8 would read it, but a weight too small for a float8 is 0 */
			w[m] = strtod(DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric))), NULL);
			pfree(key);
		}
	}
	for (int i = 0; i < N_MEASURES; i++)
		elems[i] = Float8GetDatum(w[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, N_MEASURES, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}
