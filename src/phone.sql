-- phone.sql: the crm.phone type (src/phone.c).

CREATE TYPE crm.phone;

CREATE FUNCTION crm.phone_in(cstring) RETURNS crm.phone
    AS 'MODULE_PATHNAME', 'crm_phone_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_in(cstring) IS 'Input of crm.phone: an international number in any common spelling, stored as E.164; 22P02 quoting the value when it is not one.';
CREATE FUNCTION crm.phone_out(crm.phone) RETURNS cstring
    AS 'MODULE_PATHNAME', 'crm_phone_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_out(crm.phone) IS 'Output of crm.phone: E.164, as +442079460958.';
CREATE FUNCTION crm.phone_recv(internal) RETURNS crm.phone
    AS 'MODULE_PATHNAME', 'crm_phone_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_recv(internal) IS 'Binary input of crm.phone: the E.164 digits as an int8, checked.';
CREATE FUNCTION crm.phone_send(crm.phone) RETURNS bytea
    AS 'MODULE_PATHNAME', 'crm_phone_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_send(crm.phone) IS 'Binary output of crm.phone: the E.164 digits as an int8.';

CREATE TYPE crm.phone (
    INPUT = crm.phone_in,
    OUTPUT = crm.phone_out,
    RECEIVE = crm.phone_recv,
    SEND = crm.phone_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE crm.phone IS 'A telephone number stored as E.164: +44 20 7946 0958, 0044 20 7946 0958 and (+44) 20-7946-0958 are all +442079460958 and compare equal. National numbers: crm.to_phone(value, default_country_code).';

-- The value is the E.164 digits as an int8, so comparison and hashing are PostgreSQL's own int8
-- functions. The operators live in pg_catalog, for the reason given in email.sql.
CREATE FUNCTION crm.phone_eq(crm.phone, crm.phone) RETURNS boolean
    AS 'int8eq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_eq(crm.phone, crm.phone) IS 'The same number, however it was written.';
CREATE FUNCTION crm.phone_ne(crm.phone, crm.phone) RETURNS boolean
    AS 'int8ne' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_ne(crm.phone, crm.phone) IS 'Different numbers.';
CREATE FUNCTION crm.phone_lt(crm.phone, crm.phone) RETURNS boolean
    AS 'int8lt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_lt(crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number: less than.';
CREATE FUNCTION crm.phone_le(crm.phone, crm.phone) RETURNS boolean
    AS 'int8le' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_le(crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number: less than or equal.';
CREATE FUNCTION crm.phone_gt(crm.phone, crm.phone) RETURNS boolean
    AS 'int8gt' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_gt(crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number: greater than.';
CREATE FUNCTION crm.phone_ge(crm.phone, crm.phone) RETURNS boolean
    AS 'int8ge' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_ge(crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number: greater than or equal.';
CREATE FUNCTION crm.phone_cmp(crm.phone, crm.phone) RETURNS integer
    AS 'btint8cmp' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_cmp(crm.phone, crm.phone) IS 'Btree support: -1, 0 or 1.';
CREATE FUNCTION crm.phone_hash(crm.phone) RETURNS integer
    AS 'hashint8' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_hash(crm.phone) IS 'Hash support.';
CREATE FUNCTION crm.phone_hash_extended(crm.phone, bigint) RETURNS bigint
    AS 'hashint8extended' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.phone_hash_extended(crm.phone, bigint) IS 'Hash support: seeded 64-bit hash.';

CREATE OPERATOR pg_catalog.= (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_eq,
    COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_ne,
    COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_lt,
    COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_le,
    COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_gt,
    COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (LEFTARG = crm.phone, RIGHTARG = crm.phone, FUNCTION = crm.phone_ge,
    COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR pg_catalog.= (crm.phone, crm.phone) IS 'The same number, however it was written.';
COMMENT ON OPERATOR pg_catalog.<> (crm.phone, crm.phone) IS 'Different numbers.';
COMMENT ON OPERATOR pg_catalog.< (crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number.';
COMMENT ON OPERATOR pg_catalog.<= (crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number.';
COMMENT ON OPERATOR pg_catalog.> (crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number.';
COMMENT ON OPERATOR pg_catalog.>= (crm.phone, crm.phone) IS 'Order of the E.164 digits read as a number.';

CREATE OPERATOR CLASS crm.phone_ops DEFAULT FOR TYPE crm.phone USING btree AS
    OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=, OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
    FUNCTION 1 crm.phone_cmp(crm.phone, crm.phone);
CREATE OPERATOR CLASS crm.phone_hash_ops DEFAULT FOR TYPE crm.phone USING hash AS
    OPERATOR 1 pg_catalog.=,
    FUNCTION 1 crm.phone_hash(crm.phone),
    FUNCTION 2 crm.phone_hash_extended(crm.phone, bigint);
COMMENT ON OPERATOR CLASS crm.phone_ops USING btree IS 'Btree indexes, unique constraints and sorting on crm.phone.';
COMMENT ON OPERATOR CLASS crm.phone_hash_ops USING hash IS 'Hash indexes, hash joins and hash aggregation on crm.phone.';

-- min() and max(), in pg_catalog beside the built-in ones (see email.sql).
CREATE FUNCTION crm.phone_smaller(crm.phone, crm.phone) RETURNS crm.phone
    AS 'int8smaller' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_smaller(crm.phone, crm.phone) IS 'The number that sorts first (min() support).';
CREATE FUNCTION crm.phone_larger(crm.phone, crm.phone) RETURNS crm.phone
    AS 'int8larger' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_larger(crm.phone, crm.phone) IS 'The number that sorts last (max() support).';
CREATE AGGREGATE pg_catalog.min(crm.phone) (SFUNC = crm.phone_smaller, STYPE = crm.phone,
    COMBINEFUNC = crm.phone_smaller, SORTOP = OPERATOR(pg_catalog.<), PARALLEL = SAFE);
CREATE AGGREGATE pg_catalog.max(crm.phone) (SFUNC = crm.phone_larger, STYPE = crm.phone,
    COMBINEFUNC = crm.phone_larger, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.min(crm.phone) IS 'The first number in crm.phone order.';
COMMENT ON AGGREGATE pg_catalog.max(crm.phone) IS 'The last number in crm.phone order.';

CREATE FUNCTION crm.phone(text) RETURNS crm.phone
    AS 'MODULE_PATHNAME', 'crm_phone_from_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone(text) IS 'Cast text to crm.phone: an international number (+CC or 00CC); 22P02 quoting the value otherwise.';
CREATE FUNCTION crm.text(crm.phone) RETURNS text
    AS 'MODULE_PATHNAME', 'crm_phone_to_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.text(crm.phone) IS 'Cast crm.phone to text: E.164, as +442079460958.';
-- AS ASSIGNMENT, for the reason given in email.sql.
CREATE CAST (text AS crm.phone) WITH FUNCTION crm.phone(text) AS ASSIGNMENT;
CREATE CAST (varchar AS crm.phone) WITH FUNCTION crm.phone(text) AS ASSIGNMENT;
CREATE CAST (crm.phone AS text) WITH FUNCTION crm.text(crm.phone) AS ASSIGNMENT;
COMMENT ON CAST (text AS crm.phone) IS 'Reads an international number (22P02 when it is not one).';
COMMENT ON CAST (varchar AS crm.phone) IS 'Reads an international number (22P02 when it is not one).';
COMMENT ON CAST (crm.phone AS text) IS 'E.164, as +442079460958.';

CREATE FUNCTION crm.to_phone(value text, default_country_code text) RETURNS crm.phone
    AS 'MODULE_PATHNAME', 'crm_to_phone' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.to_phone(text, text) IS 'Reads a phone number that may be national: crm.to_phone(''020 7946 0958'', ''44'') = +442079460958. The trunk prefix is dropped (0, or 1 in +1; Italy keeps its 0). International spellings are read as by the cast. NULL value: NULL; a bad default_country_code: 22023.';

CREATE FUNCTION crm.phone_country_code(crm.phone) RETURNS integer
    AS 'MODULE_PATHNAME', 'crm_phone_country_code' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.phone_country_code(crm.phone) IS 'The ITU country calling code of a number: 44 for +442079460958.';
