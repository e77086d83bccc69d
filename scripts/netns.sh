#!/bin/sh
# netns.sh COMMAND [ARG...] - run COMMAND in a private network namespace
# that has only loopback (127.0.0.0/8 and ::1).
#
# The test and demo worlds bind ports 53, 25 and 443 of loopback addresses.
# In a namespace of their own they neither meet a system service that
# listens on those ports (a running nsd, postfix or nginx, on 0.0.0.0) nor
# another test run on the same machine, and nothing they start can reach
# or disturb the host's network. Where a namespace cannot be made (not
# root, or a container that forbids unshare), or DANEMX_NETNS=0, COMMAND
# runs on the host's network as it is.
if [ "${DANEMX_NETNS:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] &&
    command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
    unshare --net true 2>/dev/null; then
	exec unshare --net sh -c 'ip link set lo up && exec "$@"' netns "$@"
fi
[ "${DANEMX_NETNS:-1}" = 0 ] ||
	echo "netns: no private network namespace here; running on the host's network" >&2
exec "$@"
