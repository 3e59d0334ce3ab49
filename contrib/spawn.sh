#!/usr/bin/env bash
#
# spawn.sh: run agenthost as a FastCGI server on a unix socket, through spawn-fcgi, for
# web servers that do not start FastCGI programs themselves (nginx, Apache mod_proxy_fcgi).
#
# usage: contrib/spawn.sh -c CONF -s SOCKET [-P PIDFILE] [-M MODE] [-u USER] [-F N] [-n]
#   -c CONF     agenthost configuration (its mount_prefix must match the web server's)
#   -s SOCKET   unix socket to create (a stale one is removed first)
#   -P PIDFILE  pid file of the spawned process (not with -n)
#   -M MODE     socket mode, e.g. 0660 so the web server's group can connect
#   -u USER     run agenthost as USER (when started as root)
#   -F N        number of processes (each runs "threads" worker threads)
#   -n          stay in the foreground (exec agenthost; for systemd, or to keep its stderr)
# The binary is $AGENTHOST_BIN, else src/agenthost of this checkout, else agenthost in PATH.
#
# DESIGN
# A thin wrapper: it only resolves the binary, checks the configuration with
# "agenthost -t" first (so a typo fails here with a message instead of in a dead socket),
# and clears the stale socket that a killed process leaves behind.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
conf='' sock='' pidfile='' mode='' user='' procs=1 fg=0

die() {
	printf 'spawn.sh: %s\n' "$*" >&2
	exit 2
}

while getopts 'c:s:P:M:u:F:nh' opt; do
	case $opt in
	c) conf=$OPTARG ;;
	s) sock=$OPTARG ;;
	P) pidfile=$OPTARG ;;
	M) mode=$OPTARG ;;
	u) user=$OPTARG ;;
	F) procs=$OPTARG ;;
	n) fg=1 ;;
	h)
		sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option (see -h)" ;;
	esac
done
[ -n "$conf" ] || die "-c CONF is required"
[ -n "$sock" ] || die "-s SOCKET is required"
[ -r "$conf" ] || die "cannot read $conf"
[[ $procs =~ ^[1-9][0-9]*$ ]] || die "-F needs a positive number"
command -v spawn-fcgi >/dev/null || die "spawn-fcgi is not installed (apt-get install spawn-fcgi)"

bin=${AGENTHOST_BIN:-}
if [ -z "$bin" ]; then
	if [ -x "$top/src/agenthost" ]; then
		bin=$top/src/agenthost
	else
		bin=$(command -v agenthost) || die "agenthost not found; set AGENTHOST_BIN"
	fi
fi
"$bin" -t -c "$conf" >/dev/null || die "$conf was rejected by $bin -t"

if [ -S "$sock" ]; then
	rm -f "$sock"
fi
args=(-s "$sock")
[ -n "$mode" ] && args+=(-M "$mode")
[ -n "$user" ] && args+=(-u "$user")
if [ "$fg" = 1 ]; then
	[ "$procs" = 1 ] || die "-n runs one process; drop -F"
	exec spawn-fcgi -n "${args[@]}" -- "$bin" -c "$conf"
fi
[ -n "$pidfile" ] && args+=(-P "$pidfile")
exec spawn-fcgi "${args[@]}" -F "$procs" -- "$bin" -c "$conf"
