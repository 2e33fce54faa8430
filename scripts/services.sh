#!/usr/bin/env bash
# The real services the cluster tests run against: a PostgreSQL 15 server
# (Debian's postgresql; initdb/pg_ctl as the postgres user into a temporary
# folder) and a single-node Slurm (Debian's slurm-wlm and munge, as root:
# munged, slurmctld and slurmd on localhost, proctrack/cgroup). Everything
# lives under one state folder and stops by its pid files.
#
#   scripts/services.sh start [DIR]   start both; print the environment to use
#   scripts/services.sh stop  [DIR]   stop both
#
# Sourced (scripts/test), it defines services_start and services_stop, which
# export NNGPT_TEST_POSTGRES (a postgres:// URL), SLURM_CONF and
# NNGPT_TEST_SLURM_SHARED (the cluster's shared folder). A service that
# cannot start (not root, a package missing) is reported and left out; the
# tests that need it skip and say why (NNGPT_TEST_*_MISSING).

services_dir_default() { echo "${TMPDIR:-/tmp}/nngpt-services"; }

# services_install installs the Debian packages where apt-get and root allow.
services_install() {
	local missing=()
	[ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
	command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
	command -v munged >/dev/null 2>&1 || missing+=(munge)
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "services: missing ${missing[*]} (install: sudo apt-get install ${missing[*]})" >&2
		return 0
	fi
	echo "services: installing ${missing[*]} with apt-get" >&2
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		echo "services: apt-get install ${missing[*]} failed" >&2
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	echo /usr/lib/postgresql/15/bin
}

# wait_for CMD...: poll (never a fixed sleep) up to 20 s.
wait_for() {
	local i
	for i in $(seq 1 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

postgres_start() {
	local dir="$1/pg" port="${NNGPT_TEST_PG_PORT:-55432}" bin
	bin="$(pg_bin)"
	if [ ! -x "$bin/initdb" ]; then
		export NNGPT_TEST_POSTGRES_MISSING="PostgreSQL is not installed (apt-get install postgresql)"
		return 1
	fi
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || { export NNGPT_TEST_POSTGRES_MISSING="no postgres user"; return 1; }
		as_pg() { runuser -u postgres -- "$@"; }
	else
		as_pg() { "$@"; }
	fi
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
			export NNGPT_TEST_POSTGRES_MISSING="initdb failed: $(tail -1 "$dir/initdb.log")"
			return 1
		}
	fi
	as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null || {
		export NNGPT_TEST_POSTGRES_MISSING="pg_ctl start failed: $(tail -1 "$dir/server.log")"
		return 1
	}
	export NNGPT_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	unset NNGPT_TEST_POSTGRES_MISSING
}

postgres_stop() {
	local dir="$1/pg" pid
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pid="$(head -1 "$dir/data/postmaster.pid")"
	kill -INT "$pid" 2>/dev/null || true # fast shutdown
	wait_for sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
}

slurm_start() {
	local dir="$1/slurm" host cpus mem
	if [ "$(id -u)" != 0 ]; then
		export NNGPT_TEST_SLURM_MISSING="Slurm's daemons need root (run the tests as root, or point SLURM_CONF at a cluster and set NNGPT_TEST_SLURM_SHARED)"
		return 1
	fi
	for b in munged slurmctld slurmd; do
		command -v "$b" >/dev/null 2>&1 || { export NNGPT_TEST_SLURM_MISSING="$b is not installed (apt-get install slurm-wlm munge)"; return 1; }
	done
	host="$(hostname -s)"
	cpus="$(nproc)"
	mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4))
	mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/shared" "$dir/log"
	chmod 755 "$dir/munge" # munged refuses a socket folder others cannot traverse
	chmod 1777 "$dir/shared"
	[ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 || true; }
	munged --force --socket="$dir/munge/munge.sock" --pid-file="$dir/munge/munged.pid" \
		--log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" --key-file=/etc/munge/munge.key || {
		export NNGPT_TEST_SLURM_MISSING="munged failed to start: $(tail -1 "$dir/log/munged.log" 2>/dev/null)"
		return 1
	}
	cat >"$dir/slurm.conf" <<EOF
ClusterName=nngpt-test
SlurmctldHost=$host
SlurmctldPort=${NNGPT_TEST_SLURMCTLD_PORT:-6917}
SlurmdPort=${NNGPT_TEST_SLURMD_PORT:-6918}
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
KillWait=5
SchedulerParameters=defer_batch=0
MpiDefault=none
# More CPUs than the machine has (config_overrides): short test jobs
# mostly wait on python's start-up, so they share cores well.
SlurmdParameters=config_overrides
NodeName=$host CPUs=$((cpus * 2)) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
	cat >"$dir/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=no
EOF
	export SLURM_CONF="$dir/slurm.conf"
	slurmctld -f "$SLURM_CONF" -i || { export NNGPT_TEST_SLURM_MISSING="slurmctld failed: $(tail -1 "$dir/log/slurmctld.log")"; return 1; }
	slurmd -f "$SLURM_CONF" || { export NNGPT_TEST_SLURM_MISSING="slurmd failed: $(tail -1 "$dir/log/slurmd.log")"; return 1; }
	if ! wait_for sh -c "sinfo -h -o %T | grep -Eq '^(idle|mixed|allocated)'"; then
		export NNGPT_TEST_SLURM_MISSING="the node did not come up: $(sinfo -h -o '%T %E' 2>&1 | head -1)"
		return 1
	fi
	export NNGPT_TEST_SLURM_SHARED="$dir/shared"
	unset NNGPT_TEST_SLURM_MISSING
}

slurm_stop() {
	local dir="$1/slurm" f pid
	for f in slurmd.pid slurmctld.pid munge/munged.pid; do
		[ -f "$dir/$f" ] || continue
		pid="$(cat "$dir/$f")"
		kill -TERM "$pid" 2>/dev/null || true
		wait_for sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
		rm -f "$dir/$f"
	done
}

services_start() {
	local dir="${1:-$(services_dir_default)}"
	mkdir -p "$dir"
	chmod 755 "$dir"
	services_install
	postgres_start "$dir" || echo "services: PostgreSQL not started: $NNGPT_TEST_POSTGRES_MISSING" >&2
	slurm_start "$dir" || echo "services: Slurm not started: $NNGPT_TEST_SLURM_MISSING" >&2
	{
		for v in NNGPT_TEST_POSTGRES NNGPT_TEST_POSTGRES_MISSING SLURM_CONF NNGPT_TEST_SLURM_SHARED NNGPT_TEST_SLURM_MISSING; do
			[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
		done
	} >"$dir/env"
	return 0
}

services_stop() {
	local dir="${1:-$(services_dir_default)}"
	slurm_stop "$dir"
	postgres_stop "$dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		services_start "${2:-}"
		cat "${2:-$(services_dir_default)}/env"
		;;
	stop) services_stop "${2:-}" ;;
	*)
		echo "usage: $0 start|stop [DIR]" >&2
		exit 2
		;;
	esac
fi
