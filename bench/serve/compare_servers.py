#!/usr/bin/env python3
"""Posts every request body of a folder to two /v1/rank servers and compares their answers item by item.

    compare_servers.py --bodies DIR --a http://127.0.0.1:8080 --b http://127.0.0.1:8081 [--tolerance 1e-4]

Per body: the same items, each item's task scores within the tolerance, the same blended scores. The orders may
differ only between items whose scores are within the tolerance. Exits non-zero otherwise.
"""

import argparse
import json
import os
import sys
import urllib.request


def post(url, body):
    request = urllib.request.Request(url + "/v1/rank", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", required=True, help="folder with list.txt and the bodies it names")
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    names = [n for n in open(os.path.join(args.bodies, "list.txt")).read().split() if n]
    worst_task, worst_score, bad = 0.0, 0.0, 0
    for name in names:
        body = open(os.path.join(args.bodies, name), "rb").read()
        a, b = post(args.a, body), post(args.b, body)
        items_a = {item["index"]: item for item in a["items"]}
        items_b = {item["index"]: item for item in b["items"]}
        if set(items_a) != set(items_b):
            print(f"{name}: the servers answer different items", file=sys.stderr)
            bad += 1
            continue
        for index, item in items_a.items():
            other = items_b[index]
            worst_score = max(worst_score, abs(item["score"] - other["score"]))
            for task, value in item["tasks"].items():
                worst_task = max(worst_task, abs(value - other["tasks"][task]))
        # Orders agree except among near ties.
        scores_b = [items_b[item["index"]]["score"] for item in a["items"]]
        for first, second in zip(scores_b, scores_b[1:]):
            if second > first + args.tolerance:
                print(f"{name}: {args.a} ranks an item above one that {args.b} scores higher", file=sys.stderr)
                bad += 1
                break
    ok = bad == 0 and worst_task <= args.tolerance and worst_score <= args.tolerance
    print(f"{len(names)} bodies: max |a - b| task score {worst_task:.2e}, blended score {worst_score:.2e}"
          f"{'' if ok else ' -> FAIL'} (tolerance {args.tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
