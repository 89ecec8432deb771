-- harness.sql: the benchmark harness. bench.compare() times our way and the obvious alternative in the
-- same session, interleaved (ours, alternative, ours, …) after a warm-up, and records both medians.
-- Timings are wall-clock per statement (clock_timestamp around EXECUTE), in milliseconds.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.results (
    seq        serial PRIMARY KEY,
    name       text NOT NULL,
    ours       text NOT NULL,
    alternative text NOT NULL,
    ours_ms    double precision NOT NULL,
    alt_ms     double precision NOT NULL,
    reps       int NOT NULL,
    target     text,
    note       text
);

-- Runs `setup` (untimed) then `query` (timed, its rows discarded); returns milliseconds. The setup is
-- how a side takes its role and context: set_config('role', …, true), crm.set_context(…), claims.
CREATE OR REPLACE FUNCTION bench.time_one(setup text, query text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
BEGIN
    IF setup IS NOT NULL AND setup <> '' THEN
        EXECUTE setup;
    END IF;
    t0 := clock_timestamp();
    EXECUTE query;
    t1 := clock_timestamp();
    -- back to the harness's own identity and no context
    PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true),
            set_config('crm.tenant_id', '', true), set_config('crm.user_id', '', true);
    RETURN extract(epoch FROM t1 - t0) * 1000;
END
$$;

CREATE OR REPLACE FUNCTION bench.median(xs double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(xs) x
$$;

-- name: the benchmark; ours/alt: labels; *_query: the statements; *_setup: run before each, untimed.
CREATE OR REPLACE FUNCTION bench.compare(name text, ours text, ours_query text, ours_setup text,
                                         alternative text, alt_query text, alt_setup text,
                                         target text DEFAULT NULL, reps int DEFAULT 21, warmup int DEFAULT 3)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a double precision[] := '{}';
    b double precision[] := '{}';
    i int;
BEGIN
    FOR i IN 1 .. warmup LOOP
        PERFORM bench.time_one(ours_setup, ours_query);
        PERFORM bench.time_one(alt_setup, alt_query);
    END LOOP;
    FOR i IN 1 .. reps LOOP
        -- alternate which side goes first, so neither always runs on the other's warm cache
        IF i % 2 = 1 THEN
            a := a || bench.time_one(ours_setup, ours_query);
            b := b || bench.time_one(alt_setup, alt_query);
        ELSE
            b := b || bench.time_one(alt_setup, alt_query);
            a := a || bench.time_one(ours_setup, ours_query);
        END IF;
    END LOOP;
    INSERT INTO bench.results (name, ours, alternative, ours_ms, alt_ms, reps, target)
    VALUES (compare.name, compare.ours, compare.alternative, bench.median(a), bench.median(b), reps, compare.target);
    RAISE NOTICE '% : ours % ms, alternative % ms', compare.name, round(bench.median(a)::numeric, 3), round(bench.median(b)::numeric, 3);
END
$$;

-- Checks that both sides of a comparison return the same answer before they are timed: a benchmark of
-- two queries that disagree measures nothing.
CREATE OR REPLACE FUNCTION bench.same_answer(name text, ours_query text, ours_setup text, alt_query text, alt_setup text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    x text;
    y text;
BEGIN
    IF ours_setup <> '' THEN EXECUTE ours_setup; END IF;
    EXECUTE format('SELECT string_agg(q::text, %L ORDER BY q::text) FROM (%s) q', '|', ours_query) INTO x;
    PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true),
            set_config('crm.tenant_id', '', true), set_config('crm.user_id', '', true);
    IF alt_setup <> '' THEN EXECUTE alt_setup; END IF;
    EXECUTE format('SELECT string_agg(q::text, %L ORDER BY q::text) FROM (%s) q', '|', alt_query) INTO y;
    PERFORM set_config('role', 'none', true), set_config('request.jwt.claims', '', true),
            set_config('crm.tenant_id', '', true), set_config('crm.user_id', '', true);
    IF x IS DISTINCT FROM y OR x IS NULL THEN
        RAISE EXCEPTION 'benchmark %: the two sides disagree (% vs %)', name, left(x, 200), left(y, 200);
    END IF;
END
$$;

-- The backend's resident set in kB (Linux /proc): taken before and after repeated scans, flat if nothing
-- leaks per row.
CREATE OR REPLACE FUNCTION bench.backend_rss_kb() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN SELECT regexp_split_to_table(pg_read_file('/proc/' || pg_backend_pid() || '/status'), E'\n') LOOP
        IF line LIKE 'VmRSS:%' THEN
            RETURN regexp_replace(line, '\D', '', 'g')::bigint;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

-- What a bulk import without triggers leaves: percent of the leads (by a hash of their id, so the same
-- ones each time) unscored. Used by the rescoring benches (scoring.sql, jobs.sh).
CREATE OR REPLACE FUNCTION bench.unscore(percent integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('session_replication_role', 'replica', true);
    UPDATE crm.leads SET score = NULL, grade = NULL WHERE abs(hashtext(id::text)) % 100 < percent;
    PERFORM set_config('session_replication_role', 'origin', true);
END
$$;
