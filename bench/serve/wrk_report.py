#!/usr/bin/env python3
"""Reads wrk --latency outputs: one summary per file, the benchmark table, and checks for the other scripts.

    wrk_report.py summary FILE                 # rps=... p50_ms=... p99_ms=... non2xx=... socket_errors=...
    wrk_report.py table DIR CONCURRENCY...     # DIR/wrk_<server>_c<C>.txt for server in mtrec, peer
    wrk_report.py clean FILE                   # exit 1 unless zero non-2xx and zero socket errors
    wrk_report.py p99 FILE                     # the p99 latency in ms
"""

import re
import sys

UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse(path):
    text = open(path).read()
    out = {"rps": float("nan"), "p50_ms": float("nan"), "p99_ms": float("nan"), "requests": 0, "non2xx": 0,
           "socket_errors": 0, "socket_detail": "0"}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M)
        if m:
            out[key] = float(m.group(1)) * UNITS_MS[m.group(2)]
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        counts = [int(x) for x in m.groups()]
        out["socket_errors"] = sum(counts)
        out["socket_detail"] = "connect {}, read {}, write {}, timeout {}".format(*counts)
    return out


def summary(path):
    s = parse(path)
    return (f"rps={s['rps']:.1f} p50_ms={s['p50_ms']:.2f} p99_ms={s['p99_ms']:.2f} requests={s['requests']} "
            f"non2xx={s['non2xx']} socket_errors={s['socket_errors']}")


def table(directory, concurrencies):
    rows = {}
    print(f"{'server':8s} {'conc':>5s} {'req/s':>9s} {'p50 ms':>9s} {'p99 ms':>9s} {'non-2xx':>8s}  socket errors")
    for server in ("mtrec", "peer"):
        for c in concurrencies:
            s = parse(f"{directory}/wrk_{server}_c{c}.txt")
            rows[(server, c)] = s
            print(f"{server:8s} {c:>5d} {s['rps']:>9.1f} {s['p50_ms']:>9.2f} {s['p99_ms']:>9.2f} {s['non2xx']:>8d}  "
                  f"{s['socket_detail']}")
    ratios = []
    for c in concurrencies:
        peer = rows[("peer", c)]["rps"]
        ratios.append(rows[("mtrec", c)]["rps"] / peer if peer > 0 else float("nan"))
    print("throughput ratio mtrec/peer: " + ", ".join(f"c{c} {r:.2f}x" for c, r in zip(concurrencies, ratios)))
    if 8 in concurrencies:
        m, p = rows[("mtrec", 8)], rows[("peer", 8)]
        ratio = m["rps"] / p["rps"] if p["rps"] > 0 else float("nan")
        print(f"serve: c8_p99_ms={m['p99_ms']:.2f} c8_rps={m['rps']:.1f} peer_c8_rps={p['rps']:.1f} ratio={ratio:.2f}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "summary":
        print(summary(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "p99":
        print(f"{parse(argv[1])['p99_ms']:.3f}")
        return 0
    if len(argv) >= 3 and argv[0] == "table":
        table(argv[1], [int(c) for c in argv[2:]])
        return 0
    if len(argv) == 2 and argv[0] == "clean":
        s = parse(argv[1])
        ok = s["requests"] > 0 and s["non2xx"] == 0 and s["socket_errors"] == 0
        print(f"{argv[1]}: {s['requests']} requests, {s['non2xx']} non-2xx, socket errors {s['socket_detail']}"
              f" -> {'ok' if ok else 'FAIL'}")
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
