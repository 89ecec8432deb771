/*
 * context.c: the request context (tenant, user, application role) that every policy reads.
 *
 * Sources, first match wins, value by value:
 *   1. a login bound to a CRM user (crm.users.db_role = the session's login): that user and its tenant,
 *      whatever else is set; setting another context is 42501;
 *   2. the GUCs crm.tenant_id and crm.user_id, set through crm.set_context() (they are PGC_SUSET: only
 *      a superuser sets them directly);
 *   3. the signed context crm.context, which crm.set_context and crm.pre_request also set (SET LOCAL)
 *      when the node has a crm.node_key: on Citus it is what reaches the workers (Citus propagates
 *      SET LOCAL, not set_config), and a worker believes it because its signature is the cluster's
 *      (docs/design.md §3, "The context on Citus");
 *   4. PostgREST's request.jwt.claims JSON: "tenant_id" and "sub" (refused, 55000, on a node with a
 *      crm.node_key: there, PostgREST must run crm.pre_request so that the context reaches the workers).
 * Nothing found: NULL, so policies see no rows and inserts fail their WITH CHECK (42501).
 * A value that is there but is not a uuid raises 22P02 naming its source: it is never read as NULL.
 * A user named by the context must be an active user of the context's tenant (42501 otherwise), and the
 * application role is the weaker of the database role in effect and that user's crm.users.role.
 *
 * Policies call these functions once per row in a sequential scan, so nothing is parsed or read per call:
 * the GUCs are parsed when they are set (check hook, result kept in the GUC's "extra"), the claims once
 * per distinct string, and crm.users is read (by its indexes, with no policy in the way) once per distinct
 * user and login, until a write to crm.users or crm.tenants invalidates what was read (their statement
 * triggers, crm.users_changed() and crm.tenants_changed()).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_enum.h"
#include "commands/trigger.h"
#include "common/hmac.h"
#include "executor/spi.h"
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
#include "utils/timestamp.h"
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
	/* plans that hold the previous tenant (src/distribute.c) are made again */
	crm_tenant_changed(tenant_from_guc.present && tenant_from_guc.valid ? &tenant_from_guc.value : NULL);
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
 * Users and tenants. What crm.users says of a user (or of the user a login is bound to), and whether a
 * tenant's sharing is private, is read with plain index scans (no policy applies, so nothing recurses
 * into these functions) and kept until crm.users or crm.tenants is invalidated: by any write to them
 * (their statement triggers ask for that), by DDL, or by a cache reset.
 *
 * On Citus both are reference tables: the table of that name is then an empty shell, and the rows are
 * in the node's own placement of the table's one shard, crm.users_<shardid> (every node, the coordinator
 * included, has one). pg_dist_shard names the shard; it is read here directly, not through a query, so
 * this works inside a query that Citus runs on a shard.
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

/* crm.users (or its local shard), its indexes and columns; forgotten when it is invalidated */
typedef struct UsersRelation
{
	Oid			logical;		/* crm.users itself */
	Oid			relid;			/* what holds the rows: crm.users, or its local shard on Citus */
	Oid			pkey;			/* users_pkey (tenant_id, id) */
	Oid			by_login;		/* users_db_role (db_role) */
	AttrNumber	tenant_id,
				id,
				role,
				active,
				db_role;
} UsersRelation;

/* crm.tenants (or its local shard), its primary key and columns */
typedef struct TenantsRelation
{
	Oid			logical;
	Oid			relid;
	Oid			pkey;			/* tenants_pkey (id) */
	AttrNumber	id,
				settings;
} TenantsRelation;

static UsersRelation users_rel;
static TenantsRelation tenants_rel;

/* Bumped by every invalidation of crm.users or crm.tenants: what was read from them before is stale. */
static uint64 users_generation = 1;

/* The last (tenant, user) checked, the session login's binding, and the last tenant's sharing. */
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

static struct
{
	uint64		generation;
	pg_uuid_t	tenant;
	bool		private_sharing;
} sharing_check;

static void
users_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || !OidIsValid(users_rel.relid) || !OidIsValid(tenants_rel.relid) ||
		relid == users_rel.relid || relid == users_rel.logical ||
		relid == tenants_rel.relid || relid == tenants_rel.logical)
	{
		users_generation++;
		memset(&users_rel, 0, sizeof(users_rel));
		memset(&tenants_rel, 0, sizeof(tenants_rel));
	}
}

/* local_relid returns name's relation, or name_<shard>'s when the table is a Citus reference table. */
static Oid
local_relid(Oid ns, const char *name, int64 shard)
{
	if (shard == 0)
		return get_relname_relid(name, ns);
	return get_relname_relid(psprintf("%s_" INT64_FORMAT, name, shard), ns);
}

/* find_tables fills users_rel and tenants_rel; false while they do not exist (yet) with their indexes. */
static bool
find_tables(void)
{
	Oid			ns;
	UsersRelation r;
	TenantsRelation t;
	int64		shard;

	if (OidIsValid(users_rel.relid) && OidIsValid(tenants_rel.relid))
		return true;
	ns = get_namespace_oid("crm", true);
	if (!OidIsValid(ns))
		return false;

	r.logical = get_relname_relid("users", ns);
	if (!OidIsValid(r.logical))
		return false;
	shard = crm_citus_shard_of(r.logical);
	r.relid = local_relid(ns, "users", shard);
	r.pkey = local_relid(ns, "users_pkey", shard);
	r.by_login = local_relid(ns, "users_db_role", shard);
	if (!OidIsValid(r.relid) || !OidIsValid(r.pkey) || !OidIsValid(r.by_login))
		return false;
	r.tenant_id = get_attnum(r.relid, "tenant_id");
	r.id = get_attnum(r.relid, "id");
	r.role = get_attnum(r.relid, "role");
	r.active = get_attnum(r.relid, "active");
	r.db_role = get_attnum(r.relid, "db_role");
	if (r.tenant_id <= 0 || r.id <= 0 || r.role <= 0 || r.active <= 0 || r.db_role <= 0)
		return false;

	t.logical = get_relname_relid("tenants", ns);
	if (!OidIsValid(t.logical))
		return false;
	shard = crm_citus_shard_of(t.logical);
	t.relid = local_relid(ns, "tenants", shard);
	t.pkey = local_relid(ns, "tenants_pkey", shard);
	if (!OidIsValid(t.relid) || !OidIsValid(t.pkey))
		return false;
	t.id = get_attnum(t.relid, "id");
	t.settings = get_attnum(t.relid, "settings");
	if (t.id <= 0 || t.settings <= 0)
		return false;

	users_rel = r;
	tenants_rel = t;
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
	if (!find_tables())
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

/*
 * tenant_is_private says whether the tenant's settings say "sharing": "private" (a missing tenant, or a
 * missing setting, is public: the default), read at most once per generation.
 */
static bool
tenant_is_private(const pg_uuid_t *tenant)
{
	uint64		generation = users_generation;

	if (sharing_check.generation == generation &&
		memcmp(&sharing_check.tenant, tenant, sizeof(pg_uuid_t)) == 0)
		return sharing_check.private_sharing;

	sharing_check.generation = 0;
	sharing_check.private_sharing = false;
	if (find_tables())
	{
		TenantsRelation t = tenants_rel;
		Relation	rel;
		SysScanDesc scan;
		ScanKeyData key;
		HeapTuple	tuple;

		ScanKeyInit(&key, t.id, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(tenant));
		rel = table_open(t.relid, AccessShareLock);
		scan = systable_beginscan(rel, t.pkey, true, NULL, 1, &key);
		tuple = systable_getnext(scan);
		if (HeapTupleIsValid(tuple))
		{
			bool		isnull;
			Datum		d = heap_getattr(tuple, t.settings, RelationGetDescr(rel), &isnull);

			if (!isnull)
			{
				Jsonb	   *settings = DatumGetJsonbP(d);
				JsonbValue	v;

				if (JB_ROOT_IS_OBJECT(settings) &&
					getKeyJsonValueFromContainer(&settings->root, "sharing", strlen("sharing"), &v) &&
					v.type == jbvString && v.val.string.len == 7 &&
					memcmp(v.val.string.val, "private", 7) == 0)
					sharing_check.private_sharing = true;
				if ((Pointer) settings != DatumGetPointer(d))
					pfree(settings);
			}
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	sharing_check.tenant = *tenant;
	sharing_check.generation = generation;
	return sharing_check.private_sharing;
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
		if (!find_tables())
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

/* refuse_other_context raises 42501 unless (tenant, user) is the bound login's own (NULL: anything). */
static void
refuse_other_context(const UserFacts *bound, const pg_uuid_t *tenant, const pg_uuid_t *user)
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
		refuse_other_context(bound, tenant, user);
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

/*
 * The signed context (crm.context). Citus runs a query's shards in sessions of their own on the
 * workers, and of what a session set it carries there only SET LOCAL commands. The GUCs crm.tenant_id and
 * crm.user_id cannot go that way (only a superuser may set them, and the worker sessions are the
 * caller's role), and a worker could not check the user either (its crm.users is the coordinator's
 * to read). So crm.set_context and crm.pre_request, on a node with a crm.node_key, also SET LOCAL
 * crm.context to what they checked, signed with that key (HMAC-SHA256); a worker with the same key
 * believes it until it expires, and nobody without the key can make one.
 *
 *   1.<tenant: 32 hex>.<user: 32 hex or ->.<user's role: r, m, a or ->.<sharing: p or r>.<expires: unix
 *   seconds>.<HMAC-SHA256 of everything before this field, 64 hex>
 */
#define TOKEN_VERSION "1"
#define TOKEN_LIFETIME_SECONDS 3600
#define TOKEN_MAC_HEX 64
#define NODE_KEY_MIN_LENGTH 32

typedef struct ContextToken
{
	bool		present;		/* crm.context is set (not empty) */
	bool		valid;			/* well formed and signed by this node's key */
	pg_uuid_t	tenant;
	bool		has_user;
	pg_uuid_t	user;
	AppRole		user_role;
	bool		private_sharing;
	int64		expires;		/* unix seconds */
} ContextToken;

static char *node_key_text = NULL;
static char *token_guc_text = NULL;
static ContextToken token_from_guc;

static bool
node_key_set(void)
{
	return node_key_text != NULL && strlen(node_key_text) >= NODE_KEY_MIN_LENGTH;
}

bool
crm_node_key_set(void)
{
	return node_key_set();
}

/* token_mac writes the hex HMAC-SHA256 of msg under the node key into out (TOKEN_MAC_HEX + 1 bytes). */
static bool
token_mac(const char *msg, size_t len, char *out)
{
	uint8		mac[32];
	pg_hmac_ctx *ctx;
	bool		ok;

	if (!node_key_set())
		return false;
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		return false;
	ok = pg_hmac_init(ctx, (const uint8 *) node_key_text, strlen(node_key_text)) == 0 &&
		pg_hmac_update(ctx, (const uint8 *) msg, len) == 0 &&
		pg_hmac_final(ctx, mac, sizeof(mac)) == 0;
	pg_hmac_free(ctx);
	if (ok)
	{
		for (int i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", mac[i]);
	}
	return ok;
}

static void
hex_uuid(const pg_uuid_t *v, char *out)
{
	for (int i = 0; i < UUID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", v->data[i]);
}

/* parse_token fills *t from a crm.context value; valid only if well formed and correctly signed. */
static void
parse_token(const char *s, ContextToken *t)
{
	const char *field[7];
	size_t		flen[7];
	const char *p = s;
	char		expected[TOKEN_MAC_HEX + 1];
	char	   *end;
	int			diff = 0;

	memset(t, 0, sizeof(*t));
	t->user_role = APP_ROLE_NONE;
	if (s == NULL || s[0] == '\0')
		return;
	t->present = true;
	for (int i = 0; i < 7; i++)
	{
		const char *dot = (i < 6) ? strchr(p, '.') : p + strlen(p);

		if (dot == NULL)
			return;
		field[i] = p;
		flen[i] = dot - p;
		p = dot + 1;
	}
	if (flen[0] != 1 || field[0][0] != TOKEN_VERSION[0] || flen[6] != TOKEN_MAC_HEX ||
		!parse_uuid(field[1], flen[1], &t->tenant) || flen[1] != 32 || flen[3] != 1 || flen[4] != 1)
		return;
	if (flen[2] == 1 && field[2][0] == '-')
		t->has_user = false;
	else if (flen[2] == 32 && parse_uuid(field[2], flen[2], &t->user))
		t->has_user = true;
	else
		return;
	switch (field[3][0])
	{
		case 'r': t->user_role = APP_ROLE_REP; break;
		case 'm': t->user_role = APP_ROLE_MANAGER; break;
		case 'a': t->user_role = APP_ROLE_ADMIN; break;
		case '-': t->user_role = APP_ROLE_NONE; break;
		default: return;
	}
	if (field[4][0] != 'p' && field[4][0] != 'r')
		return;
	t->private_sharing = (field[4][0] == 'r');
	if (flen[5] == 0 || flen[5] > 18 || !isdigit((unsigned char) field[5][0]))
		return;
	t->expires = strtoll(field[5], &end, 10);
	if (end != field[5] + flen[5])
		return;
	if (!token_mac(s, field[6] - 1 - s, expected))
		return;
	for (int i = 0; i < TOKEN_MAC_HEX; i++)	/* in constant time */
		diff |= expected[i] ^ field[6][i];
	t->valid = (diff == 0);
}

/* make_token returns the signed crm.context of a checked context (tenant not NULL). */
static char *
make_token(const pg_uuid_t *tenant, const pg_uuid_t *user, AppRole user_role, bool private_sharing)
{
	char		tenant_hex[33],
				user_hex[33];
	char		mac[TOKEN_MAC_HEX + 1];
	char	   *body;
	int64		expires = (int64) time(NULL) + TOKEN_LIFETIME_SECONDS;

	hex_uuid(tenant, tenant_hex);
	if (user != NULL)
		hex_uuid(user, user_hex);
	body = psprintf(TOKEN_VERSION ".%s.%s.%c.%c." INT64_FORMAT, tenant_hex, user != NULL ? user_hex : "-",
					user_role == APP_ROLE_ADMIN ? 'a' : user_role == APP_ROLE_MANAGER ? 'm' :
					user_role == APP_ROLE_REP ? 'r' : '-', private_sharing ? 'r' : 'p', expires);
	if (!token_mac(body, strlen(body), mac))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not sign the request context")));
	return psprintf("%s.%s", body, mac);
}

/* The GUC hooks of crm.context: every value is accepted and parsed (a bad one fails when read). */
static bool
check_context_token(char **newval, void **extra, GucSource source)
{
	ContextToken *parsed = (ContextToken *) malloc(sizeof(ContextToken));

	if (parsed == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		GUC_check_errmsg("out of memory");
		return false;
	}
	parse_token(*newval, parsed);
	*extra = parsed;
	return true;
}

static void
assign_context_token(const char *newval, void *extra)
{
	token_from_guc = *(ContextToken *) extra;
	if (!tenant_from_guc.present)
		crm_tenant_changed(token_from_guc.valid ? &token_from_guc.tenant : NULL);
}

static bool
check_node_key(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && (*newval)[0] != '\0' && strlen(*newval) < NODE_KEY_MIN_LENGTH)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("crm.node_key must be at least %d characters long", NODE_KEY_MIN_LENGTH);
		return false;
	}
	return true;
}

/* The request context as every function here sees it. */
typedef struct RequestContext
{
	pg_uuid_t  *tenant;			/* NULL: none */
	pg_uuid_t  *user;			/* NULL: none */
	AppRole		user_role;		/* the user's crm.users.role; APP_ROLE_NONE without a user */
	bool		from_token;		/* read from crm.context: private_sharing says the tenant's sharing */
	bool		private_sharing;
} RequestContext;

/* context_from_token: the context a worker (or any node) reads from a signed crm.context. */
static RequestContext
context_from_token(const ContextToken *t)
{
	RequestContext cx;
	const UserFacts *bound;

	if (!t->valid)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("crm.context is not a request context signed with this node's crm.node_key"),
				 errhint("Only crm.set_context and crm.pre_request make it; every node of a cluster needs the same crm.node_key.")));
	if (t->expires < (int64) time(NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("crm.context has expired"),
				 errhint("Set the context again with crm.set_context: a signed context lasts %d seconds.",
						 TOKEN_LIFETIME_SECONDS)));
	bound = session_binding();
	if (bound != NULL)
		refuse_other_context(bound, &t->tenant, t->has_user ? &t->user : NULL);
	cx.tenant = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
	*cx.tenant = t->tenant;
	cx.user = NULL;
	if (t->has_user)
	{
		cx.user = (pg_uuid_t *) palloc(sizeof(pg_uuid_t));
		*cx.user = t->user;
	}
	cx.user_role = t->user_role;
	cx.from_token = true;
	cx.private_sharing = t->private_sharing;
	return cx;
}

static RequestContext
request_context(void)
{
	RequestContext cx;
	pg_uuid_t  *tenant;
	pg_uuid_t  *user;
	const UserFacts *facts;

	if (!tenant_from_guc.present && !user_from_guc.present && token_from_guc.present)
		return context_from_token(&token_from_guc);
	/*
	 * Claims that name a tenant or a user are refused here (they would reach no worker: 0 rows, no
	 * error); claims that name neither give no context, as on a single node (reads see nothing).
	 */
	if (!tenant_from_guc.present && !user_from_guc.present && node_key_set() && current_claims() != NULL &&
		(current_claims()->tenant.present || current_claims()->user.present))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("request.jwt.claims are read only through crm.pre_request on a node with a crm.node_key"),
				 errhint("Set db-pre-request = \"crm.pre_request\" in PostgREST's configuration: on Citus, it is what carries the context to the workers.")));
	tenant = context_value(&tenant_from_guc, "crm.tenant_id", true);
	user = context_value(&user_from_guc, "crm.user_id", false);
	facts = check_context(tenant, user);

	cx.tenant = tenant;
	cx.user = user;
	cx.user_role = APP_ROLE_NONE;
	cx.from_token = false;
	cx.private_sharing = false;
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

/* crm_request_tenant: the request's tenant into *tenant, false for none (errors as current_tenant()). */
bool
crm_request_tenant(pg_uuid_t *tenant)
{
	RequestContext cx = request_context();

	if (cx.tenant == NULL)
		return false;
	*tenant = *cx.tenant;
	return true;
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

/* effective_role: the weaker of the database role's crm role and the context user's role. */
static AppRole
effective_role(const RequestContext *cx)
{
	Oid			roleid = GetOuterUserId();
	AppRole		role;

	if (roleid != app_role_for)
	{
		app_role_cached = app_role_of(roleid);
		app_role_for = roleid;
	}
	role = app_role_cached;
	if (role != APP_ROLE_NONE && cx->user_role != APP_ROLE_NONE && cx->user_role < role)
		role = cx->user_role;
	return role;
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
	RequestContext cx = request_context();
	AppRole		role = effective_role(&cx);

	if (role == APP_ROLE_NONE)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(app_role_names[role]));
}

PG_FUNCTION_INFO_V1(crm_sees_all_records);

/*
 * crm.sees_all_records() → boolean: whether the caller reads every record of its tenant (managers and
 * admins; reps too when the tenant's sharing is public) or only those it owns. The sharing comes from
 * crm.tenants, or from the signed context on a Citus worker: a policy reads no table through a query.
 */
Datum
crm_sees_all_records(PG_FUNCTION_ARGS)
{
	RequestContext cx = request_context();
	AppRole		role = effective_role(&cx);

	if (role >= APP_ROLE_MANAGER)
		PG_RETURN_BOOL(true);
	if (cx.tenant == NULL)
		PG_RETURN_BOOL(true);	/* no tenant: the policies' tenant test already fails */
	if (cx.from_token)
		PG_RETURN_BOOL(!cx.private_sharing);
	PG_RETURN_BOOL(!tenant_is_private(cx.tenant));
}

PG_FUNCTION_INFO_V1(crm_changes_all_records);

/* crm.changes_all_records() → boolean: whether the caller changes every record of its tenant. */
Datum
crm_changes_all_records(PG_FUNCTION_ARGS)
{
	RequestContext cx = request_context();

	PG_RETURN_BOOL(effective_role(&cx) >= APP_ROLE_MANAGER);
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

/*
 * set_signed_context runs SET LOCAL crm.context (through SPI, as a statement: Citus sends SET LOCAL
 * statements to the workers of the transaction, now and on every connection it opens later).
 */
static void
set_signed_context(const char *token)
{
	char	   *sql = psprintf("SET LOCAL crm.context = %s", quote_literal_cstr(token));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set crm.context");
	SPI_finish();
	pfree(sql);
}

/*
 * establish_context checks (tenant, user) and makes it the context (the GUCs), and on a node with a
 * crm.node_key also the signed context, which must then be transaction-local.
 */
static void
establish_context(const pg_uuid_t *tenant, const pg_uuid_t *user, bool is_local)
{
	const UserFacts *facts;

	if (node_key_set() && !is_local)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("on a node with a crm.node_key the request context is transaction-local"),
				 errdetail("Citus carries SET LOCAL to the workers, not a session's settings."),
				 errhint("Call crm.set_context(tenant, user_id) in each transaction (is_local => true).")));
	if (node_key_set() && GetCurrentTransactionNestLevel() > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("on a node with a crm.node_key the request context cannot be set in a subtransaction"),
				 errdetail("Citus forgets a SET LOCAL made in a subtransaction (a SAVEPOINT, a PL/pgSQL EXCEPTION block) when it ends, so later worker sessions would not have the context."),
				 errhint("Call crm.set_context or crm.pre_request at the top of the transaction.")));
	facts = check_context(tenant, user);
	set_context_guc("crm.tenant_id", tenant, is_local);
	set_context_guc("crm.user_id", user, is_local);
	if (node_key_set())
	{
		const pg_uuid_t *t = tenant;
		const pg_uuid_t *u = user;

		if (facts != NULL)
		{
			/* a bound login (its own user) or a checked user */
			t = &facts->tenant;
			u = &facts->user;
		}
		/*
		 * Outside a transaction block (a statement of its own, a DO block, a CALL and what follows
		 * the COMMITs of a procedure), Citus sends a query that only reads to the shards without a
		 * remote transaction, so without the SET LOCAL below: the workers would have no context and
		 * show no row. A call that names a tenant is refused there rather than silently empty.
		 */
		if (tenant != NULL && !IsTransactionBlock())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("on a node with a crm.node_key the request context is set inside a transaction block"),
					 errdetail("Outside BEGIN ... COMMIT (a statement of its own, a DO block, a CALL) Citus reads the shards before it sends them the context, so they would show no rows."),
					 errhint("Run BEGIN first, and then crm.set_context or crm.pre_request, as PostgREST does.")));
		if (t == NULL)
			set_signed_context("");
		else
			set_signed_context(make_token(t, u, facts != NULL ? facts->role : APP_ROLE_NONE,
										  tenant_is_private(t)));
	}
}

/*
 * crm_sign_bound_login: before a query is planned on a node with a crm.node_key. A login bound to a crm
 * user that has switched role (SET ROLE crm_rep) reaches the workers as that role, where nothing says who
 * it is: without a signed context it would see no rows there. So the first query of its transaction signs
 * the bound user's context (SET LOCAL crm.context, as crm.set_context does); a login that has not switched
 * role is recognised by the workers themselves. Citus carries a SET LOCAL only within a transaction block
 * and forgets one made in a subtransaction: there, 0A000 rather than rows silently missing.
 */
void
crm_sign_bound_login(void)
{
	const UserFacts *bound;

	if (!node_key_set() || token_from_guc.present || tenant_from_guc.present || user_from_guc.present ||
		GetUserId() == GetSessionUserId())
		return;
	bound = session_binding();
	if (bound == NULL)
		return;
	refuse_other_context(bound, NULL, NULL);	/* an inactive user: 42501, as every read says */
	if (!IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("login \"%s\" has switched role, and on a node with a crm.node_key its queries must run in a transaction block",
						GetUserNameFromId(GetSessionUserId(), false)),
				 errdetail("The workers see the role, not the login; crm signs the login's user for them with SET LOCAL, which Citus carries only within BEGIN ... COMMIT."),
				 errhint("Run the query between BEGIN and COMMIT, or without SET ROLE.")));
	if (GetCurrentTransactionNestLevel() > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("login \"%s\" has switched role, and on a node with a crm.node_key its context must be signed at the top of the transaction",
						GetUserNameFromId(GetSessionUserId(), false)),
				 errdetail("Citus forgets a SET LOCAL made in a subtransaction (a SAVEPOINT, a PL/pgSQL EXCEPTION block)."),
				 errhint("Call crm.set_context(NULL, NULL) first in the transaction: for a bound login it signs the login's own user.")));
	set_signed_context(make_token(&bound->tenant, &bound->user, bound->role, tenant_is_private(&bound->tenant)));
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
 * crm.users_changed() and crm.tenants_changed(): the statement triggers of crm.users and crm.tenants (on
 * Citus: of their shards). Every backend forgets what it read of them (user checks, login bindings,
 * sharing) once the change is visible to it: the relcache invalidation reaches this backend at once and
 * the others at commit.
 */
Datum
crm_users_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s is an AFTER trigger FOR EACH STATEMENT", trigdata != NULL && CALLED_AS_TRIGGER(fcinfo) ? trigdata->tg_trigger->tgname : "crm.users_changed")));
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
	DefineCustomStringVariable("crm.node_key",
							   "The secret every node of a Citus cluster signs and checks request contexts with (at least 32 characters); empty on a single node.",
							   NULL,
							   &node_key_text, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_node_key, NULL, NULL);
	DefineCustomStringVariable("crm.context",
							   "The request context, signed with crm.node_key: what carries it to Citus workers.",
							   "Set (SET LOCAL) by crm.set_context and crm.pre_request on a node with a crm.node_key; a value they did not sign is refused (42501) when read.",
							   &token_guc_text, "", PGC_USERSET, GUC_NOT_IN_SAMPLE,
							   check_context_token, assign_context_token, NULL);
	MarkGUCPrefixReserved("crm");

	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, app_role_invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, app_role_invalidate, (Datum) 0);
	CacheRegisterRelcacheCallback(users_invalidate, (Datum) 0);
}
