-- crm.email: validated on input, stored lowercase, compared case-insensitively (src/email.c).
-- crm is not on the search_path: the comparison operators are found anyway (they are in pg_catalog).

-- How each input reads: the stored value, or the SQLSTATE and the reason it was refused.
CREATE FUNCTION pg_temp.read_email(input text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    detail text;
BEGIN
    RETURN input::crm.email::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RETURN format('ERROR %s: %s', st, detail);
END
$$;

SELECT format('%-45s', quote_literal(input)) AS input, pg_temp.read_email(input) AS reads_as
FROM (VALUES
    -- valid
    ('ann@example.com'), ('Ann@Example.COM'), ('ANN@EXAMPLE.COM'), ('  ann@example.com  '),
    ('first.last@example.com'), ('first.m.last@sub.example.co.uk'), ('ann+crm@example.com'),
    ('o''brien@example.ie'), ('x@example.io'), ('a_b-c@ex-ample.org'), ('1234@example.com'),
    ('user%tag@example.com'), ('!#$%&''*+/=?^_`{|}~-@example.com'), ('ann@xn--bcher-kva.example'),
    ('josé@example.es'), ('ann@bücher.example'), ('ann@123.example.com'), ('a@b.co'),
    ('ann@EXAMPLE.com'), ('UPPER.lower@Mixed.Example.Com'),
    -- invalid
    (''), ('   '), ('ann'), ('ann.example.com'), ('@example.com'), ('ann@'), ('ann@@example.com'),
    ('ann@bob@example.com'), ('.ann@example.com'), ('ann.@example.com'), ('an..n@example.com'),
    ('ann smith@example.com'), ('"ann smith"@example.com'), ('ann(comment)@example.com'),
    ('ann@[192.0.2.1]'), ('ann@localhost'), ('ann@example'), ('ann@.example.com'), ('ann@example.com.'),
    ('ann@example..com'), ('ann@-example.com'), ('ann@example-.com'), ('ann@example.123'),
    ('ann@exa_mple.com'), ('ann@exa mple.com'), ('ann,bob@example.com'), ('ann;@example.com'),
    ('ann\@example.com'), ('<ann@example.com>'), ('mailto:ann@example.com')
) AS t(input);

-- lengths: 64 before the '@', 63 per label, 254 in all
SELECT pg_temp.read_email(repeat('a', 64) || '@example.com') = repeat('a', 64) || '@example.com' AS local_64_ok,
       pg_temp.read_email(repeat('a', 65) || '@example.com') AS local_65,
       pg_temp.read_email('ann@' || repeat('b', 63) || '.com') = 'ann@' || repeat('b', 63) || '.com' AS label_63_ok,
       pg_temp.read_email('ann@' || repeat('b', 64) || '.com') AS label_64;
SELECT pg_temp.read_email(repeat('a', 64) || '@' || repeat(repeat('b', 61) || '.', 3) || 'com') =
           repeat('a', 64) || '@' || repeat(repeat('b', 61) || '.', 3) || 'com' AS length_254_ok,
       pg_temp.read_email(repeat('a', 64) || '@' || repeat(repeat('b', 61) || '.', 3) || 'comx') AS length_255;

-- the error a user sees, in full
SELECT 'not an email'::crm.email;
\echo :LAST_ERROR_SQLSTATE
SELECT crm.email('ann@@example.com');

-- equality ignores case; order is the byte order of the lowercase form
SELECT 'Foo@Example.COM'::crm.email = 'foo@example.com' AS equal,
       'Foo@Example.COM'::crm.email <> 'foo@example.com' AS not_equal,
       'a@example.com'::crm.email < 'B@example.com' AS a_before_b,
       'b@example.com'::crm.email >= 'A@EXAMPLE.COM' AS b_after_a,
       crm.email_cmp('x@example.com', 'X@Example.Com') AS cmp;
SELECT e FROM (VALUES ('carol@example.com'::crm.email), ('Bob@example.com'), ('alice@Example.com'), ('bob@EXAMPLE.com')) v(e)
ORDER BY e;
SELECT min(e), max(e), min(e) FILTER (WHERE false) AS min_of_none
FROM (VALUES ('carol@example.com'::crm.email), ('Bob@example.com'), (NULL), ('alice@Example.com')) v(e);
SELECT count(DISTINCT e) AS distinct_addresses
FROM (VALUES ('carol@example.com'::crm.email), ('Bob@example.com'), ('bob@EXAMPLE.com')) v(e);

-- crm.email_domain
SELECT crm.email_domain('Ann@Acme.COM'), crm.email_domain('first.last@mail.sub.example.co.uk'), crm.email_domain(NULL);

-- casts: from text and varchar by assignment, explicit to text; never implicit
CREATE TEMP TABLE mailbox (e crm.email);
INSERT INTO mailbox VALUES ('Ann@Example.com'::text), ('Bob@Example.com'::varchar);
SELECT e, e::text AS as_text, pg_typeof(e::text) FROM mailbox ORDER BY e;
INSERT INTO mailbox VALUES ('broken'::text);
SELECT e FROM mailbox WHERE e = 'ANN@example.COM';
SELECT length(e) FROM mailbox;   -- no implicit cast to text: an error, not a silent guess
SELECT length(e::text) FROM mailbox ORDER BY 1;

-- binary send and receive round-trip, and recv validates
SELECT current_setting('data_directory') || '/crm_email_regress.bin' AS binfile \gset
SELECT crm.email_send('Ann@Example.com') AS sent;
CREATE TEMP TABLE bin (e crm.email);
COPY (SELECT 'Ann@Example.com'::crm.email) TO :'binfile' WITH (FORMAT binary);
COPY bin FROM :'binfile' WITH (FORMAT binary);
SELECT e FROM bin;
COPY (SELECT 'no at sign'::text) TO :'binfile' WITH (FORMAT binary);
COPY bin FROM :'binfile' WITH (FORMAT binary);

-- indexes: a unique btree index is case-insensitive; hash indexes and hash joins work
CREATE TEMP TABLE people (tenant_id int, email crm.email, UNIQUE (tenant_id, email));
INSERT INTO people VALUES (1, 'ann@example.com'), (2, 'ANN@example.com');
INSERT INTO people VALUES (1, 'Ann@Example.COM');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO people SELECT 3, format('user%s@example.com', n)::crm.email FROM generate_series(1, 2000) n;
ANALYZE people;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM people WHERE tenant_id = 3 AND email = 'USER42@example.com';
SELECT * FROM people WHERE tenant_id = 3 AND email = 'USER42@example.com';
CREATE INDEX people_email_hash ON people USING hash (email);
ALTER TABLE people DROP CONSTRAINT people_tenant_id_email_key;
EXPLAIN (COSTS OFF) SELECT * FROM people WHERE email = 'USER42@example.com';
SELECT * FROM people WHERE email = 'USER42@example.com';
RESET enable_seqscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM people a JOIN mailbox b ON a.email = b.e;
SELECT count(*) FROM people a JOIN mailbox b ON a.email = b.e;
RESET enable_mergejoin;
RESET enable_nestloop;

-- the support functions are immutable, strict and parallel safe
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p WHERE p.pronamespace = 'crm'::regnamespace AND p.proname LIKE 'email%'
ORDER BY p.proname;
