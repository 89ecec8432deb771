-- crm.uuid_v7(): RFC 9562 version 7, time-ordered, strictly increasing within a backend.

-- version nibble 7 and variant bits 10, on many ids
SELECT count(*) AS ids,
       count(*) FILTER (WHERE substr(u::text, 15, 1) = '7') AS version_7,
       count(*) FILTER (WHERE substr(u::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant_10
FROM (SELECT crm.uuid_v7() AS u FROM generate_series(1, 10000)) s;

-- 10 000 ids made in one statement (most within the same millisecond) are distinct and each is
-- greater than the one made before it
WITH ids AS (
    SELECT n, crm.uuid_v7() AS u FROM generate_series(1, 10000) AS n
), ordered AS (
    SELECT n, u, lag(u) OVER (ORDER BY n) AS prev FROM ids
)
SELECT count(DISTINCT u) AS distinct_ids,
       count(*) FILTER (WHERE prev IS NOT NULL AND u <= prev) AS not_increasing
FROM ordered;

-- the first 48 bits are the Unix time in milliseconds: within a few seconds of now
SELECT abs(('x' || lpad(replace(substr(crm.uuid_v7()::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
           - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 5000 AS time_is_now;

-- ids made in later statements are greater still
CREATE TEMP TABLE v7 AS SELECT crm.uuid_v7() AS u;
SELECT crm.uuid_v7() > (SELECT u FROM v7) AS later_is_greater;
DROP TABLE v7;

-- a volatile function: one id per row, never folded into a constant
SELECT count(DISTINCT crm.uuid_v7()) AS per_row FROM generate_series(1, 3);

-- the 62 random bits differ from id to id, across many refills of the backend's pool of strong random
-- bytes (each byte handed out once)
SELECT count(DISTINCT substr(u::text, 20)) AS distinct_random_parts,
       count(DISTINCT substr(u::text, 20, 1)) AS variant_nibbles
FROM (SELECT crm.uuid_v7() AS u FROM generate_series(1, 20000)) s;
