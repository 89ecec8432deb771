/*
 * pipeline.c: the pipeline aggregate, crm.pipeline_totals(stage_id, amount, probability, entered_at).
 *
 * One pass over opportunities yields, per stage, the number of deals, their amount, their weighted
 * amount (amount x probability / 100) and the mean days they have spent in the stage. Money is summed
 * exactly, in 128-bit integers of cents (and of cents x percent for the weighted amount), so that the
 * result equals a numeric GROUP BY to the last cent whatever the mix of amounts, and faster, since no
 * numeric arithmetic runs per row.
 *
 * The transition state is a plain bytea (docs/design.md §9: a concrete type, so that parallel workers and
 * Citus ship partial states rather than rows): a header and one fixed-size record per stage seen. The
 * transition and combine functions change the state in place (allowed inside an aggregate, see
 * AggCheckCallContext) and grow it by doubling; the final function turns it into crm.stage_totals[].
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"
#include "utils/uuid.h"

#include "crm.h"

#ifndef HAVE_INT128
#error "crm needs a compiler with 128-bit integers"
#endif

/* One stage's running totals. int128 is MAXALIGNed by c.h, so records in a palloc'd state are aligned. */
typedef struct StageTotal
{
	pg_uuid_t	stage;
	int64		deals;
	int64		dated;			/* deals with an entered_at */
	int128		cents;			/* sum of amounts, in cents */
	int128		weighted;		/* sum of amount x probability, in cents x percent */
	int128		entered;		/* sum of entered_at, microseconds since 2000-01-01 */
} StageTotal;

/* The state: a bytea whose payload is this header and `capacity` records, `nstages` of them used. */
typedef struct PipelineState
{
	int32		vl_len_;
	int32		nstages;
	int32		capacity;
	int32		last;			/* the record hit last: consecutive rows are often of one stage */
	StageTotal	stages[FLEXIBLE_ARRAY_MEMBER];
} PipelineState;

#define STATE_SIZE(cap) (offsetof(PipelineState, stages) + (Size) (cap) * sizeof(StageTotal))
#define MAX_STAGES 100000

/* cents of one base-10000 digit at each power: 100 x 10000^e for e = 0..4 (amounts below 10^20) */
static const int64 digit_cents[] = {100, 1000000, INT64CONST(10000000000), INT64CONST(100000000000000),
INT64CONST(1000000000000000000)};

/*
 * numeric_cents reads a numeric as a whole number of cents straight from its stored form
 * (crm_numeric_parts), without allocating. NaN, infinities, fractions of a cent and amounts of 10^20
 * or more are errors: silently rounding money is not an option.
 */
static int128
numeric_cents(struct varlena *v)
{
	CrmNumericParts n;
	int128		cents = 0;

	if (!crm_numeric_parts(v, &n))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("an opportunity amount must be a finite number"),
						errdetail("NaN and infinite amounts cannot be summed.")));
	for (int i = 0; i < n.ndigits; i++)
	{
		int16		d;
		int			e = n.weight - i; /* this digit counts 10000^e */

		memcpy(&d, n.digits + i * sizeof(int16), sizeof(int16));
		if (d == 0)
			continue;
		if (e >= (int) lengthof(digit_cents))
			ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							errmsg("an opportunity amount must be below 10^20")));
		if (e >= 0)
			cents += (int128) d * digit_cents[e];
		else if (e == -1 && d % 100 == 0)
			cents += d / 100;
		else
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("an opportunity amount cannot have fractions of a cent"),
							errhint("Round it first: round(amount, 2).")));
	}
	return n.negative ? -cents : cents;
}

/*
 * int128_numeric: the integer n divided by 10^scale, as a numeric (exactly, through its text), with
 * trailing zeros dropped down to min_scale decimals (12.3450 -> 12.345, 100.0000 -> 100.00).
 */
static Datum
int128_numeric(int128 n, int scale, int min_scale)
{
	char		digits[48];
	char		text[52];
	int			nd = 0;
	int			pos = 0;
	bool		negative = n < 0;
	uint128		u = negative ? -(uint128) n : (uint128) n;

	while (scale > min_scale && u % 10 == 0)
	{
		u /= 10;
		scale--;
	}
	do
	{
		digits[nd++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0);
	while (nd <= scale)
		digits[nd++] = '0';
	if (negative)
		text[pos++] = '-';
	for (int i = nd - 1; i >= 0; i--)
	{
		text[pos++] = digits[i];
		if (i == scale && scale > 0)
			text[pos++] = '.';
	}
	text[pos] = '\0';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(text), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * state_new: an empty state, in the current (per-row) memory context: the executor copies a new state
 * value into the aggregate's context itself (and frees the one it replaces), so growing never leaks.
 */
static PipelineState *
state_new(int capacity)
{
	PipelineState *s = palloc0(STATE_SIZE(capacity));

	SET_VARSIZE(s, STATE_SIZE(capacity));
	s->capacity = capacity;
	return s;
}

/*
 * state_read: a state given as an argument, checked (a hand-made bytea must not make us read out of
 * bounds) and, when it is not in our aligned 4-byte-header form, copied into it.
 */
static PipelineState *
state_read(Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
	Size		len = VARSIZE_ANY(v);
	PipelineState header;
	PipelineState *s;

	if (VARATT_IS_SHORT(v) || len < offsetof(PipelineState, stages))
		len = 0;
	else
		memcpy(&header, v, offsetof(PipelineState, stages));
	if (len == 0 || header.capacity < 0 || header.capacity > MAX_STAGES || header.nstages < 0 ||
		header.nstages > header.capacity || header.last < 0 || header.last > header.capacity ||
		len != STATE_SIZE(header.capacity))
		ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						errmsg("invalid crm.pipeline_totals state")));
	if (((uintptr_t) v % MAXIMUM_ALIGNOF) == 0)
		return (PipelineState *) v;
	s = palloc(len);
	memcpy(s, v, len);
	return s;
}

/*
 * state_stage: the record of a stage, added when new (the state may move: the caller takes it back).
 * Stages are few, so a linear search from the last hit beats hashing.
 */
static StageTotal *
state_stage(PipelineState **sp, const pg_uuid_t *stage)
{
	PipelineState *s = *sp;
	StageTotal *t;

	if (s->last < s->nstages && memcmp(&s->stages[s->last].stage, stage, sizeof(pg_uuid_t)) == 0)
		return &s->stages[s->last];
	for (int i = 0; i < s->nstages; i++)
	{
		if (memcmp(&s->stages[i].stage, stage, sizeof(pg_uuid_t)) == 0)
		{
			s->last = i;
			return &s->stages[i];
		}
	}
	if (s->nstages == s->capacity)
	{
		PipelineState *bigger;

		if (s->capacity >= MAX_STAGES)
			ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							errmsg("crm.pipeline_totals takes at most %d stages", MAX_STAGES)));
		bigger = state_new(Min(s->capacity * 2, MAX_STAGES));
		memcpy(bigger->stages, s->stages, s->nstages * sizeof(StageTotal));
		bigger->nstages = s->nstages;
		*sp = s = bigger;
	}
	t = &s->stages[s->nstages];
	memset(t, 0, sizeof(StageTotal));
	t->stage = *stage;
	s->last = s->nstages++;
	return t;
}

/*
 * The transition and combine functions change their state in place: only an aggregate may call them,
 * and the state they change must be one of ours (an aggregate of the user's own making could pass any
 * bytea as its initial state), so its header is checked on every call: a few comparisons.
 */
static PipelineState *
own_state(FunctionCallInfo fcinfo, const char *name)
{
	PipelineState *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "%s called in non-aggregate context", name);
	if (PG_ARGISNULL(0))
		return NULL;
	s = (PipelineState *) PG_GETARG_POINTER(0);
	if (VARATT_IS_EXTENDED(s) || ((uintptr_t) s % MAXIMUM_ALIGNOF) != 0 ||
		VARSIZE(s) < offsetof(PipelineState, stages) || s->capacity < 1 || s->capacity > MAX_STAGES ||
		VARSIZE(s) != STATE_SIZE(s->capacity) || s->nstages < 0 || s->nstages > s->capacity ||
		s->last < 0 || s->last > s->capacity)
		ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						errmsg("invalid crm.pipeline_totals state")));
	return s;
}

/*
 * crm.pipeline_totals_add(state, stage_id, amount, probability, entered_at): adds one opportunity. A
 * row without a stage is skipped; a NULL amount counts the deal with nothing to add, a NULL
 * probability adds nothing weighted; a probability off 0-100 is 22023.
 */
PG_FUNCTION_INFO_V1(crm_pipeline_totals_add);
Datum
crm_pipeline_totals_add(PG_FUNCTION_ARGS)
{
	PipelineState *s = own_state(fcinfo, "crm_pipeline_totals_add");
	StageTotal *t;
	int128		cents = 0;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	if (s == NULL)
		s = state_new(8);
	if (!PG_ARGISNULL(2))
		cents = numeric_cents(PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(2)));
	t = state_stage(&s, PG_GETARG_UUID_P(1));
	t->deals++;
	t->cents += cents;
	if (!PG_ARGISNULL(3))
	{
		int32		probability = PG_GETARG_INT32(3);

		if (probability < 0 || probability > 100)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("a probability must be between 0 and 100, not %d", probability)));
		t->weighted += cents * probability;
	}
	if (!PG_ARGISNULL(4) && !TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(4)))
	{
		/* an infinite entry time says nothing about days in stage: the deal counts as undated */
		t->dated++;
		t->entered += PG_GETARG_TIMESTAMPTZ(4);
	}
	PG_RETURN_POINTER(s);
}

/* crm.pipeline_totals_merge(state, state): the sum of two partial states; NULL (empty) ones are fine. */
PG_FUNCTION_INFO_V1(crm_pipeline_totals_merge);
Datum
crm_pipeline_totals_merge(PG_FUNCTION_ARGS)
{
	PipelineState *s = own_state(fcinfo, "crm_pipeline_totals_merge");
	PipelineState *other;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	other = state_read(PG_GETARG_DATUM(1));
	if (s == NULL)
		s = state_new(Max(other->nstages, 8));
	for (int i = 0; i < other->nstages; i++)
	{
		const StageTotal *o = &other->stages[i];
		StageTotal *t = state_stage(&s, &o->stage);

		t->deals += o->deals;
		t->dated += o->dated;
		t->cents += o->cents;
		t->weighted += o->weighted;
		t->entered += o->entered;
	}
	PG_RETURN_POINTER(s);
}

static int
stage_cmp(const void *a, const void *b)
{
	return memcmp(&((const StageTotal *) a)->stage, &((const StageTotal *) b)->stage, sizeof(pg_uuid_t));
}

/*
 * crm.pipeline_totals_result(state) -> crm.stage_totals[]: one element per stage seen, ordered by stage
 * id; empty (not NULL) for no rows. The mean days in stage are counted to the transaction's start
 * (now()), to one decimal.
 */
PG_FUNCTION_INFO_V1(crm_pipeline_totals_result);
Datum
crm_pipeline_totals_result(PG_FUNCTION_ARGS)
{
	Oid			array_type = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			row_type = get_element_type(array_type);
	TupleDesc	desc;
	PipelineState *s;
	StageTotal *sorted;
	Datum	   *rows;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	ArrayType  *result;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!OidIsValid(row_type))
		elog(ERROR, "crm_pipeline_totals_result must return an array of crm.stage_totals");
	if (PG_ARGISNULL(0))
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(row_type));
	s = state_read(PG_GETARG_DATUM(0));

	/* sorted in a copy: the final function must leave the state as it found it */
	sorted = palloc(Max(s->nstages, 1) * sizeof(StageTotal));
	memcpy(sorted, s->stages, s->nstages * sizeof(StageTotal));
	qsort(sorted, s->nstages, sizeof(StageTotal), stage_cmp);

	desc = lookup_rowtype_tupdesc_copy(row_type, -1);
	desc = BlessTupleDesc(desc);
	if (desc->natts != 5)
		elog(ERROR, "crm.stage_totals must have 5 attributes");
	rows = palloc(Max(s->nstages, 1) * sizeof(Datum));
	for (int i = 0; i < s->nstages; i++)
	{
		const StageTotal *t = &sorted[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		pg_uuid_t  *stage = palloc(sizeof(pg_uuid_t));

		*stage = t->stage;
		values[0] = UUIDPGetDatum(stage);
		values[1] = Int64GetDatum(t->deals);
		values[2] = int128_numeric(t->cents, 2, 2);
		values[3] = int128_numeric(t->weighted, 4, 2);
		if (t->dated > 0)
		{
			/* tenths of a day, rounded half away from zero: (now x n - sum) x 10 / (n x 86400 s) */
			int128		num = ((int128) now * t->dated - t->entered) * 10;
			int128		den = (int128) t->dated * USECS_PER_DAY;
			int128		q = (num + (num >= 0 ? den / 2 : -den / 2)) / den;

			values[4] = int128_numeric(q, 1, 1);
		}
		else
			nulls[4] = true;
		rows[i] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	get_typlenbyvalalign(row_type, &typlen, &typbyval, &typalign);
	result = construct_array(rows, s->nstages, row_type, typlen, typbyval, typalign);
	PG_RETURN_ARRAYTYPE_P(result);
}
