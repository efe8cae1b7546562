"""The peer of `mtrec bench read`: seconds pandas.read_csv takes on a file, best of N runs. Prints 'rows/s: N'.

Usage: python3 bench/read/pandas_read.py FILE [--repeat N]
(python3-pandas from Debian; for the comparison only, never a dependency of mtrec.)
"""
import argparse
import time

import pandas


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best = float("inf")
    rows = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        frame = pandas.read_csv(args.file)
        best = min(best, time.perf_counter() - start)
        rows = len(frame)
        del frame
    print(f"pandas {pandas.__version__}: {rows} rows in {best:.3f} s (best of {args.repeat})")
    print(f"rows/s: {rows / best:.0f}")


if __name__ == "__main__":
    main()
