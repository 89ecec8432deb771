/*
 * context.c: the request context (tenant, user, application role) that every policy reads.
 *
 * Sources, first match wins, value by value:
 *   1. the GUCs crm.tenant_id and crm.user_id (set by applications, or by crm.set_context());
 *   2. PostgREST's request.jwt.claims JSON: "tenant_id" and "sub".
 * Nothing found: NULL, so policies see no rows and inserts fail their WITH CHECK (42501).
 * A value that is there but is not a uuid raises 22P02 naming its source: it is never read as NULL.
 *
 * Policies call these functions once per row in a sequential scan, so nothing is parsed per call:
 * the GUCs are parsed when they are set (check hook, result kept in the GUC's "extra"), and the claims
 * once per distinct string (a backend cache keyed by the string).
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "crm.h"

#if PG_VERSION_NUM < 150000
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

#define CLAIMS_GUC "request.jwt.claims"

/* A uuid read from some source: absent, present, or present but malformed (kept to report it). */
typedef struct ContextUuid
{
	bool		present;
	bool		valid;
	pg_uuid_t	value;
	char		raw[64];		/* the malformed text (truncated), for the error message */
} ContextUuid;

/* GUC storage and the parsed values that the assign hooks keep current */
static char *tenant_guc_text = NULL;
static char *user_guc_text = NULL;
static ContextUuid tenant_from_guc;
static ContextUuid user_from_guc;

/* The last claims string seen, and what was parsed from it (in TopMemoryContext). */
typedef struct ClaimsCache
{
	char	   *raw;
	ContextUuid tenant;
	ContextUuid user;
} ClaimsCache;

static ClaimsCache claims_cache;

/* The application role of the last database role asked about; reset when role grants change. */
static Oid	app_role_for = InvalidOid;
static const char *app_role_cached = NULL;

/* hex_value returns the value of a hex digit, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * parse_uuid reads the forms uuid_in accepts (32 hex digits, a hyphen allowed after any group of
 * four, optionally in braces) without raising an error: it returns false on anything else.
 */
static bool
parse_uuid(const char *s, size_t len, pg_uuid_t *out)
{
	size_t		i = 0;
	bool		braces = false;

	if (len > 0 && s[0] == '{')
	{
		braces = true;
		i++;
	}
	for (int byte = 0; byte < UUID_LEN; byte++)
	{
		int			hi,
					lo;

		if (i + 2 > len)
			return false;
		hi = hex_value(s[i]);
		lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->data[byte] = (uint8) (hi << 4 | lo);
		i += 2;
		if (byte % 2 == 1 && byte < UUID_LEN - 1 && i < len && s[i] == '-')
			i++;
	}
	if (braces)
	{
		if (i >= len || s[i] != '}')
			return false;
		i++;
	}
	return i == len;
}

/* context_uuid_from_text fills *dst from text: empty means absent, otherwise it must be a uuid. */
static void
context_uuid_from_text(const char *s, size_t len, ContextUuid *dst)
{
	memset(dst, 0, sizeof(*dst));
	if (s == NULL || len == 0)
		return;
	dst->present = true;
	dst->valid = parse_uuid(s, len, &dst->value);
	if (!dst->valid)
		strlcpy(dst->raw, s, Min(len + 1, sizeof(dst->raw)));
}

/*
 * context_uuid_get returns the uuid, or NULL when absent; a malformed value raises 22P02 naming
 * where it came from.
 */
static pg_uuid_t *
context_uuid_get(const ContextUuid *v, const char *source)
{
	pg_uuid_t  *result;

	if (!v->present)
		return NULL;
	if (!v->valid)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid uuid in %s: \"%s\"", source, v->raw),
				 errhint("The request context must name a tenant and a user by uuid; see crm.set_context().")));
	result = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
	*result = v->value;
	return result;
}

/*
 * GUC hooks. The check hook accepts every value (a malformed one must fail when read, not vanish when
 * a placeholder set before the library was loaded is adopted) and parses it into "extra"; the assign
 * hook installs the parsed value.
 */
static bool
check_context_uuid(char **newval, void **extra, GucSource source)
{
	/* "extra" is released by the GUC machinery with free(), so it comes from malloc() */
	ContextUuid *parsed = (ContextUuid *) malloc(sizeof(ContextUuid));

	if (parsed == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	context_uuid_from_text(*newval, *newval ? strlen(*newval) : 0, parsed);
	*extra = parsed;
	return true;
}

static void
assign_tenant_guc(const char *newval, void *extra)
{
	tenant_from_guc = *(ContextUuid *) extra;
}

static void
assign_user_guc(const char *newval, void *extra)
{
	user_from_guc = *(ContextUuid *) extra;
}

/* claims_string_field reads a top-level string member of a jsonb object; NULL when absent or null. */
static bool
claims_field(Jsonb *claims, const char *key, const char **val, int *len, bool *is_string)
{
	JsonbValue	v;

	if (!getKeyJsonValueFromContainer(&claims->root, key, strlen(key), &v) || v.type == jbvNull)
		return false;
	*is_string = (v.type == jbvString);
	if (*is_string)
	{
		*val = v.val.string.val;
		*len = v.val.string.len;
	}
	return true;
}

static void
claims_uuid(Jsonb *claims, const char *key, ContextUuid *dst)
{
	const char *val = NULL;
	int			len = 0;
	bool		is_string;

	memset(dst, 0, sizeof(*dst));
	if (!claims_field(claims, key, &val, &len, &is_string))
		return;
	if (!is_string)
	{
		dst->present = true;
		dst->valid = false;
		strlcpy(dst->raw, "(a JSON value that is not a string)", sizeof(dst->raw));
		return;
	}
	context_uuid_from_text(val, len, dst);
}

/* Error context for a claims string that is not JSON. */
static void
claims_error_callback(void *arg)
{
	errcontext("while reading the request context from %s", CLAIMS_GUC);
}

/*
 * current_claims returns the cache entry for the claims now set (parsing them only when the string
 * differs from the one parsed last), or NULL when there are none.
 */
static const ClaimsCache *
current_claims(void)
{
	const char *raw = GetConfigOption(CLAIMS_GUC, true, false);
	MemoryContext parse_cxt,
				old_cxt;
	ErrorContextCallback errcb;
	Jsonb	   *claims;
	ClaimsCache fresh;

	if (raw == NULL || raw[0] == '\0')
		return NULL;
	if (claims_cache.raw != NULL && strcmp(claims_cache.raw, raw) == 0)
		return &claims_cache;

	parse_cxt = AllocSetContextCreate(CurrentMemoryContext, "crm claims parse", ALLOCSET_SMALL_SIZES);
	old_cxt = MemoryContextSwitchTo(parse_cxt);

	errcb.callback = claims_error_callback;
	errcb.arg = NULL;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	claims = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(raw)));
	error_context_stack = errcb.previous;

	if (!JB_ROOT_IS_OBJECT(claims))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s must be a JSON object", CLAIMS_GUC)));

	memset(&fresh, 0, sizeof(fresh));
	claims_uuid(claims, "tenant_id", &fresh.tenant);
	claims_uuid(claims, "sub", &fresh.user);

	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(parse_cxt);

	if (claims_cache.raw != NULL)
		pfree(claims_cache.raw);
	fresh.raw = MemoryContextStrdup(TopMemoryContext, raw);
	claims_cache = fresh;
	return &claims_cache;
}

/* context_value picks the GUC's value when it is set, else the claims' field. */
static pg_uuid_t *
context_value(const ContextUuid *from_guc, const char *guc_name, bool tenant)
{
	const ClaimsCache *claims;

	if (from_guc->present)
		return context_uuid_get(from_guc, guc_name);
	claims = current_claims();
	if (claims == NULL)
		return NULL;
	return context_uuid_get(tenant ? &claims->tenant : &claims->user,
							tenant ? CLAIMS_GUC " \"tenant_id\"" : CLAIMS_GUC " \"sub\"");
}

PG_FUNCTION_INFO_V1(crm_current_tenant);

/* crm.current_tenant() → uuid: the tenant of the request, or NULL. */
Datum
crm_current_tenant(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *v = context_value(&tenant_from_guc, "crm.tenant_id", true);

	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(v);
}

PG_FUNCTION_INFO_V1(crm_current_user_id);

/* crm.current_user_id() → uuid: the CRM user of the request, or NULL. */
Datum
crm_current_user_id(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *v = context_value(&user_from_guc, "crm.user_id", false);

	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(v);
}

/* Role grants changed: forget the cached application role. */
static void
app_role_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	app_role_for = InvalidOid;
	app_role_cached = NULL;
}

/*
 * app_role_of returns the strongest crm role whose privileges the database role has: admin, manager,
 * rep, anon, or NULL. The role in effect is what counts (PostgREST switches to the claims' "role"
 * before running the request), so a forged claim cannot raise anyone's privileges.
 */
static const char *
app_role_of(Oid roleid)
{
	static const char *const names[][2] = {
		{"crm_admin", "admin"}, {"crm_manager", "manager"}, {"crm_rep", "rep"}, {"crm_anon", "anon"}
	};

	for (int i = 0; i < (int) lengthof(names); i++)
	{
		Oid			crm_role = get_role_oid(names[i][0], true);

		if (OidIsValid(crm_role) && has_privs_of_role(roleid, crm_role))
			return names[i][1];
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(crm_current_app_role);

/* crm.current_app_role() → text: admin, manager, rep, anon, or NULL. */
Datum
crm_current_app_role(PG_FUNCTION_ARGS)
{
	Oid			roleid = GetUserId();

	if (roleid != app_role_for)
	{
		app_role_cached = app_role_of(roleid);
		app_role_for = roleid;
	}
	if (app_role_cached == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(app_role_cached));
}

/* set_context_guc sets one of our GUCs the way set_config(name, value, is_local) does. */
static void
set_context_guc(const char *name, pg_uuid_t *value, bool is_local)
{
	char	   *text = "";

	if (value != NULL)
		text = DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(value)));
	(void) set_config_option(name, text,
							 superuser() ? PGC_SUSET : PGC_USERSET, PGC_S_SESSION,
							 is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET,
							 true, 0, false);
}

PG_FUNCTION_INFO_V1(crm_set_context);

/*
 * crm.set_context(tenant, user_id, is_local) sets the request context; NULL clears a value.
 * Transaction-local by default, so a pooled connection never carries one client's tenant into
 * another client's transaction.
 */
Datum
crm_set_context(PG_FUNCTION_ARGS)
{
	bool		is_local;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("is_local must not be null"),
				 errhint("Pass true for the current transaction (the default) or false for the session.")));
	is_local = PG_GETARG_BOOL(2);

	set_context_guc("crm.tenant_id", PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0), is_local);
	set_context_guc("crm.user_id", PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1), is_local);
	PG_RETURN_VOID();
}

/* crm_context_init defines the GUCs and reserves the crm. prefix. */
void
crm_context_init(void)
{
	DefineCustomStringVariable("crm.tenant_id",
							   "Tenant of the current request (a uuid); empty for none.",
							   "Wins over the tenant_id of request.jwt.claims. Usually set with crm.set_context().",
							   &tenant_guc_text, "", PGC_USERSET, 0,
							   check_context_uuid, assign_tenant_guc, NULL);
	DefineCustomStringVariable("crm.user_id",
							   "CRM user of the current request (a uuid); empty for none.",
							   "Wins over the sub of request.jwt.claims. Usually set with crm.set_context().",
							   &user_guc_text, "", PGC_USERSET, 0,
							   check_context_uuid, assign_user_guc, NULL);
	MarkGUCPrefixReserved("crm");

	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, app_role_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, app_role_invalidate, (Datum) 0);
}
