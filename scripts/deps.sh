#!/bin/sh
# deps.sh - install every Debian package that building, testing, the demo, the
# benchmarks and the fuzzers need, on a minimal Debian 12 (debootstrap minbase).
#
# Non-interactive and idempotent: packages already installed are skipped, and once
# everything is present it touches no network. Never calls sudo: run it as root, or
# it tells you what to install. Installing nsd, unbound or postfix on Debian would
# start a system service on port 53 or 25; we forbid that for the packages this run
# installs (policy-rc.d while installing, then disable them where systemd runs), so
# nothing stands in the way of the test servers on loopback.
set -eu

# Each group says who needs it. A -dev package is listed beside every package its
# pkg-config file needs that it does not pull in itself (libunbound.pc requires
# nettle and hogweed, from nettle-dev, which libunbound-dev does not depend on).
PKGS_BUILD="build-essential cmake ninja-build pkg-config \
libssl-dev libunbound-dev nettle-dev libevent-dev libsqlite3-dev \
libcurl4-openssl-dev zlib1g-dev libopendkim-dev"
PKGS_FUZZ="clang libclang-rt-14-dev"
# the test and demo world: NSD, ldns tools (ldns-signzone, drill), Postfix MX
# hosts (and smtp-source, posttls-finger for the benchmarks), nginx for HTTPS,
# OpenSSL for the world's PKI, python3 for the scripted servers
PKGS_WORLD="openssl ca-certificates nsd ldnsutils postfix nginx-light \
python3 python3-jsonschema python3-dkim"
# tools the scripts call: jq, ss/ip (iproute2), ps/pgrep (procps), setpriv
# and flock (util-linux, essential), curl (the metrics scrapes), the resolvers
# the benchmarks compare with
PKGS_TOOLS="jq iproute2 procps curl unbound unbound-host dns-root-data"
PKGS="$PKGS_BUILD $PKGS_FUZZ $PKGS_WORLD $PKGS_TOOLS"

# Services that packages in PKGS start on install and that would take port 53, 25
# or 80, as "service:package".
SERVICES="nsd:nsd postfix:postfix unbound:unbound unbound-resolvconf:unbound nginx:nginx"

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=""
for p in $PKGS; do
	installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "deps: all $(echo $PKGS | wc -w) packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root, or install them with apt-get" >&2
	exit 1
fi

echo "deps: installing:$missing"
# the service packages this run brings in (nginx comes with nginx-light)
new_svc=""
for sp in $SERVICES; do
	installed "${sp#*:}" || new_svc="$new_svc ${sp%%:*}"
done
export DEBIAN_FRONTEND=noninteractive
# Postfix must not set itself up as the system MTA.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

# Forbid service starts during the install (invoke-rc.d and deb-systemd-invoke honour it).
prc=/usr/sbin/policy-rc.d
created_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$prc"
	chmod 755 "$prc"
	created_prc=1
fi
cleanup() { [ "$created_prc" = 1 ] && rm -f "$prc"; return 0; }
trap cleanup EXIT INT TERM

# Refresh package lists only when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
	apt-get update -qq
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing

# Where systemd runs, keep the services of the packages we just installed from
# starting now or at boot. Without an init system there is nothing to do.
if [ -d /run/systemd/system ]; then
	for s in $new_svc; do
		systemctl disable --now "$s" >/dev/null 2>&1 || true
		systemctl mask "$s" >/dev/null 2>&1 || true
	done
fi
echo "deps: done"
