/*
 * context.c: the request context (tenant, user, application role) that every policy reads.
 *
 * Sources, first match wins, value by value:
 *   1. a login bound to a CRM user (crm.users.db_role = the session's login): that user and its tenant,
 *      whatever else is set; setting another context is 42501;
 *   2. the GUCs crm.tenant_id and crm.user_id, set through crm.set_context() (they are PGC_SUSET: only
 *      a superuser sets them directly);
 *   3. PostgREST's request.jwt.claims JSON: "tenant_id" and "sub".
 * Nothing found: NULL, so policies see no rows and inserts fail their WITH CHECK (42501).
 * A value that is there but is not a uuid raises 22P02 naming its source: it is never read as NULL.
 * A user named by the context must be an active user of the context's tenant (42501 otherwise), and the
 * application role is the weaker of the database role in effect and that user's crm.users.role.
 *
 * Policies call these functions once per row in a sequential scan, so nothing is parsed or read per call:
 * the GUCs are parsed when they are set (check hook, result kept in the GUC's "extra"), the claims once
 * per distinct string, and crm.users is read (by its indexes, with no policy in the way) once per distinct
 * user and login, until a write to crm.users invalidates what was read (crm.users_changed()).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_enum.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
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
	{
		/*
		 * s need not be NUL-terminated (a jsonb string): copy at most len bytes, cut at a character
		 * boundary (the text goes into an error message), then terminate
		 */
		size_t		n = pg_mbcliplen(s, (int) Min(len, (size_t) INT_MAX), sizeof(dst->raw) - 1);

		memcpy(dst->raw, s, n);
		dst->raw[n] = '\0';
	}
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

	/* the copy first: if it fails, the cache still holds its old string, not a freed one */
	fresh.raw = MemoryContextStrdup(TopMemoryContext, raw);
	if (claims_cache.raw != NULL)
		pfree(claims_cache.raw);
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

/*
 * Users. What crm.users says of a user (or of the user a login is bound to) is read with a plain index
 * scan (no policy applies, so nothing recurses into these functions) and kept until crm.users is
 * invalidated: by any write to it (crm.users_changed() asks for that), by DDL, or by a cache reset.
 */

/* Application roles, weakest first. */
typedef enum AppRole
{
	APP_ROLE_NONE = -1,
	APP_ROLE_ANON = 0,
	APP_ROLE_REP,
	APP_ROLE_MANAGER,
	APP_ROLE_ADMIN
} AppRole;

static const char *const app_role_names[] = {"anon", "rep", "manager", "admin"};

typedef struct UserFacts
{
	bool		found;
	bool		active;
	AppRole		role;			/* rep, manager or admin */
	pg_uuid_t	tenant;
	pg_uuid_t	user;
} UserFacts;

/* crm.users, its indexes and columns, looked up by name; forgotten when crm.users is invalidated */
typedef struct UsersRelation
{
	Oid			relid;
	Oid			pkey;			/* users_pkey (tenant_id, id) */
	Oid			by_login;		/* users_db_role (db_role) */
	AttrNumber	tenant_id,
				id,
				role,
				active,
				db_role;
} UsersRelation;

static UsersRelation users_rel;

/* Bumped by every invalidation of crm.users: what was read from it before is stale. */
static uint64 users_generation = 1;

/* The last (tenant, user) checked, and the session login's binding, each valid for one generation. */
static struct
{
	uint64		generation;
	pg_uuid_t	tenant;
	pg_uuid_t	user;
	UserFacts	facts;
} user_check;

static struct
{
	uint64		generation;
	Oid			login;
	UserFacts	facts;
} login_binding;

static void
users_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == users_rel.relid || !OidIsValid(users_rel.relid))
	{
		users_generation++;
		memset(&users_rel, 0, sizeof(users_rel));
	}
}

/* find_users fills users_rel; false while crm.users does not exist (yet) with its indexes. */
static bool
find_users(void)
{
	Oid			ns;
	UsersRelation r;

	if (OidIsValid(users_rel.relid))
		return true;
	ns = get_namespace_oid("crm", true);
	if (!OidIsValid(ns))
		return false;
	r.relid = get_relname_relid("users", ns);
	r.pkey = get_relname_relid("users_pkey", ns);
	r.by_login = get_relname_relid("users_db_role", ns);
	if (!OidIsValid(r.relid) || !OidIsValid(r.pkey) || !OidIsValid(r.by_login))
		return false;
	r.tenant_id = get_attnum(r.relid, "tenant_id");
	r.id = get_attnum(r.relid, "id");
	r.role = get_attnum(r.relid, "role");
	r.active = get_attnum(r.relid, "active");
	r.db_role = get_attnum(r.relid, "db_role");
	if (r.tenant_id <= 0 || r.id <= 0 || r.role <= 0 || r.active <= 0 || r.db_role <= 0)
		return false;
	users_rel = r;
	return true;
}

/* read_user_facts returns what the first row the scan key finds says (found = false: no row). */
static UserFacts
read_user_facts(const UsersRelation *r, Oid index, int nkeys, ScanKey keys)
{
	UserFacts	facts;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;

	memset(&facts, 0, sizeof(facts));
	facts.role = APP_ROLE_NONE;
	rel = table_open(r->relid, AccessShareLock);
	scan = systable_beginscan(rel, index, true, NULL, nkeys, keys);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		role = heap_getattr(tuple, r->role, desc, &isnull);
		HeapTuple	label;

		facts.found = true;
		facts.active = DatumGetBool(heap_getattr(tuple, r->active, desc, &isnull)) && !isnull;
		facts.tenant = *DatumGetUUIDP(heap_getattr(tuple, r->tenant_id, desc, &isnull));
		facts.user = *DatumGetUUIDP(heap_getattr(tuple, r->id, desc, &isnull));
		facts.role = APP_ROLE_REP;
		label = SearchSysCache1(ENUMOID, role);
		if (HeapTupleIsValid(label))
		{
			const char *name = NameStr(((Form_pg_enum) GETSTRUCT(label))->enumlabel);

			if (strcmp(name, "admin") == 0)
				facts.role = APP_ROLE_ADMIN;
			else if (strcmp(name, "manager") == 0)
				facts.role = APP_ROLE_MANAGER;
			ReleaseSysCache(label);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return facts;
}

/* check_user returns what crm.users says of (tenant, user), read at most once per generation. */
static const UserFacts *
check_user(const pg_uuid_t *tenant, const pg_uuid_t *user)
{
	uint64		generation = users_generation;
	ScanKeyData keys[2];

	if (user_check.generation == generation &&
		memcmp(&user_check.tenant, tenant, sizeof(pg_uuid_t)) == 0 &&
		memcmp(&user_check.user, user, sizeof(pg_uuid_t)) == 0)
		return &user_check.facts;

	user_check.generation = 0;
	if (!find_users())
		memset(&user_check.facts, 0, sizeof(user_check.facts));
	else
	{
		UsersRelation r = users_rel;

		ScanKeyInit(&keys[0], r.tenant_id, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(tenant));
		ScanKeyInit(&keys[1], r.id, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(user));
		user_check.facts = read_user_facts(&r, r.pkey, 2, keys);
	}
	user_check.tenant = *tenant;
	user_check.user = *user;
	user_check.generation = generation;
	return &user_check.facts;
}

/* session_binding returns the user the session's login is bound to, or NULL for an unbound login. */
static const UserFacts *
session_binding(void)
{
	uint64		generation = users_generation;
	Oid			login = GetSessionUserId();

	if (login_binding.generation != generation || login_binding.login != login)
	{
		login_binding.generation = 0;
		if (!find_users())
			memset(&login_binding.facts, 0, sizeof(login_binding.facts));
		else
		{
			UsersRelation r = users_rel;
			NameData	name;
			ScanKeyData key;

			namestrcpy(&name, GetUserNameFromId(login, false));
			ScanKeyInit(&key, r.db_role, BTEqualStrategyNumber, F_NAMEEQ, NameGetDatum(&name));
			login_binding.facts = read_user_facts(&r, r.by_login, 1, &key);
		}
		login_binding.login = login;
		login_binding.generation = generation;
	}
	return login_binding.facts.found ? &login_binding.facts : NULL;
}

static char *
uuid_text(const pg_uuid_t *v)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(v)));
}

/*
 * check_context raises 42501 unless (tenant, user) may be the context: for a bound login, nothing but
 * its own user (or nothing: NULL leaves the binding in force); otherwise a user must be an active user
 * of the tenant. Returns the user's facts (NULL when no user is named and the login is unbound).
 */
static const UserFacts *
check_context(const pg_uuid_t *tenant, const pg_uuid_t *user)
{
	const UserFacts *bound = session_binding();
	const UserFacts *facts;

	if (bound != NULL)
	{
		if (!bound->active)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("login \"%s\" is bound to crm user %s, who is inactive",
							GetUserNameFromId(GetSessionUserId(), false), uuid_text(&bound->user))));
		if ((tenant != NULL && memcmp(tenant, &bound->tenant, sizeof(pg_uuid_t)) != 0) ||
			(user != NULL && memcmp(user, &bound->user, sizeof(pg_uuid_t)) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("login \"%s\" is bound to crm user %s of tenant %s: it cannot act for another",
							GetUserNameFromId(GetSessionUserId(), false), uuid_text(&bound->user),
							uuid_text(&bound->tenant)),
					 errhint("A bound login's context is its user's, whatever crm.set_context, the crm GUCs or request.jwt.claims say.")));
		return bound;
	}
	if (user == NULL)
		return NULL;
	if (tenant == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the request context names user %s but no tenant", uuid_text(user)),
				 errhint("Name the user's tenant too: crm.set_context(tenant, user_id).")));
	facts = check_user(tenant, user);
	if (!facts->found)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s is not a user of tenant %s", uuid_text(user), uuid_text(tenant)),
				 errhint("The request context must name a user of crm.users in its tenant.")));
	if (!facts->active)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("user %s of tenant %s is inactive", uuid_text(user), uuid_text(tenant)),
				 errdetail("An inactive user (crm.users.active = false) can do nothing.")));
	return facts;
}

/* The request context as every function here sees it. */
typedef struct RequestContext
{
	pg_uuid_t  *tenant;			/* NULL: none */
	pg_uuid_t  *user;			/* NULL: none */
	AppRole		user_role;		/* the user's crm.users.role; APP_ROLE_NONE without a user */
} RequestContext;

static RequestContext
request_context(void)
{
	RequestContext cx;
	pg_uuid_t  *tenant = context_value(&tenant_from_guc, "crm.tenant_id", true);
	pg_uuid_t  *user = context_value(&user_from_guc, "crm.user_id", false);
	const UserFacts *facts = check_context(tenant, user);

	cx.tenant = tenant;
	cx.user = user;
	cx.user_role = APP_ROLE_NONE;
	if (facts != NULL)
	{
		/* a bound login: its user, whatever was set (check_context refused anything else) */
		if (cx.tenant == NULL)
			cx.tenant = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
		if (cx.user == NULL)
			cx.user = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
		*cx.tenant = facts->tenant;
		*cx.user = facts->user;
		cx.user_role = facts->role;
	}
	return cx;
}

PG_FUNCTION_INFO_V1(crm_current_tenant);

/* crm.current_tenant() → uuid: the tenant of the request, or NULL. */
Datum
crm_current_tenant(PG_FUNCTION_ARGS)
{
	RequestContext cx = request_context();

	if (cx.tenant == NULL)
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(cx.tenant);
}

PG_FUNCTION_INFO_V1(crm_current_user_id);

/* crm.current_user_id() → uuid: the CRM user of the request, or NULL. */
Datum
crm_current_user_id(PG_FUNCTION_ARGS)
{
	RequestContext cx = request_context();

	if (cx.user == NULL)
		PG_RETURN_NULL();
	PG_RETURN_UUID_P(cx.user);
}

/* The application role of the last database role asked about; reset when role grants change. */
static Oid	app_role_for = InvalidOid;
static AppRole app_role_cached = APP_ROLE_NONE;

/* Role grants changed: forget the cached application role. */
static void
app_role_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	app_role_for = InvalidOid;
	app_role_cached = APP_ROLE_NONE;
}

/*
 * app_role_of returns the strongest crm role whose privileges the database role has, or NONE. The role
 * in effect is what counts (PostgREST switches to the claims' "role" before running the request), so a
 * forged claim cannot raise anyone's privileges.
 */
static AppRole
app_role_of(Oid roleid)
{
	static const char *const names[] = {"crm_admin", "crm_manager", "crm_rep", "crm_anon"};
	static const AppRole roles[] = {APP_ROLE_ADMIN, APP_ROLE_MANAGER, APP_ROLE_REP, APP_ROLE_ANON};

	for (int i = 0; i < (int) lengthof(names); i++)
	{
		Oid			crm_role = get_role_oid(names[i], true);

		if (OidIsValid(crm_role) && has_privs_of_role(roleid, crm_role))
			return roles[i];
	}
	return APP_ROLE_NONE;
}

PG_FUNCTION_INFO_V1(crm_current_app_role);

/*
 * crm.current_app_role() → text: admin, manager, rep, anon, or NULL: the weaker of the database role of
 * the request (outside any SECURITY DEFINER function: the role PostgREST or SET ROLE chose) and the role
 * its user has in crm.users.
 */
Datum
crm_current_app_role(PG_FUNCTION_ARGS)
{
	Oid			roleid = GetOuterUserId();
	AppRole		role;
	RequestContext cx;

	if (roleid != app_role_for)
	{
		app_role_cached = app_role_of(roleid);
		app_role_for = roleid;
	}
	role = app_role_cached;
	if (role == APP_ROLE_NONE)
		PG_RETURN_NULL();
	cx = request_context();
	if (cx.user_role != APP_ROLE_NONE && cx.user_role < role)
		role = cx.user_role;
	PG_RETURN_TEXT_P(cstring_to_text(app_role_names[role]));
}

/* set_context_guc sets one of our GUCs the way set_config(name, value, is_local) would for a superuser. */
static void
set_context_guc(const char *name, const pg_uuid_t *value, bool is_local)
{
	char	   *text = "";

	if (value != NULL)
		text = uuid_text(value);
	(void) set_config_option(name, text, PGC_SUSET, PGC_S_SESSION,
							 is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET, true, 0, false);
}

/* establish_context checks (tenant, user) and makes it the context (the GUCs). */
static void
establish_context(const pg_uuid_t *tenant, const pg_uuid_t *user, bool is_local)
{
	(void) check_context(tenant, user);
	set_context_guc("crm.tenant_id", tenant, is_local);
	set_context_guc("crm.user_id", user, is_local);
}

PG_FUNCTION_INFO_V1(crm_set_context);

/*
 * crm.set_context(tenant, user_id, is_local) sets the request context; NULL clears a value. The user
 * must be an active user of the tenant (42501 at once otherwise). Transaction-local by default, so a
 * pooled connection never carries one client's tenant into another client's transaction.
 */
Datum
crm_set_context(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("is_local must not be null"),
				 errhint("Pass true for the current transaction (the default) or false for the session.")));
	establish_context(PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0),
					  PG_ARGISNULL(1) ? NULL : PG_GETARG_UUID_P(1),
					  PG_GETARG_BOOL(2));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crm_pre_request);

/*
 * crm.pre_request(): PostgREST's db-pre-request. Checks the claims' tenant_id and sub (42501 for a user
 * who is not an active user of that tenant, 22P02 for a value that is not a uuid) and makes them the
 * transaction's context, as crm.set_context would.
 */
Datum
crm_pre_request(PG_FUNCTION_ARGS)
{
	const ClaimsCache *claims = current_claims();
	pg_uuid_t  *tenant = NULL;
	pg_uuid_t  *user = NULL;

	if (claims != NULL)
	{
		tenant = context_uuid_get(&claims->tenant, CLAIMS_GUC " \"tenant_id\"");
		user = context_uuid_get(&claims->user, CLAIMS_GUC " \"sub\"");
	}
	establish_context(tenant, user, true);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crm_users_changed);

/*
 * crm.users_changed(): the statement trigger of crm.users. Every backend forgets what it read of the
 * users (user checks, login bindings) once the change is visible to it: the relcache invalidation of
 * crm.users reaches this backend at once and the others at commit.
 */
Datum
crm_users_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.users_changed is an AFTER trigger FOR EACH STATEMENT")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/* crm_context_init defines the GUCs and reserves the crm. prefix. */
void
crm_context_init(void)
{
	DefineCustomStringVariable("crm.tenant_id",
							   "Tenant of the current request (a uuid); empty for none.",
							   "Wins over the tenant_id of request.jwt.claims. Set with crm.set_context() (only a superuser sets it directly).",
							   &tenant_guc_text, "", PGC_SUSET, 0,
							   check_context_uuid, assign_tenant_guc, NULL);
	DefineCustomStringVariable("crm.user_id",
							   "CRM user of the current request (a uuid); empty for none.",
							   "Wins over the sub of request.jwt.claims. Set with crm.set_context() (only a superuser sets it directly).",
							   &user_guc_text, "", PGC_SUSET, 0,
							   check_context_uuid, assign_user_guc, NULL);
	MarkGUCPrefixReserved("crm");

	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, app_role_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, app_role_invalidate, (Datum) 0);
	CacheRegisterRelcacheCallback(users_invalidate, (Datum) 0);
}
