#!/usr/bin/env bash
# cluster.sh: a throwaway PostgreSQL cluster on a private unix socket and a port of its own.
#
#   test/cluster.sh start PORT DB [KEY=VALUE ...]   fresh initdb, start, create DB; prints `export` lines
#   test/cluster.sh stop PORT                        stop it (and remove its files) if it runs and is this
#                                                    checkout's and user's (else it is left alone)
#   test/cluster.sh env PORT DB                      print the `export` lines of a running one
#
# As root the server runs as the postgres OS user (PostgreSQL refuses root). pg_cron is preloaded with
# cron.database_name = DB, so scheduling is tested for real; jobs run in background workers, so no TCP
# listener and no password are needed. Extra KEY=VALUE pairs go into postgresql.conf.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
ROOT=${CRM_CLUSTER_ROOT:-${TMPDIR:-/tmp}}

cmd=${1:?usage: cluster.sh start|stop|env PORT [DB]}
port=${2:?port required}
dir="$ROOT/crm-cluster-$port"

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

print_env() {
	echo "export PGHOST='$dir' PGPORT='$port' PGUSER=postgres PGDATABASE='$1' PATH='$PGBIN':\"\$PATH\""
}

# Which checkout and user a cluster belongs to: written at start, checked before anything is stopped or
# removed, so that `make stop` never touches a directory of another checkout or another user.
checkout=$(cd "$(dirname "$0")/.." && pwd -P)
owner_line="crm cluster of $checkout, started by uid $(id -u)"

ours() {
	[ -f "$dir/owner" ] && [ "$(cat "$dir/owner")" = "$owner_line" ]
}

stop() {
	[ -e "$dir" ] || return 0
	if ! ours; then
		echo "cluster.sh: $dir is not a cluster of this checkout ($checkout) and user: left alone" >&2
		return 1
	fi
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "$cmd" in
start)
	db=${3:?database name required}
	shift 3
	stop || exit 1
	mkdir -p "$dir"
	echo "$owner_line" >"$dir/owner"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
	{
		echo "listen_addresses = ''"
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'pg_cron'"
		echo "cron.database_name = '$db'"
		echo "cron.use_background_workers = on"
		echo "max_worker_processes = 20"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "log_min_messages = warning"
		echo "timezone = 'UTC'"
		echo "log_timezone = 'UTC'"
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
	} >>"$dir/data/postgresql.conf"
	if ! as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
		cat "$dir/server.log" >&2
		exit 1
	fi
	# pg_cron's launcher waits for its database: create it at once.
	"$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE \"$db\"" >&2
	print_env "$db"
	;;
stop)
	stop || true
	;;
env)
	print_env "${3:?database name required}"
	;;
*)
	echo "usage: cluster.sh start|stop|env PORT [DB]" >&2
	exit 2
	;;
esac
