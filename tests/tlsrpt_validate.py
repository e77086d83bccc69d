#!/usr/bin/python3
"""tlsrpt_validate.py - check TLS reports against RFC 8460 4.4, not danemx.

usage: tlsrpt_validate.py FILE...   (a FILE of - reads standard input)

Each FILE holds one report's JSON. It must validate against the JSON
Schema in tests/vectors/tlsrpt-schema.json (python3-jsonschema, with its
format checker), cover one whole UTC day (00:00:00Z to 23:59:59Z, as
section 4.4 asks), and each policy's failure total must be the sum of its
failure details' counts. Prints "ok FILE" or the first problem; exit 1 on
any problem.
"""
import datetime
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "vectors", "tlsrpt-schema.json")


def check(report):
    """The problems of one parsed report, beyond the schema."""
    dr = report["date-range"]
    start = datetime.datetime.fromisoformat(dr["start-datetime"].replace("Z", "+00:00"))
    end = datetime.datetime.fromisoformat(dr["end-datetime"].replace("Z", "+00:00"))
    if start.utcoffset() != datetime.timedelta(0) or (start.hour, start.minute, start.second) != (0, 0, 0):
        return "date-range does not start at 00:00:00Z"
    if (end - start).total_seconds() != 86399:
        return "date-range is not one whole day"
    for p in report["policies"]:
        details = p.get("failure-details", [])
        total = sum(d["failed-session-count"] for d in details)
        if total != p["summary"]["total-failure-session-count"]:
            return "policy %s: failure details add up to %d, summary says %d" % (
                p["policy"]["policy-domain"], total, p["summary"]["total-failure-session-count"])
    return None


def main(argv):
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    bad = 0
    for name in argv[1:] or ["-"]:
        text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
        try:
            report = json.loads(text)
            errors = sorted(validator.iter_errors(report), key=lambda e: list(e.path))
            why = "%s at %s" % (errors[0].message, list(errors[0].path)) if errors else check(report)
        except (ValueError, KeyError) as e:
            why = "not JSON: %s" % e
        if why:
            print("FAIL %s: %s" % (name, why))
            bad += 1
        else:
            print("ok %s" % name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
