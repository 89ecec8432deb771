#!/usr/bin/env bash
# deps.sh: installs what building and testing crm needs, on Debian, when it is missing.
# Run as root on a fresh machine it installs; otherwise it says what is missing.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
packages=(
	"postgresql-$PG_MAJOR"
	"postgresql-server-dev-$PG_MAJOR"
	"postgresql-$PG_MAJOR-cron"
	"postgresql-$PG_MAJOR-pgtap"
	libtap-parser-sourcehandler-pgtap-perl
	make
	gcc
)

if ! command -v dpkg-query >/dev/null 2>&1; then
	# Not Debian: trust the user's own installation, but say what is expected.
	for tool in pg_config pg_prove; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "deps.sh: $tool not found; install PostgreSQL $PG_MAJOR server headers, pg_cron, pgTAP and pg_prove" >&2
			exit 1
		}
	done
	exit 0
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
	echo "deps.sh: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
