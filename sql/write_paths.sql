-- The write path of every crm table (docs/design.md §12): what runs when a row is written, in the order
-- PostgreSQL runs it, and what deleting a row does to the rows that refer to it. This file's expected
-- output is the map; a new, renamed or reordered trigger changes it. Then the rules the write path keeps
-- for Citus (docs/design.md §9), each a list that must stay empty.
SET client_min_messages = warning;

-- Every trigger of every table of crm, in firing order: BEFORE STATEMENT, BEFORE ROW, AFTER ROW (queued,
-- at the end of the statement), AFTER STATEMENT; triggers of the same timing and level fire in name
-- order (C collation). Each: the events (UPDATE OF: only when those columns are set), its name, the
-- function it calls with its arguments, its WHEN condition and transition tables, then what it does and
-- the file that defines it, from its comment. Foreign keys fire triggers of their own (RI_...), not
-- shown: after the BEFORE ROW triggers and before the other AFTER ROW ones, unless named before them.
CREATE TEMP VIEW write_path AS
SELECT c.oid AS relid, c.oid::regclass::text AS tbl, t.oid AS tgoid, t.tgname, t.tgtype, t.tgfoid,
       CASE WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' WHEN t.tgtype & 2 <> 0 THEN 'BEFORE' ELSE 'AFTER' END
       || CASE WHEN t.tgtype & 1 <> 0 THEN ' ROW' ELSE ' STATEMENT' END AS timing,
       CASE WHEN t.tgtype & 64 <> 0 THEN 3 WHEN t.tgtype & 2 <> 0 THEN (CASE WHEN t.tgtype & 1 <> 0 THEN 2 ELSE 1 END)
            ELSE (CASE WHEN t.tgtype & 1 <> 0 THEN 4 ELSE 5 END) END AS phase,
       concat_ws(' OR ',
                 CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,
                 CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' || coalesce(' OF ' || (
                     SELECT string_agg(a.attname, ', ' ORDER BY k.n) FROM unnest(t.tgattr::int2[]) WITH ORDINALITY k (attnum, n)
                       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum), '') END,
                 CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' END,
                 CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END) AS events,
       substring(pg_get_triggerdef(t.oid) FROM 'EXECUTE FUNCTION (.*)$') AS calls,
       substring(pg_get_triggerdef(t.oid) FROM ' WHEN \((.*)\) EXECUTE FUNCTION ') AS condition,
       concat_ws(', ', 'old table ' || t.tgoldtable, 'new table ' || t.tgnewtable) AS transition,
       substring(obj_description(t.oid, 'pg_trigger') FROM '^(src/[a-z_0-9]+\.sql)') AS file,
       substring(obj_description(t.oid, 'pg_trigger') FROM '^src/[a-z_0-9]+\.sql(?: \([^)]*\))?: (.*)$') AS does
  FROM pg_class c
  LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p');

\pset format unaligned
\pset tuples_only on
SELECT format(E'%s: %s', w.tbl,
              CASE WHEN count(w.tgoid) = 0 THEN 'no triggers'
                   ELSE format('%s triggers, from %s', count(w.tgoid), string_agg(DISTINCT w.file COLLATE "C", ', ' ORDER BY w.file COLLATE "C")) END)
       || coalesce(E'\n' || string_agg(format(E'  %-16s %-32s %s%s\n  %16s calls %s%s\n  %16s %s: %s',
                                              w.timing, w.tgname, w.events,
                                              CASE WHEN w.transition <> '' THEN format(' (reads the %s)', w.transition) ELSE '' END,
                                              '', w.calls, CASE WHEN w.condition IS NOT NULL THEN format(' when %s', w.condition) ELSE '' END,
                                              '', coalesce(w.file, '(no file)'), coalesce(w.does, '(no comment)')),
                                       E'\n' ORDER BY w.phase, w.tgname COLLATE "C") FILTER (WHERE w.tgoid IS NOT NULL), '')
  FROM write_path w
 GROUP BY w.tbl
 ORDER BY w.tbl COLLATE "C";

-- What deleting a row does to the rows of crm that refer to it, by each foreign key (every key is led by
-- tenant_id; the keys of tenant_id alone to crm.tenants, ON DELETE CASCADE, are left out): cascade,
-- cleared by a trigger of the parent (a function of its delete path that sets the column to NULL), or
-- refused while any refers to it.
SELECT format(E'%s: deleting a row\n%s', p.oid::regclass,
              string_agg(format('  %-48s %s', format('%s.%s', f.conrelid::regclass, k.cols),
                                CASE f.confdeltype WHEN 'c' THEN 'deletes them (cascade)'
                                                   WHEN 'n' THEN 'sets them to NULL (ON DELETE SET NULL: not distributable)'
                                                   WHEN 'd' THEN 'sets them to their default (ON DELETE SET DEFAULT: not distributable)'
                                                   ELSE coalesce('clears them: ' || cl.fn, 'is refused while any is there') END),
                         E'\n' ORDER BY f.conrelid::regclass::text COLLATE "C", k.cols COLLATE "C"))
  FROM pg_constraint f
  JOIN pg_class p ON p.oid = f.confrelid
  CROSS JOIN LATERAL (SELECT string_agg(a.attname, ', ' ORDER BY x.n) AS cols
                        FROM unnest(f.conkey) WITH ORDINALITY x (attnum, n)
                        JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = x.attnum
                       WHERE a.attname <> 'tenant_id') k
  LEFT JOIN LATERAL (SELECT string_agg(DISTINCT t.tgfoid::regprocedure::text, ', ') AS fn
                       FROM pg_trigger t JOIN pg_proc pr ON pr.oid = t.tgfoid
                      WHERE t.tgrelid = f.confrelid AND NOT t.tgisinternal AND t.tgtype & 8 <> 0
                        AND pr.prosrc ~ format('UPDATE %s SET %s = NULL WHERE tenant_id = OLD.tenant_id AND %s = OLD.id',
                                               regexp_replace(f.conrelid::regclass::text, '\.', '\.'), k.cols, k.cols)) cl ON true
 WHERE f.contype = 'f' AND p.relnamespace = 'crm'::regnamespace AND k.cols IS NOT NULL
 GROUP BY p.oid
 ORDER BY p.oid::regclass::text COLLATE "C";
\pset format aligned
\pset tuples_only off

-- The rules (docs/design.md §9, §12), each a list that must stay empty.
-- No foreign key sets NULL or a default on delete or update (Citus refuses them when the distribution
-- key is in the key; a delete path clears the references instead).
SELECT f.conrelid::regclass::text AS tbl, f.conname
  FROM pg_constraint f
 WHERE f.contype = 'f' AND f.connamespace = 'crm'::regnamespace AND (f.confdeltype IN ('n', 'd') OR f.confupdtype IN ('n', 'd'))
 ORDER BY f.conrelid::regclass::text COLLATE "C", f.conname COLLATE "C";
-- A nullable column whose key neither cascades nor is cleared: its parent cannot be deleted while it is
-- referenced. Only where that is meant: a team with members, a stage in some deal's history.
SELECT f.conrelid::regclass::text AS tbl, a.attname AS col, f.confrelid::regclass::text AS parent
  FROM pg_constraint f
  JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = ANY (f.conkey) AND a.attname <> 'tenant_id' AND NOT a.attnotnull
 WHERE f.contype = 'f' AND f.connamespace = 'crm'::regnamespace AND f.confdeltype = 'a'
   AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc pr ON pr.oid = t.tgfoid
                    WHERE t.tgrelid = f.confrelid AND NOT t.tgisinternal AND t.tgtype & 8 <> 0
                      AND pr.prosrc ~ format('UPDATE %s SET %s = NULL ', regexp_replace(f.conrelid::regclass::text, '\.', '\.'), a.attname))
 ORDER BY f.conrelid::regclass::text COLLATE "C", a.attname COLLATE "C";
-- No trigger function names its table by TG_TABLE_NAME or TG_TABLE_SCHEMA (on a Citus shard they name
-- the shard: a trigger argument names the table instead).
SELECT DISTINCT p.oid::regprocedure::text COLLATE "C" AS fn
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'crm'::regnamespace AND p.prosrc ~* 'TG_TABLE_(NAME|SCHEMA)'
 ORDER BY fn;
-- No trigger function passes NEW or OLD whole to a function (on a Citus shard the row is of the
-- shard's type): it passes the columns.
SELECT DISTINCT p.oid::regprocedure::text COLLATE "C" AS fn
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'crm'::regnamespace AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
   AND p.prosrc ~* '[(,][[:space:]]*(NEW|OLD)[[:space:]]*[,)]'
 ORDER BY fn;
-- Every trigger has a comment naming the file that defines it and saying what it does.
SELECT tbl, tgname FROM write_path WHERE tgoid IS NOT NULL AND (file IS NULL OR does IS NULL) ORDER BY tbl COLLATE "C", tgname COLLATE "C";
-- Every BEFORE ROW trigger's name gives its place (bNN_, docs/design.md §12); crm.tenants keeps its own
-- names for now.
SELECT tbl, tgname FROM write_path WHERE phase = 2 AND tgname !~ '^b[0-9]{2}_' ORDER BY tbl COLLATE "C", tgname COLLATE "C";
-- The BEFORE DELETE trigger that clears references fires last of its table's BEFORE DELETE triggers:
-- one after it could still refuse or skip the delete, with the references cleared.
SELECT w.tbl, w.tgname
  FROM write_path w
 WHERE w.phase = 2 AND w.tgtype & 8 <> 0 AND w.tgname <> 'b90_null_references'
   AND EXISTS (SELECT 1 FROM write_path x WHERE x.relid = w.relid AND x.tgname = 'b90_null_references'
                                            AND x.tgname COLLATE "C" < w.tgname COLLATE "C")
 ORDER BY tbl COLLATE "C", tgname COLLATE "C";
-- The AFTER DELETE triggers that clear self-references fire before the foreign keys' own triggers
-- (RI_ConstraintTrigger_...), which would otherwise find the references still there.
SELECT tbl, tgname FROM write_path
 WHERE phase = 4 AND tgtype & 8 <> 0 AND tgname LIKE '%null%' AND NOT tgname COLLATE "C" < 'RI_ConstraintTrigger' COLLATE "C"
 ORDER BY tbl COLLATE "C", tgname COLLATE "C";
