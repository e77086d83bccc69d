#!/usr/bin/python3
"""tlsrpt_check.py - independent checks of TLS reports (RFC 8460), for
tests/integration/tlsrpt_send.sh. None of danemx's code is used: the JSON
is read by Python's json, validated by python3-jsonschema, the mail parsed
by Python's email package and its DKIM signature verified by python3-dkim.

  tlsrpt_check.py gzip-json FILE SCHEMA|-
      FILE is a gzip'ed report (as POSTed): print its JSON; validate it
      against SCHEMA unless "-". Exit 1 when it is not one.
  tlsrpt_check.py same-json GZFILE JSONFILE
      exit 0 when the gzip'ed report and the JSON file are the same report
  tlsrpt_check.py mail EML JSONFILE SCHEMA POLICY-DOMAIN SUBMITTER \\
      UNBOUND-CONF DANEMX
      EML is a report mail as the MX received it: check its headers and
      MIME structure (RFC 8460 5.3), that its gzip part is JSONFILE's
      report and valid, and its DKIM signature, with the key looked up
      through `DANEMX -R UNBOUND-CONF dns NAME TXT` (the world's DNSSEC).
      Prints "dkim: pass" on success.
"""
import email
import email.policy
import gzip
import json
import re
import subprocess
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def validate(obj, schema_file):
    if schema_file == "-":
        return
    import jsonschema
    with open(schema_file) as f:
        schema = json.load(f)
    try:
        jsonschema.validate(obj, schema)
    except jsonschema.ValidationError as e:
        fail("schema: %s at %s" % (e.message, list(e.absolute_path)))


def gz_report(data):
    try:
        return json.loads(gzip.decompress(data))
    except Exception as e:
        fail("not a gzip'ed JSON report: %s" % e)


def dns_txt(danemx, conf):
    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        out = subprocess.run([danemx, "-R", conf, "dns", name.rstrip("."),
                              "TXT"], capture_output=True, text=True).stdout
        # NAME TTL IN TXT "a" "b": the strings joined
        for line in out.splitlines():
            m = re.match(r'^\S+ \d+ IN TXT (.*)$', line)
            if m:
                return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"',
                                          m.group(1))).encode()
        return None
    return lookup


def check_mail(eml, json_file, schema, domain, submitter, conf, danemx):
    with open(eml, "rb") as f:
        raw = f.read()
    # postcat -bh prints the message as queued: LF line ends
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    ctype = msg.get_content_type()
    if ctype != "multipart/report":
        fail("Content-Type %s" % ctype)
    if msg.get_param("report-type") != "tlsrpt":
        fail("report-type %r" % msg.get_param("report-type"))
    for h, want in (("TLS-Report-Domain", domain),
                    ("TLS-Report-Submitter", submitter),
                    ("TLS-Required", "No")):
        if (msg.get(h) or "").strip() != want:
            fail("%s: %r, want %r" % (h, msg.get(h), want))
    subj = str(msg.get("Subject") or "")
    m = re.match(r"^Report Domain: (\S+) Submitter: (\S+) Report-ID: <(.+)>$",
                 " ".join(subj.split()))
    if not m or m.group(1) != domain or m.group(2) != submitter:
        fail("Subject %r" % subj)
    for h in ("From", "Date", "Message-ID", "To", "MIME-Version"):
        if msg.get(h) is None:
            fail("no %s header" % h)
    parts = [p for p in msg.iter_parts()]
    if len(parts) < 2 or parts[0].get_content_type() != "text/plain":
        fail("parts: %s" % [p.get_content_type() for p in parts])
    gz = [p for p in parts if p.get_content_type() == "application/tlsrpt+gzip"]
    if len(gz) != 1:
        fail("%d application/tlsrpt+gzip parts" % len(gz))
    fn = gz[0].get_filename() or ""
    # sender!policy-domain!begin!end[!unique].json.gz (RFC 8460 5.3)
    fm = re.match(r"^([^!]+)!([^!]+)!(\d+)!(\d+)(![^!]+)?\.json\.gz$", fn)
    if not fm or fm.group(1) != submitter or fm.group(2) != domain:
        fail("filename %r" % fn)
    rep = gz_report(gz[0].get_payload(decode=True))
    validate(rep, schema)
    with open(json_file) as f:
        want = json.load(f)
    if rep != want:
        fail("the mailed report differs from show's:\n%s\n%s" %
             (json.dumps(rep, sort_keys=True), json.dumps(want, sort_keys=True)))
    if rep.get("report-id") != m.group(3):
        fail("Subject's Report-ID %r, report's %r" % (m.group(3), rep.get("report-id")))
    import dkim
    if not msg.get("DKIM-Signature"):
        fail("no DKIM-Signature")
    import io
    import logging
    log = io.StringIO()
    logger = logging.getLogger("tlsrpt_check")
    logger.addHandler(logging.StreamHandler(log))
    logger.setLevel(logging.DEBUG)
    # tlsrpt="strict": a TLS report, signed with a key for s=tlsrpt
    if not dkim.verify(raw, logger=logger, dnsfunc=dns_txt(danemx, conf),
                       tlsrpt="strict"):
        fail("DKIM signature does not verify: %s" % log.getvalue().strip())
    print("dkim: pass")


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "gzip-json":
        with open(a[1], "rb") as f:
            rep = gz_report(f.read())
        validate(rep, a[2])
        print(json.dumps(rep, sort_keys=True))
    elif len(a) == 3 and a[0] == "same-json":
        with open(a[1], "rb") as f:
            rep = gz_report(f.read())
        with open(a[2]) as f:
            want = json.load(f)
        if rep != want:
            fail("differ:\n%s\n%s" % (json.dumps(rep, sort_keys=True),
                                      json.dumps(want, sort_keys=True)))
    elif len(a) == 8 and a[0] == "mail":
        check_mail(*a[1:])
    else:
        print(__doc__)
        sys.exit(2)


main()
