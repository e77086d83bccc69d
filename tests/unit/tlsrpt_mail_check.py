#!/usr/bin/python3
# tlsrpt_mail_check.py MSG JSON [DNSTXT] - check a TLS report mail with
# code that is not danemx's: Python's email parser and gzip, and (given
# the DKIM key's DNS TXT record) python3-dkim.
#
# MSG is the whole message (CRLF line ends), JSON the report it must
# carry, byte for byte; DNSTXT the selector's record ("v=DKIM1; k=rsa;
# p=..."), served to dkim.verify() for whatever name it asks.
# Exit 0 with "ok", else 1 with what is wrong on stderr.
import email
import email.policy
import gzip
import re
import sys


def fail(why):
    print("tlsrpt_mail_check: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    raw = open(sys.argv[1], "rb").read()
    want = open(sys.argv[2], "rb").read()
    if re.search(rb"[^\r]\n|\r[^\n]", raw):
        fail("a bare LF or CR")
    msg = email.message_from_bytes(raw, policy=email.policy.SMTP)
    if msg.get_content_type() != "multipart/report":
        fail("Content-Type is " + msg.get_content_type())
    if msg.get_param("report-type") != "tlsrpt":
        fail("report-type is %r" % msg.get_param("report-type"))
    # RFC 8460 5.3: Subject, TLS-Report-Domain, TLS-Report-Submitter
    subj = " ".join(str(msg["Subject"]).split())
    m = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) "
                     r"Report-ID: <([^<>@\s]+@[^<>@\s]+)>", subj)
    if not m:
        fail("Subject %r is not RFC 8460's" % subj)
    if msg["TLS-Report-Domain"] != m.group(1):
        fail("TLS-Report-Domain %r, Subject says %r" %
             (msg["TLS-Report-Domain"], m.group(1)))
    if msg["TLS-Report-Submitter"] != m.group(2):
        fail("TLS-Report-Submitter %r" % msg["TLS-Report-Submitter"])
    if msg["TLS-Required"] != "No":
        fail("TLS-Required %r" % msg["TLS-Required"])
    for h in ("From", "To", "Date", "Message-ID", "MIME-Version"):
        if msg[h] is None:
            fail("no " + h)
    parts = list(msg.iter_parts())
    if len(parts) != 2:
        fail("%d parts, want 2" % len(parts))
    if parts[0].get_content_type() != "text/plain":
        fail("first part " + parts[0].get_content_type())
    gz = parts[1]
    if gz.get_content_type() != "application/tlsrpt+gzip":
        fail("second part " + gz.get_content_type())
    name = gz.get_filename()
    f = re.fullmatch(r"([^!]+)!([^!]+)!(\d+)!(\d+)(![A-Za-z0-9]+)?\.json\.gz",
                     name or "")
    if not f or f.group(1) != m.group(2) or f.group(2) != m.group(1):
        fail("filename %r" % name)
    got = gzip.decompress(gz.get_payload(decode=True))
    if got != want:
        fail("the gzip part is not the JSON (%d octets, want %d)" %
             (len(got), len(want)))
    if len(sys.argv) > 3:
        import dkim
        txt = open(sys.argv[3], "rb").read().strip()
        sig = dkim.DKIM(raw)
        try:
            ok = sig.verify(dnsfunc=lambda name, timeout=5: txt)
        except dkim.DKIMException:
            ok = False
        if not ok:
            fail("DKIM signature does not verify")
        h = dkim.util.parse_tag_value(
            msg["DKIM-Signature"].encode().replace(b"\r\n", b""))
        signed = [x.strip().lower() for x in h[b"h"].split(b":")]
        for need in (b"from", b"to", b"subject", b"date", b"message-id",
                     b"mime-version", b"content-type", b"tls-report-domain",
                     b"tls-report-submitter", b"tls-required"):
            if need not in signed:
                fail("%s is not signed" % need.decode())
        if h.get(b"l") is not None:
            fail("l= is used")
        if h[b"c"] != b"relaxed/relaxed":
            fail("c=%s" % h[b"c"].decode())
    print("ok")


main()
