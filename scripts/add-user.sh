#!/bin/sh
# add-user.sh - create the relay's system user and group (default
# danemx) unless they exist. make install runs it as root when it
# installs into the running system (not with DESTDIR: a package does it
# in its own install scripts). The relay needs a user of its own: nobody
# is shared with other daemons, which could then read the queue and
# inject into it.
set -eu
user=${1:-danemx}
if getent passwd "$user" >/dev/null 2>&1; then
	echo "-- danemx: the relay's user $user exists"
	exit 0
fi
cmd="useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin $user"
if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null 2>&1; then
	echo "-- danemx: create the relay's user as root: $cmd" >&2
	exit 0
fi
$cmd
echo "-- danemx: created the system user $user for the relay"
