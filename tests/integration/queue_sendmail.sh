#!/bin/sh
# queue_sendmail.sh - danemx sendmail queues durably with sendmail's exit
# codes; danemx queue lists, shows, holds, releases and deletes; a full
# disk refuses the new message (exit 75) and harms nothing already queued.
. "$DANEMX_SRCDIR/tests/lib.sh"

Q="$T_TMP/queue"
mkdir -p "$Q/tmp" "$Q/msg" "$Q/env"
SM() { "$DANEMX" sendmail -o user= -o queue_dir="$1" "$@"; }
qlist() { "$DANEMX" queue -o user= -o queue_dir="$Q" --json list; }

# -t: recipients from To/Cc/Bcc, Bcc removed; a lone '.' ends input.
printf 'To: Ann <ann@a.test>, bob@b.test\nCc: "Doe, J" <jd@c.test>\nBcc: hidden@d.test\nSubject: t\n\nline one\n.\nafter the dot\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -t -f sender@client.test >"$T_TMP/id" 2>"$T_TMP/err"
expect_eq "sendmail -t: exit" "$?" 0
ID=$(cat "$T_TMP/id")
expect_match "sendmail: prints the queue id" "$ID" '^[0-9a-f]{16}$'
expect_eq "sendmail -t: recipients" \
	"$(qlist | jq -c '[.[0].recipients[].address]')" \
	'["ann@a.test","bob@b.test","jd@c.test","hidden@d.test"]'
expect_eq "sendmail -t: sender" "$(qlist | jq -r '.[0].sender')" sender@client.test
expect_eq "sendmail -t: Bcc removed" "$(grep -ci '^bcc:' "$Q/msg/$ID")" 0
expect_eq "sendmail: body ends at the lone dot" "$(grep -c 'after the dot' "$Q/msg/$ID")" 0
expect_eq "sendmail: CRLF line endings" "$(grep -c "$(printf 'line one\r')" "$Q/msg/$ID")" 1
expect_eq "sendmail: Date added" "$(grep -c '^Date: ' "$Q/msg/$ID")" 1
expect_eq "sendmail: Message-ID added" "$(grep -c '^Message-ID: <' "$Q/msg/$ID")" 1
expect_eq "sendmail: nothing left in tmp/" "$(ls "$Q/tmp" | wc -l)" 0

# -i: the dot line is content; recipients from the command line.
printf 'Subject: i\n\n.\nmore\n' |
	"$DANEMX" sendmail -o user= -o queue_dir="$Q" -i -f '' x@y.test >"$T_TMP/id2"
expect_eq "sendmail -i: exit" "$?" 0
ID2=$(cat "$T_TMP/id2")
expect_eq "sendmail -i: dot kept" "$(grep -c '^more' "$Q/msg/$ID2")" 1
expect_eq "sendmail -f '': null sender" \
	"$("$DANEMX" queue -o user= -o queue_dir="$Q" --json show "$ID2" | jq -r .sender)" ""

# Errors: no recipients, a bad address, a bad setting, a missing queue.
run_cmd sh -c "printf 'Subject: x\n\nb\n' | '$DANEMX' sendmail -o user= -o queue_dir='$Q'"
expect_eq "no recipients: exit" "$RC" 65
expect_match "no recipients: message" "$ERR" "no recipients"
run_cmd sh -c "printf 'x\n' | '$DANEMX' sendmail -o user= -o queue_dir='$Q' 'bad address@x'"
expect_eq "bad recipient: exit" "$RC" 65
run_cmd sh -c "printf 'x\n' | '$DANEMX' sendmail -o no_such_key=1 a@b.test"
expect_eq "unknown setting: exit" "$RC" 78
expect_match "unknown setting: message" "$ERR" "unknown setting 'no_such_key'"
run_cmd sh -c "printf 'x\n' | '$DANEMX' sendmail -o user= -o queue_dir='$T_TMP/nope' a@b.test"
expect_eq "missing queue: exit" "$RC" 73
run_cmd sh -c "head -c 3000 /dev/zero | tr '\\0' x | '$DANEMX' sendmail -o user= -o queue_dir='$Q' -o message_size_limit=1k a@b.test"
expect_eq "too large: exit" "$RC" 65
expect_match "too large: message" "$ERR" "larger than message_size_limit"

# queue commands
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" hold "$ID"
expect_eq "hold: exit" "$RC" 0
expect_eq "hold: held" "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json show "$ID" | jq .held)" true
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" release "$ID"
expect_eq "release: held" "$("$DANEMX" queue -o user= -o queue_dir="$Q" --json show "$ID" | jq .held)" false
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" list
expect_match "list: text shows the sender" "$OUT" "^$ID +[0-9]+ .* UTC <sender@client.test>$"
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" show 0000000000000000
expect_eq "show missing: exit" "$RC" 1
expect_match "show missing: message" "$ERR" "no such message in the queue"
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" delete "$ID2"
expect_eq "delete: exit" "$RC" 0
expect_eq "delete: gone" "$(qlist | jq length)" 1
run_cmd "$DANEMX" queue -o user= -o queue_dir="$Q" show ../../etc/passwd
expect_eq "path as id: refused" "$RC" 1

# A full disk: the queue on a tiny tmpfs, without a reserve
# (queue_minfree=0): the write itself fails. Then with a reserve: the
# message that would eat into it is refused before anything is written,
# while the queue's own update (hold) still works. Root only (mount).
if [ "$(id -u)" = 0 ] && mkdir -p "$T_TMP/small" &&
    mount -t tmpfs -o size=256k tmpfs "$T_TMP/small" 2>/dev/null; then
	trap 'umount "$T_TMP/small" 2>/dev/null; rm -rf "$T_TMP"' EXIT
	S="$T_TMP/small/q"
	mkdir -p "$S/tmp" "$S/msg" "$S/env"
	printf 'Subject: keep me\n\nsmall\n' |
		"$DANEMX" sendmail -o user= -o queue_minfree=0 -o queue_dir="$S" keep@a.test >"$T_TMP/keep"
	expect_eq "full disk: first message queued" "$?" 0
	KEEP=$(cat "$T_TMP/keep")
	before=$(md5sum "$S/msg/$KEEP")
	run_cmd sh -c "head -c 400000 /dev/zero | tr '\\0' y | fold -w 100 | '$DANEMX' sendmail -o user= -o queue_minfree=0 -o queue_dir='$S' big@a.test"
	expect_eq "full disk: exit 75" "$RC" 75
	expect_match "full disk: reason" "$ERR" "No space left on device"
	expect_eq "full disk: only the first message" \
		"$("$DANEMX" queue -o user= -o queue_dir="$S" --json list | jq -r '.[].id')" "$KEEP"
	expect_eq "full disk: first message intact" \
		"$(md5sum "$S/msg/$KEEP")" "$before"
	expect_eq "full disk: no leftovers" "$(find "$S/tmp" "$S/msg" -type f | wc -l)" 1
	# The reserve: 128 KiB of the 256 must stay free. A 150 KB message
	# fits on the disk but would leave less: refused with 75 before it
	# is written.
	run_cmd sh -c "head -c 150000 /dev/zero | tr '\\0' z | fold -w 100 | '$DANEMX' sendmail -o user= -o queue_minfree=128k -o queue_dir='$S' big@a.test"
	expect_eq "reserve: exit 75" "$RC" 75
	expect_match "reserve: reason" "$ERR" \
		"message not queued: the queue's file system has [0-9]+ KiB free for the message, less than queue_minfree \(128 KiB\) plus its size: try again later"
	expect_eq "reserve: nothing written" "$(find "$S/tmp" "$S/msg" -type f | wc -l)" 1
	run_cmd "$DANEMX" queue -o user= -o queue_minfree=128k -o queue_dir="$S" hold "$KEEP"
	expect_eq "reserve: the queue's own update still works" "$RC" 0
	umount "$T_TMP/small"
else
	echo "queue_sendmail: full-disk case skipped (needs root and tmpfs)"
fi

done_ok
