#!/usr/bin/env python3
"""The mail client of the IMAP e2e test and the demo: what a user and an MTA
do, through the front proxy only (imaplib for IMAP, smtplib.LMTP for LMTP).

  seed      deliver PER_USER messages to each user, set flags on some through
            IMAP; write what each user must hold (--out)
  check     every user holds exactly the expected messages (by Message-ID),
            once each, with the expected flags, and no other user's mail;
            with --deliveries, messages accepted within --at_risk_window
            before --fault_time that are missing are counted apart (mail
            replication had not copied yet), not failed
  deliver   the MTA's loop: one message after another, each retried on a
            temporary failure (4xx, no connection) until accepted; a JSON
            line per accepted message (first try, acceptance, attempts)
  read      the users' loop: one thread per user logs in, opens INBOX and
            fetches the headers every --interval; a JSON line per attempt
  report    from the loops' logs: each user's unavailability window, the
            readers' longest outage, the delivery delays (p50/p90/p99/max),
            and the accepted messages as an expectation for `check`; fails
            when the readers' sessions saw two different mailboxes of a user
            (see session_problems)
  show      one user's mailbox, as a person would read it (the demo)

Every loop stops when the file --stop exists. Message-IDs name their user, so
mail delivered to the wrong mailbox is seen.
"""
import argparse
import imaplib
import json
import os
import smtplib
import socket
import sys
import threading
import time

DOMAIN = "slotkeeper.test"
FLAG_NAMES = ("\\Flagged", "\\Seen", "\\Answered")


def msgid(kind, user, n):
    return "<%s-%d.%s@%s>" % (kind, n, user, DOMAIN)


def message(user, mid, subject):
    return ("From: sender@%s\r\nTo: %s@%s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\n"
            "A message for %s.\r\n" % (DOMAIN, user, DOMAIN, subject, mid, user)).encode()


def lmtp_deliver(a, user, mid, subject):
    """None when accepted; else (temporary, reason)."""
    try:
        lmtp = smtplib.LMTP(a.host, a.lmtp, timeout=10)
        try:
            refused = lmtp.sendmail("sender@" + DOMAIN, [user], message(user, mid, subject))
        finally:
            try:
                lmtp.quit()
            except Exception:
                pass
        if refused:
            code, text = refused[user]
            return (400 <= code < 500, "%d %s" % (code, text.decode(errors="replace")))
        return None
    except smtplib.SMTPRecipientsRefused as e:
        code, text = e.recipients[user]
        return (400 <= code < 500, "%d %s" % (code, text.decode(errors="replace")))
    except smtplib.SMTPResponseException as e:
        return (400 <= e.smtp_code < 500, "%d %s" % (e.smtp_code, e.smtp_error))
    except (OSError, smtplib.SMTPException) as e:
        return (True, "%s: %s" % (type(e).__name__, e))


def imap_login(a, user):
    imap = imaplib.IMAP4(a.host, a.imap, timeout=10)
    imap.login(user, a.password)
    return imap


def mailbox(a, user):
    """{Message-ID: [flags...]} of INBOX, the Message-IDs seen twice, and
    INBOX's UIDVALIDITY (None when the server gave none)."""
    imap = imap_login(a, user)
    try:
        typ, data = imap.select("INBOX", readonly=True)
        if typ != "OK":
            raise imaplib.IMAP4.error("select: %r" % data)
        validity = imap.untagged_responses.get("UIDVALIDITY", [None])[-1]
        validity = int(validity) if validity is not None else None
        if int(data[0]) == 0:
            return {}, [], validity
        typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ != "OK":
            raise imaplib.IMAP4.error("fetch: %r" % data)
    finally:
        try:
            imap.logout()
        except Exception:
            pass
    box, twice = {}, []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        flags = [f for f in FLAG_NAMES if f.encode() in head]
        mid = body.decode(errors="replace").split(":", 1)[-1].strip()
        if mid in box:
            twice.append(mid)
        box[mid] = flags
    return box, twice, validity


def retrying(what, fn, seconds):
    deadline = time.time() + seconds
    while True:
        try:
            return fn()
        except Exception as e:  # the front answers 'temporarily unavailable'
            if time.time() > deadline:
                raise RuntimeError("%s: %s" % (what, e))
            time.sleep(0.5)


def cmd_seed(a):
    expected = {}
    for user in a.users:
        expected[user] = {}
        for n in range(a.per_user):
            mid = msgid("seed", user, n)
            failed = lmtp_deliver(a, user, mid, "seed %d" % n)
            if failed is not None:
                sys.exit("seed: delivery of %s to %s failed: %s" % (mid, user, failed[1]))
            expected[user][mid] = []
    for user in a.users:
        imap = retrying("login " + user, lambda: imap_login(a, user), 30)
        imap.select("INBOX")
        for n in range(a.per_user):
            flags = [f for i, f in enumerate(FLAG_NAMES) if n % (i + 2) == 0]
            if not flags:
                continue
            mid = msgid("seed", user, n)
            typ, found = imap.search(None, "HEADER", "Message-ID", mid)
            nums = found[0].split()
            if typ != "OK" or len(nums) != 1:
                sys.exit("seed: %s is in %s's INBOX %d times" % (mid, user, len(nums)))
            imap.store(nums[0].decode(), "+FLAGS", "(%s)" % " ".join(flags))
            expected[user][mid] = flags
        imap.logout()
    with open(a.out, "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
    print("seeded %d messages to %d users through the front, flags on %d" % (
        sum(len(m) for m in expected.values()), len(expected),
        sum(1 for m in expected.values() for fl in m.values() if fl)))


def cmd_check(a):
    expected = {}
    for path in a.expect:
        with open(path) as f:
            for user, msgs in json.load(f).items():
                expected.setdefault(user, {}).update(msgs)
    # Accepted within the window before the fault: asynchronous replication
    # may not have copied them yet (the mail at risk); counted, not failed.
    accepted_at = {}
    if a.deliveries:
        accepted_at = accepted_times(json.loads(l) for l in open(a.deliveries))
    def at_risk(mid):
        return in_risk_window(a, accepted_at.get(mid))
    in_window = sum(1 for t in accepted_at.values() if in_risk_window(a, t))
    problems, lost_at_risk, total = [], [], 0
    for user in sorted(expected):
        box, twice, _ = retrying("read " + user, lambda: mailbox(a, user), a.wait)
        total += len(box)
        for mid in twice:
            problems.append("%s: %s is there twice" % (user, mid))
        for mid, flags in sorted(expected[user].items()):
            if mid not in box and at_risk(mid):
                lost_at_risk.append((a.fault_time - accepted_at[mid], user, mid))
            elif mid not in box:
                problems.append("%s: %s is missing" % (user, mid))
            elif sorted(set(flags) - set(box[mid])):
                problems.append("%s: %s lost flags %s (has %s)" % (user, mid, flags, box[mid]))
        for mid in box:
            if DOMAIN in mid and ("." + user + "@") not in mid:
                problems.append("%s: holds another user's message %s" % (user, mid))
            elif mid not in expected[user] and not a.allow_extra:
                problems.append("%s: holds %s, never delivered to it" % (user, mid))
    summary = {"users": len(expected), "messages": total,
               "expected": sum(len(m) for m in expected.values()), "problems": len(problems)}
    if a.deliveries:
        summary.update({"at_risk_window_s": a.at_risk_window,
                        "accepted_in_window": in_window,
                        "lost_in_window": len(lost_at_risk),
                        "oldest_lost_before_fault_s":
                            round(max(t for t, _, _ in lost_at_risk), 3) if lost_at_risk else 0})
    print(json.dumps(summary, sort_keys=True))
    for age, user, mid in sorted(lost_at_risk):
        print("AT RISK %s: %s accepted %.3fs before the fault, not on the new master" % (
            user, mid, age))
    for p in problems[:50]:
        print("PROBLEM " + p)
    sys.exit(1 if problems else 0)


def append(log, lock, record):
    with lock:
        log.write(json.dumps(record) + "\n")
        log.flush()


def cmd_deliver(a):
    lock = threading.Lock()
    with open(a.log, "a") as log:
        n = 0
        while not os.path.exists(a.stop):
            user = a.users[n % len(a.users)]
            mid = msgid("loop", user, n)
            first, attempts, last = time.time(), 0, ""
            while True:
                attempts += 1
                failed = lmtp_deliver(a, user, mid, "loop %d" % n)
                if failed is None:
                    append(log, lock, {"user": user, "id": mid, "first": first, "ok": time.time(),
                                       "attempts": attempts, "last_error": last})
                    break
                temporary, last = failed
                if not temporary:
                    append(log, lock, {"user": user, "id": mid, "first": first, "refused": last})
                    break
                if os.path.exists(a.stop) and time.time() - first > a.give_up:
                    append(log, lock, {"user": user, "id": mid, "first": first, "gave_up": last})
                    return
                time.sleep(0.2)
            n += 1
            time.sleep(a.interval)


def cmd_read(a):
    lock = threading.Lock()

    def reader(user, log):
        while not os.path.exists(a.stop):
            t = time.time()
            try:
                box, _, validity = mailbox(a, user)
                append(log, lock, {"user": user, "t": t, "ok": True, "n": len(box),
                                   "ids": sorted(box), "uidvalidity": validity})
            except Exception as e:
                append(log, lock, {"user": user, "t": t, "ok": False,
                                   "error": "%s: %s" % (type(e).__name__, e)})
            time.sleep(max(0.0, a.interval - (time.time() - t)))

    with open(a.log, "a") as log:
        threads = [threading.Thread(target=reader, args=(u, log)) for u in a.users]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def session_problems(reads, lost_at_risk=lambda mid: False):
    """What the readers' sessions say about each user's mailbox, as a list of
    problems and a list of (user, Message-ID) seen and then lost at risk.

    The loops never expunge, so a user's INBOX only grows: a session that
    lacks a message an earlier session of that user saw, or a UIDVALIDITY
    that comes back after another one was seen, means two different
    mailboxes (a stale copy, a second master) were served to that user. A
    message for which `lost_at_risk` holds (accepted just before a unit
    failure, not yet replicated) may disappear; it is listed apart."""
    problems, forgiven = [], []
    by_user = {}
    for r in sorted(reads, key=lambda r: r["t"]):
        if r["ok"] and "ids" in r:
            by_user.setdefault(r["user"], []).append(r)
    for user in sorted(by_user):
        seen = {}  # Message-ID -> when a session first saw it
        validities = []  # each UIDVALIDITY in the order it appeared
        for r in by_user[user]:
            ids = set(r["ids"])
            for mid in sorted(m for m in seen if m not in ids):
                if lost_at_risk(mid):
                    forgiven.append((user, mid))
                else:
                    problems.append("%s: the session at %.3f lacks %s, seen at %.3f" % (
                        user, r["t"], mid, seen[mid]))
                del seen[mid]  # one line per lost message
            for mid in ids:
                seen.setdefault(mid, r["t"])
            v = r.get("uidvalidity")
            if v is not None and (not validities or validities[-1] != v):
                if v in validities:
                    problems.append("%s: the session at %.3f has UIDVALIDITY %d again, after %d" % (
                        user, r["t"], v, validities[-1]))
                validities.append(v)
    return problems, forgiven


def accepted_times(deliveries):
    """{Message-ID: when the loop's delivery was accepted}."""
    return {d["id"]: d["ok"] for d in deliveries if "ok" in d}


def in_risk_window(a, t):
    """Whether a delivery accepted at `t` may be lost to the fault (--fault_time,
    --at_risk_window): asynchronous replication may not have copied it."""
    return t is not None and a.fault_time - a.at_risk_window <= t <= a.fault_time


def cmd_report(a):
    reads = [json.loads(l) for l in open(a.reads)]
    by_user = {}
    for r in sorted(reads, key=lambda r: r["t"]):
        by_user.setdefault(r["user"], []).append(r)
    windows, longest = {}, (0.0, "")
    for user, rs in by_user.items():
        # From the last success before the first failure to the first
        # success after the last failure: a user could not read in between.
        fails = [i for i, r in enumerate(rs) if not r["ok"]]
        if not fails:
            windows[user] = 0.0
            continue
        before = [r["t"] for r in rs[:fails[0]] if r["ok"]]
        after = [r["t"] for r in rs[fails[-1] + 1:] if r["ok"]]
        start = before[-1] if before else rs[fails[0]]["t"]
        end = after[0] if after else rs[-1]["t"]
        windows[user] = end - start
        # The longest run of failures one reader saw.
        run_start = None
        for r in rs:
            if not r["ok"] and run_start is None:
                run_start = r["t"]
            elif r["ok"] and run_start is not None:
                if r["t"] - run_start > longest[0]:
                    longest = (r["t"] - run_start, user)
                run_start = None
    deliveries = [json.loads(l) for l in open(a.deliveries)]
    accepted = [d for d in deliveries if "ok" in d]
    accepted_at = accepted_times(deliveries)
    problems, seen_lost_at_risk = session_problems(
        reads, lambda mid: in_risk_window(a, accepted_at.get(mid)))
    delays = [d["ok"] - d["first"] for d in accepted]
    expect = {}
    for d in accepted:
        expect.setdefault(d["user"], {})[d["id"]] = []
    with open(a.out, "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)
    w = list(windows.values())
    affected = [windows[u] for u in windows if u.startswith(a.affected_prefix)] if a.affected_prefix else w
    report = {
        "users": len(windows),
        "unavailable_p50_s": round(percentile(w, 50), 2),
        "unavailable_p99_s": round(percentile(w, 99), 2),
        "affected_users": len(affected),
        "affected_unavailable_p50_s": round(percentile(affected, 50), 2),
        "affected_unavailable_p99_s": round(percentile(affected, 99), 2),
        "reader_longest_outage_s": round(longest[0], 2),
        "reader_longest_outage_user": longest[1],
        "reads": len(reads), "failed_reads": sum(1 for r in reads if not r["ok"]),
        "deliveries_accepted": len(accepted),
        "deliveries_refused": sum(1 for d in deliveries if "refused" in d),
        "deliveries_given_up": sum(1 for d in deliveries if "gave_up" in d),
        "deliveries_retried": sum(1 for d in accepted if d["attempts"] > 1),
        "delay_p50_s": round(percentile(delays, 50), 3),
        "delay_p90_s": round(percentile(delays, 90), 3),
        "delay_p99_s": round(percentile(delays, 99), 3),
        "delay_max_s": round(max(delays) if delays else 0.0, 3),
        "session_problems": len(problems),
        "seen_then_lost_at_risk": len(seen_lost_at_risk),
        "users_whose_uidvalidity_changed": sum(
            1 for u, rs in by_user.items()
            if len({r.get("uidvalidity") for r in rs if r["ok"] and "uidvalidity" in r}) > 1),
    }
    print("REPORT " + json.dumps(report, sort_keys=True))
    print("  unavailable per user (s): " + ", ".join(
        "%s %.1f" % (u, windows[u]) for u in sorted(windows)))
    for user in sorted(by_user):
        bad = [r for r in by_user[user] if not r["ok"]]
        if bad and not user.startswith(a.affected_prefix or "\0"):
            print("  %s (not affected) failed %d reads, first: %s" % (
                user, len(bad), bad[0]["error"][:160]))
    errors = sorted({r["error"][:120] for r in reads if not r["ok"]})
    for e in errors[:8]:
        print("  read error seen: " + e)
    for user, mid in seen_lost_at_risk:
        print("AT RISK %s: %s was read, then lost with the failed master" % (user, mid))
    for p in problems[:50]:
        print("PROBLEM " + p)
    sys.exit(1 if problems else 0)


def cmd_show(a):
    box, _, _ = retrying("read " + a.users[0], lambda: mailbox(a, a.users[0]), a.wait)
    print("%s's INBOX through the front proxy (127.0.0.1:%d): %d messages" % (
        a.users[0], a.imap, len(box)))
    # The messages this client delivered first, then the others.
    for mid, flags in sorted(box.items(), key=lambda m: (DOMAIN not in m[0], m[0]))[: a.limit]:
        print("  %-48s %s" % (mid, " ".join(flags)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["seed", "check", "deliver", "read", "report", "show"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--imap", type=int, default=0)
    p.add_argument("--lmtp", type=int, default=0)
    p.add_argument("--password", default="secret")
    p.add_argument("--users", default="")
    p.add_argument("--per_user", type=int, default=10)
    p.add_argument("--out", default="")
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--allow_extra", action="store_true")
    p.add_argument("--wait", type=float, default=60, help="check/show: retry this long")
    p.add_argument("--stop", default="")
    p.add_argument("--log", default="")
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--give_up", type=float, default=60)
    p.add_argument("--reads", default="")
    p.add_argument("--deliveries", default="")
    p.add_argument("--affected_prefix", default="")
    p.add_argument("--limit", type=int, default=12)
    p.add_argument("--fault_time", type=float, default=0, help="check: unix time of the fault")
    p.add_argument("--at_risk_window", type=float, default=0,
                   help="check: messages accepted this long before the fault may be lost")
    a = p.parse_args()
    a.users = [u for u in a.users.split(",") if u]
    socket.setdefaulttimeout(10)
    {"seed": cmd_seed, "check": cmd_check, "deliver": cmd_deliver, "read": cmd_read,
     "report": cmd_report, "show": cmd_show}[a.command](a)


if __name__ == "__main__":
    main()
