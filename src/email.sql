-- email.sql: the crm.email type (src/email.c).

CREATE TYPE crm.email;

CREATE FUNCTION crm.email_in(cstring) RETURNS crm.email
    AS 'MODULE_PATHNAME', 'crm_email_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_in(cstring) IS 'Input of crm.email: validates and lowers the address; 22P02 quoting the value when it is not one.';
CREATE FUNCTION crm.email_out(crm.email) RETURNS cstring
    AS 'MODULE_PATHNAME', 'crm_email_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_out(crm.email) IS 'Output of crm.email: the normalized (lowercase) address.';
CREATE FUNCTION crm.email_recv(internal) RETURNS crm.email
    AS 'MODULE_PATHNAME', 'crm_email_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_recv(internal) IS 'Binary input of crm.email: the text of the address, validated like text input.';
CREATE FUNCTION crm.email_send(crm.email) RETURNS bytea
    AS 'MODULE_PATHNAME', 'crm_email_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_send(crm.email) IS 'Binary output of crm.email: the text of the address.';

CREATE TYPE crm.email (
    INPUT = crm.email_in,
    OUTPUT = crm.email_out,
    RECEIVE = crm.email_recv,
    SEND = crm.email_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended,
    CATEGORY = 'S'
);
COMMENT ON TYPE crm.email IS 'An email address, validated on input and stored in lowercase, so that Foo@Example.COM = foo@example.com and unique indexes ignore case. Casts from text (validating) and to text.';

-- The value is laid out as a bytea (normalized bytes), so comparison and hashing are PostgreSQL's own
-- bytea functions: byte order, no collation, no lower() per comparison.
-- The comparison operators live in pg_catalog, which is always searched: email = 'Ann@Example.com'
-- then works whatever the caller's search_path (PostgREST's is "crm_api", "public"). Their operand
-- types are crm's own, so they cannot collide with anything there; DROP EXTENSION removes them.
CREATE FUNCTION crm.email_eq(crm.email, crm.email) RETURNS boolean
    AS 'byteaeq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_eq(crm.email, crm.email) IS 'Equality of two addresses (case-insensitive: both are stored lowercase).';
CREATE FUNCTION crm.email_ne(crm.email, crm.email) RETURNS boolean
    AS 'byteane' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_ne(crm.email, crm.email) IS 'Inequality of two addresses.';
CREATE FUNCTION crm.email_lt(crm.email, crm.email) RETURNS boolean
    AS 'bytealt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_lt(crm.email, crm.email) IS 'Byte order of two normalized addresses: less than.';
CREATE FUNCTION crm.email_le(crm.email, crm.email) RETURNS boolean
    AS 'byteale' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_le(crm.email, crm.email) IS 'Byte order of two normalized addresses: less than or equal.';
CREATE FUNCTION crm.email_gt(crm.email, crm.email) RETURNS boolean
    AS 'byteagt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_gt(crm.email, crm.email) IS 'Byte order of two normalized addresses: greater than.';
CREATE FUNCTION crm.email_ge(crm.email, crm.email) RETURNS boolean
    AS 'byteage' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_ge(crm.email, crm.email) IS 'Byte order of two normalized addresses: greater than or equal.';
CREATE FUNCTION crm.email_cmp(crm.email, crm.email) RETURNS integer
    AS 'byteacmp' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_cmp(crm.email, crm.email) IS 'Btree support: -1, 0 or 1 in the byte order of the normalized addresses.';
CREATE FUNCTION crm.email_hash(crm.email) RETURNS integer
    AS 'hashvarlena' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_hash(crm.email) IS 'Hash support: hash of the normalized address.';
CREATE FUNCTION crm.email_hash_extended(crm.email, bigint) RETURNS bigint
    AS 'hashvarlenaextended' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.email_hash_extended(crm.email, bigint) IS 'Hash support: seeded 64-bit hash of the normalized address.';

CREATE OPERATOR pg_catalog.= (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_eq,
    COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_ne,
    COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_lt,
    COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_le,
    COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_gt,
    COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (LEFTARG = crm.email, RIGHTARG = crm.email, FUNCTION = crm.email_ge,
    COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR pg_catalog.= (crm.email, crm.email) IS 'Same address, whatever the case it was typed in.';
COMMENT ON OPERATOR pg_catalog.<> (crm.email, crm.email) IS 'Different addresses.';
COMMENT ON OPERATOR pg_catalog.< (crm.email, crm.email) IS 'Byte order of the normalized addresses.';
COMMENT ON OPERATOR pg_catalog.<= (crm.email, crm.email) IS 'Byte order of the normalized addresses.';
COMMENT ON OPERATOR pg_catalog.> (crm.email, crm.email) IS 'Byte order of the normalized addresses.';
COMMENT ON OPERATOR pg_catalog.>= (crm.email, crm.email) IS 'Byte order of the normalized addresses.';

CREATE OPERATOR CLASS crm.email_ops DEFAULT FOR TYPE crm.email USING btree AS
    OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=, OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
    FUNCTION 1 crm.email_cmp(crm.email, crm.email);
CREATE OPERATOR CLASS crm.email_hash_ops DEFAULT FOR TYPE crm.email USING hash AS
    OPERATOR 1 pg_catalog.=,
    FUNCTION 1 crm.email_hash(crm.email),
    FUNCTION 2 crm.email_hash_extended(crm.email, bigint);
COMMENT ON OPERATOR CLASS crm.email_ops USING btree IS 'Btree indexes, unique constraints and sorting on crm.email (case-insensitive, byte order).';
COMMENT ON OPERATOR CLASS crm.email_hash_ops USING hash IS 'Hash indexes, hash joins and hash aggregation on crm.email.';

-- min() and max(), in pg_catalog beside the built-in ones for the reason given above.
CREATE FUNCTION crm.email_smaller(crm.email, crm.email) RETURNS crm.email
    AS 'MODULE_PATHNAME', 'crm_email_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_smaller(crm.email, crm.email) IS 'The address that sorts first (min() support).';
CREATE FUNCTION crm.email_larger(crm.email, crm.email) RETURNS crm.email
    AS 'MODULE_PATHNAME', 'crm_email_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_larger(crm.email, crm.email) IS 'The address that sorts last (max() support).';
CREATE AGGREGATE pg_catalog.min(crm.email) (SFUNC = crm.email_smaller, STYPE = crm.email,
    COMBINEFUNC = crm.email_smaller, SORTOP = OPERATOR(pg_catalog.<), PARALLEL = SAFE);
CREATE AGGREGATE pg_catalog.max(crm.email) (SFUNC = crm.email_larger, STYPE = crm.email,
    COMBINEFUNC = crm.email_larger, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.min(crm.email) IS 'The first address in crm.email order.';
COMMENT ON AGGREGATE pg_catalog.max(crm.email) IS 'The last address in crm.email order.';

CREATE FUNCTION crm.email(text) RETURNS crm.email
    AS 'MODULE_PATHNAME', 'crm_email_from_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email(text) IS 'Cast text to crm.email: validates and lowers; 22P02 quoting the value when it is not an address.';
-- Casts. Both are AS ASSIGNMENT, not implicit: with an implicit cast to text, email = some_text_column
-- would silently become a case-sensitive text comparison; as it is, it asks for an explicit cast.
CREATE CAST (text AS crm.email) WITH FUNCTION crm.email(text) AS ASSIGNMENT;
CREATE CAST (varchar AS crm.email) WITH FUNCTION crm.email(text) AS ASSIGNMENT;
CREATE CAST (crm.email AS text) WITHOUT FUNCTION AS ASSIGNMENT;
COMMENT ON CAST (text AS crm.email) IS 'Validates and lowers the address (22P02 when it is not one).';
COMMENT ON CAST (varchar AS crm.email) IS 'Validates and lowers the address (22P02 when it is not one).';
COMMENT ON CAST (crm.email AS text) IS 'The normalized address as text (the bytes are the same).';

CREATE FUNCTION crm.email_domain(crm.email) RETURNS text
    AS 'MODULE_PATHNAME', 'crm_email_domain' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.email_domain(crm.email) IS 'The domain of an address, lowercase: crm.email_domain(''Ann@Acme.COM'') = ''acme.com''. Used to match a lead to an existing account.';
