#!/bin/sh
# tlsa_connect.sh - danemx tlsa --connect reads the chain a live server
# sends after STARTTLS and prints the same records as from the file;
# a server without STARTTLS, or none at all, is exit 69.
. "$DANEMX_SRCDIR/tests/lib.sh"

PY=/usr/bin/python3
SRV="$DANEMX_SRCDIR/tests/servers/faultsmtpd.py"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" -days 30 \
	-subj /CN=live.test -addext subjectAltName=DNS:live.test 2>/dev/null ||
	fail "openssl req"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T_TMP"' EXIT
P1=$((14000 + ($$ % 1000) * 2)); P2=$((P1 + 1))
for m in ok:$P1 no-starttls:$P2; do
	$PY "$SRV" --listen 127.0.0.1:${m#*:} --mode ${m%%:*} --cert "$T_TMP/cert.pem" \
		--key "$T_TMP/key.pem" >"$T_TMP/srv-${m%%:*}" 2>&1 &
	PIDS="$PIDS $!"
done
i=0
until grep -q ready "$T_TMP/srv-ok" && grep -q ready "$T_TMP/srv-no-starttls"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "servers did not start"; sleep 0.1
done

run_cmd "$DANEMX" tlsa --connect "[127.0.0.1]:$P1" --host live.test
expect_eq "connect: exit" "$RC" 0
want=$("$DANEMX" tlsa --host live.test --port $P1 "$T_TMP/cert.pem")
expect_eq "connect: same record as the file" "$OUT" "$want"
expect_match "connect: owner uses the port" "$OUT" "^_$P1\._tcp\.live\.test\. IN TLSA 3 1 1 [0-9a-f]{64}$"

run_cmd "$DANEMX" tlsa --connect "[127.0.0.1]:$P1" --host live.test --port 25
expect_match "connect: --port names the owner" "$OUT" "^_25\._tcp\.live\.test\. IN TLSA 3 1 1 "

run_cmd "$DANEMX" tlsa --selector 0 --mtype 2 --connect "[127.0.0.1]:$P1" --host live.test
expect_eq "connect 3 0 2: same as the file" "$OUT" \
	"$("$DANEMX" tlsa --selector 0 --mtype 2 --host live.test --port $P1 "$T_TMP/cert.pem" 2>/dev/null)"

run_cmd "$DANEMX" --timeout 5 tlsa --connect "[127.0.0.1]:$P2" --host live.test
expect_eq "no STARTTLS: exit" "$RC" 69
expect_match "no STARTTLS: reason" "$ERR" "STARTTLS is required but the server does not offer it"

run_cmd "$DANEMX" --timeout 5 tlsa --connect "[127.0.0.1]:1"
expect_eq "nothing listening: exit" "$RC" 69
run_cmd "$DANEMX" tlsa --connect "[127.0.0.1]:1" "$T_TMP/cert.pem"
expect_eq "--connect and FILE: usage" "$RC" 64
done_ok
