# crm: PGXS build, plus the project's commands (make test, make demo, make bench, make stop).
#
# The version lives in one place, crm.control; the install script crm--$(EXTVERSION).sql is generated
# from src/*.sql in the order below (each piece may use what the pieces before it created).

EXTENSION  = crm
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" crm.control)

# Order matters: schemas and roles first, then the context in C, then the tables that use it,
# then the HTTP API over them, and last the PostgREST reload.
SQL_PIECES = src/schemas.sql \
             src/uuid_v7.sql \
             src/context.sql \
             src/email.sql \
             src/phone.sql \
             src/tenancy.sql \
             src/ownership.sql \
             src/accounts.sql \
             src/contacts.sql \
             src/pipelines.sql \
             src/leads.sql \
             src/opportunities.sql \
             src/products.sql \
             src/activities.sql \
             src/tasks.sql \
             src/notes.sql \
             src/tags.sql \
             src/events.sql \
             src/actions.sql \
             src/jobs.sql \
             src/scoring.sql \
             src/qualification.sql \
             src/predictive.sql \
             src/support.sql \
             src/account_activity.sql \
             src/health.sql \
             src/segments.sql \
             src/pipeline.sql \
             src/forecast.sql \
             src/campaigns.sql \
             src/attribution.sql \
             src/dashboard.sql \
             src/maintenance.sql \
             src/drop_guard.sql \
             src/distribute.sql \
             src/finish.sql

MODULE_big = crm
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA_built = crm--$(EXTVERSION).sql
DATA       = $(filter-out crm--$(EXTVERSION).sql,$(wildcard crm--*--*.sql))
REGRESS    = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
# concurrency tests (isolation tester): specs/NAME.spec against expected/NAME.out
ISOLATION  = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --use-existing
# The harness (test/run.sh) creates the database, with pg_cron, pgTAP and crm, before pg_regress;
# pg_regress uses it as it is (its name is set below, after PGXS, which would otherwise name its own).
REGRESS_OPTS = --use-existing
EXTRA_CLEAN = results regression.diffs regression.out output_iso

PG_CPPFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
# On a fresh machine the server headers are not there yet: `make test` installs them first (test/deps.sh)
# and then runs the real build in a second make, which finds them.
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif
# every C file includes the shared header (PGXS tracks no header dependencies of its own)
$(OBJS): src/crm.h
CONTRIB_TESTDB = $(TEST_DB)
ISOLATION_TESTDB = $(TEST_DB)

# Throwaway clusters: each command has its own port and directory, so they can run side by side.
TEST_PORT  ?= 54329
DEMO_PORT  ?= 54330
# make demo: where the rows behind the report's figures are written (CSV)
DEMO_OUT   ?= demo-data
BENCH_PORT ?= 54331
CITUS_PORT ?= 54332
TEST_DB    ?= crm_test
# make bench: size of the main table and number of tenants
ROWS    ?= 1000000
TENANTS ?= 100
LEADS   ?= $(ROWS)
PGBENCH_SECONDS ?= 20
export PG_CONFIG TEST_PORT DEMO_PORT DEMO_OUT BENCH_PORT CITUS_PORT TEST_DB ROWS TENANTS LEADS PGBENCH_SECONDS KEEP SERVER CRM_DEMO_DSN

crm--$(EXTVERSION).sql: $(SQL_PIECES) crm.control
	{ printf -- '-- crm %s: generated from src/*.sql by make; edit those, not this file.\n' '$(EXTVERSION)'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION crm" to load this file. \quit'; \
	  for f in $(SQL_PIECES); do printf '\n-- ==== %s ====\n' $$f; cat $$f; done; } > $@

.PHONY: test test-citus demo bench bench-citus stop deps build-install
deps:
	test/deps.sh

# Build with warnings as errors and install into the PostgreSQL that pg_config names.
build-install: deps
	$(MAKE) all
	$(MAKE) install

test: build-install
	test/run.sh

# crm on a throwaway Citus cluster (coordinator + 2 workers on 127.0.0.1, ports CITUS_PORT..+2);
# builds Citus first if it is missing.
test-citus: build-install
	test/citus.sh

demo: build-install
	test/demo.sh

bench: build-install
	test/bench/run.sh

# crm on a local Citus cluster (test/citus.sh, KEEP=1, ports CITUS_PORT..+3) against a single node
# (CITUS_PORT+5), the same data in both: the leads page under pgbench, dashboard, pipeline, rescore.
# Its sizes: BENCH_CITUS_LEADS leads and BENCH_CITUS_ROWS users over TENANTS tenants.
BENCH_CITUS_LEADS ?= 100000
BENCH_CITUS_ROWS  ?= 10000
bench-citus: build-install
	LEADS=$(BENCH_CITUS_LEADS) ROWS=$(BENCH_CITUS_ROWS) test/bench/citus.sh

stop:
	test/cluster.sh stop $(DEMO_PORT)
	test/cluster.sh stop $(BENCH_PORT)
	test/cluster.sh stop $(TEST_PORT)
	for p in 0 1 2; do test/cluster.sh stop $$(( $(CITUS_PORT) + p )); done
