#!/usr/bin/env python3
"""metrics_check.py - strict check of a Prometheus text exposition (0.0.4).

Usage: metrics_check.py < SCRAPE
Checks every line: "# HELP name text", "# TYPE name counter|gauge", or a
sample "name{label="value",...} value" with the format's escapes (\\ \" \n
in label values; \\ \n in HELP), names of the grammar, danemx_ names,
counters ending in _total, each family's HELP then TYPE once, before its
samples, which follow together; no series twice; integer values; a final
newline. On success prints each sample as "name{labels} value" (labels as
sent) and exits 0; else prints the first error and exits 1.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVALUE = r'(?:[^"\\\n]|\\[\\"n])*'
HELP = re.compile(r"^# HELP (%s) ((?:[^\\\n]|\\[\\n])*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge)$" % NAME)
SAMPLE = re.compile(r'^(%s)(\{(%s="%s")(,%s="%s")*\})? (0|[1-9][0-9]*)$'
                    % (NAME, LNAME, LVALUE, LNAME, LVALUE))


def fail(lineno, line, why):
    print("line %d: %s: %r" % (lineno, why, line))
    sys.exit(1)


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        print("no final newline")
        sys.exit(1)
    helps, types, done, series = {}, {}, set(), set()
    current = None
    out = []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        m = HELP.match(line)
        if m:
            name = m.group(1)
            if name in helps or name in done:
                fail(n, line, "second HELP")
            if current is not None:
                done.add(current)
            current = name
            helps[name] = m.group(2)
            continue
        m = TYPE.match(line)
        if m:
            name = m.group(1)
            if name != current or name in types:
                fail(n, line, "TYPE not right after its HELP")
            if m.group(2) == "counter" and not name.endswith("_total"):
                fail(n, line, "a counter without _total")
            if m.group(2) == "gauge" and name.endswith("_total"):
                fail(n, line, "a gauge named _total")
            types[name] = m.group(2)
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(n, line, "not HELP, TYPE or a sample")
        name = m.group(1)
        if not name.startswith("danemx_"):
            fail(n, line, "not a danemx_ metric")
        if name != current or name not in types:
            fail(n, line, "sample outside its family")
        key = line.rsplit(" ", 1)[0]
        if key in series:
            fail(n, line, "series twice")
        series.add(key)
        out.append(line)
    for name in helps:
        if name not in types:
            print("family %s without TYPE" % name)
            sys.exit(1)
    print("\n".join(out))


main()
