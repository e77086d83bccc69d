#!/usr/bin/env python3
"""inject.py - send test messages over SMTP and report what was acknowledged.

Usage: inject.py HOST PORT FROM RCPT[,RCPT...] COUNT [SUBJECT-PREFIX]
Prints one line per message: "ok N <reply>" when the server said 250 to
the end of data, "fail N <error>" otherwise. Never raises: a dead server
just makes the remaining messages fail.
"""
import smtplib, sys, time

host, port, frm, rcpts, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
prefix = sys.argv[6] if len(sys.argv) > 6 else "msg"
s = None
for i in range(count):
    try:
        if s is None:
            s = smtplib.SMTP(host, port, timeout=30)
        body = "Subject: %s-%d\r\nFrom: <%s>\r\n\r\nmessage %d\r\n" % (prefix, i, frm, i)
        refused = s.sendmail(frm, rcpts, body)
        print("ok %d %s" % (i, "refused=%s" % refused if refused else ""), flush=True)
    except Exception as e:
        print("fail %d %s" % (i, str(e).replace("\n", " ")), flush=True)
        try:
            s.close()
        except Exception:
            pass
        s = None
        time.sleep(0.2)   # a restarting server gets a moment
if s is not None:
    try:
        s.quit()
    except Exception:
        pass
