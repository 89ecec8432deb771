-- crm.phone: stored as E.164, equal across input spellings (src/phone.c).
-- crm is not on the search_path: the comparison operators are found anyway (they are in pg_catalog).

-- How each input reads: the stored value, or the SQLSTATE and the reason it was refused.
CREATE FUNCTION pg_temp.read_phone(input text, country text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    detail text;
BEGIN
    IF country IS NULL THEN
        RETURN input::crm.phone::text;
    END IF;
    RETURN crm.to_phone(input, country)::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RETURN format('ERROR %s: %s', st, detail);
END
$$;

-- international spellings, through the type's input
SELECT format('%-30s', quote_literal(input)) AS input, pg_temp.read_phone(input) AS reads_as
FROM (VALUES
    -- valid
    ('+44 20 7946 0958'), ('0044 20 7946 0958'), ('(+44) 20-7946-0958'), ('+44 (0)20 7946 0958'),
    ('+442079460958'), ('+44.20.7946.0958'), ('+44/20/7946/0958'), ('  +44 20 7946 0958  '),
    ('+1 (415) 555-0100'), ('+1-415-555-0100'), ('+1.415.555.0100'), ('001 415 555 0100'),
    ('+33 1 23 45 67 89'), ('+33 (0)1 23 45 67 89'), ('0033 1 23 45 67 89'), ('+49 30 901820'),
    ('+49 (0)30 901820'), ('+39 06 6982 1234'), ('+81 3-1234-5678'), ('+86 10 1234 5678'),
    ('+7 495 123-45-67'), ('+353 1 234 5678'), ('+971 4 123 4567'), ('+290 1234'), ('+61 2 9876 5432'),
    ('+55 11 91234-5678'), ('+234 803 123 4567'), ('+49 1234 5678 90123'), ('0044 (0)20 7946 0958'), ('+44 (1)20 7946 0958'),
    -- invalid
    (''), ('   '), ('020 7946 0958'), ('(415) 555-0100'), ('415-555-0100'), ('+44 20 7946 0958 x123'),
    ('+44 20 7946 0958 ext. 12'), ('tel:+442079460958'), ('+44 20 7946 +0958'), ('++44 20 7946 0958'),
    ('+0 20 7946 0958'), ('+44 ((20)) 7946 0958'), ('+44 (20 7946 0958'), ('+44 20) 7946 0958'),
    ('+1234567890123456'), ('+44 123'), ('+1 415 555 010'), ('+1 415 555 01000'), ('+7 495 123 45 6'),
    ('+44_20_7946_0958'), ('+44 20 7946 0958;'), ('+'), ('00'), ('+123456789012345'), ('+44 20 7946 0958 #')
) AS t(input);

-- national numbers, through crm.to_phone(value, default_country_code)
SELECT format('%-22s', quote_literal(input)) AS input, country, pg_temp.read_phone(input, country) AS reads_as
FROM (VALUES
    ('020 7946 0958', '44'), ('020 7946 0958', '+44'), ('20 7946 0958', '44'), ('(415) 555-0100', '1'),
    ('415-555-0100', '+1'), ('1 (415) 555-0100', '1'), ('01 23 45 67 89', '33'), ('030 901820', '49'),
    ('06 6982 1234', '39'), ('0549 882 123', '378'), ('03-1234-5678', '81'), ('+44 20 7946 0958', '1'),
    ('0044 20 7946 0958', '33'), ('555-0100', '1'), ('0', '44'), ('020 7946 0958', '0'),
    ('020 7946 0958', '4'), ('020 7946 0958', '4444'), ('020 7946 0958', 'GB'), ('020 7946 0958', ''),
    ('020 7946 0958', '+'), ('020 7946 0958', NULL)
) AS t(input, country);
SELECT crm.to_phone(NULL, '44') AS null_value;
SELECT crm.to_phone('020 7946 0958', 'UK');
\echo :LAST_ERROR_SQLSTATE

-- the error a user sees, in full
SELECT '020 7946 0958'::crm.phone;
\echo :LAST_ERROR_SQLSTATE
SELECT crm.phone('+44 20 7946 0958 x12');

-- every spelling of one number is one value
SELECT count(DISTINCT p) AS distinct_numbers, min(p) AS stored, max(p) = min(p) AS one_value
FROM unnest(ARRAY['+44 20 7946 0958', '0044 20 7946 0958', '(+44) 20-7946-0958', '+44 (0)20 7946 0958']::crm.phone[]) p;
SELECT '+44 20 7946 0958'::crm.phone = '0044 (0)20 7946 0958' AS equal,
       '+44 20 7946 0958'::crm.phone <> '+1 415 555 0100' AS not_equal,
       '+1 415 555 0100'::crm.phone < '+44 20 7946 0958' AS ordered,
       crm.phone_cmp('+44 20 7946 0958', '+442079460958') AS cmp;
SELECT crm.phone_country_code(p) AS cc, p
FROM unnest(ARRAY['+44 20 7946 0958', '+1 415 555 0100', '+7 495 123 45 67', '+353 1 234 5678', '+290 1234']::crm.phone[]) p
ORDER BY p;

-- casts: from text and varchar by assignment, to text explicitly
CREATE TEMP TABLE phonebook (p crm.phone);
INSERT INTO phonebook VALUES ('+44 20 7946 0958'::text), ('+1 415 555 0100'::varchar);
SELECT p, p::text AS as_text, pg_typeof(p::text) FROM phonebook ORDER BY p;
INSERT INTO phonebook VALUES ('555-0100'::text);
SELECT p FROM phonebook WHERE p = '0044 20 7946 0958';
SELECT length(p) FROM phonebook;

-- binary round-trip; recv checks the value
SELECT current_setting('data_directory') || '/crm_phone_regress.bin' AS binfile \gset
COPY (SELECT '+44 20 7946 0958'::crm.phone) TO :'binfile' WITH (FORMAT binary);
COPY phonebook FROM :'binfile' WITH (FORMAT binary);
SELECT p FROM phonebook ORDER BY p;
COPY (SELECT 42::bigint) TO :'binfile' WITH (FORMAT binary);
COPY phonebook FROM :'binfile' WITH (FORMAT binary);
COPY (SELECT -442079460958::bigint) TO :'binfile' WITH (FORMAT binary);
COPY phonebook FROM :'binfile' WITH (FORMAT binary);
COPY (SELECT 1415555010::bigint) TO :'binfile' WITH (FORMAT binary);
COPY phonebook FROM :'binfile' WITH (FORMAT binary);

-- indexes: unique btree, hash index, hash join
CREATE TEMP TABLE lines (tenant_id int, phone crm.phone, UNIQUE (tenant_id, phone));
INSERT INTO lines VALUES (1, '+44 20 7946 0958');
INSERT INTO lines VALUES (1, '0044 (0)20 7946 0958');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lines SELECT 2, ('+1 415 555 ' || lpad(n::text, 4, '0'))::crm.phone FROM generate_series(0, 1999) n;
ANALYZE lines;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM lines WHERE tenant_id = 2 AND phone = '+1 (415) 555-0042';
SELECT * FROM lines WHERE tenant_id = 2 AND phone = '+1 (415) 555-0042';
CREATE INDEX lines_phone_hash ON lines USING hash (phone);
ALTER TABLE lines DROP CONSTRAINT lines_tenant_id_phone_key;
EXPLAIN (COSTS OFF) SELECT * FROM lines WHERE phone = '+1 (415) 555-0042';
RESET enable_seqscan;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM lines a JOIN phonebook b ON a.phone = b.p;
SELECT count(*) FROM lines a JOIN phonebook b ON a.phone = b.p;
RESET enable_mergejoin;
RESET enable_nestloop;

SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p WHERE p.pronamespace = 'crm'::regnamespace AND (p.proname LIKE 'phone%' OR p.proname = 'to_phone')
ORDER BY p.proname;
