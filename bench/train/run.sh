#!/usr/bin/env bash
# Training throughput: `mtrec bench train --shape aliexpress` against MTReclib's own PyTorch models on the same
# shape (peer_mtreclib.py), alternating the two --repeat times per architecture and keeping each one's best run
# (the best run is the one least disturbed by other work on the machine).
#
#   MTRECLIB=DIR bench/train/run.sh [--archs "mmoe shared_bottom ple"] [--seconds S] [--repeat R] [--mtrec PATH]
#
# DIR: a checkout of github.com/easezyc/Multitask-Recommendation-Library. Needs python3-torch (Debian).
# Prints one line per architecture and run, then `train: ARCH mtrec=X peer=X ratio=X` per architecture.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHS="mmoe shared_bottom ple"
SECS=15
REPEAT=2
MTREC=build/src/mtrec
while [ $# -gt 0 ]; do
  case $1 in
    --archs) ARCHS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
: "${MTRECLIB:?set MTRECLIB to a checkout of the Multitask-Recommendation-Library}"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
summary=()
for arch in $ARCHS; do
  best_m=0; best_p=0
  for _ in $(seq 1 "$REPEAT"); do
    m=$("$MTREC" bench train --shape aliexpress --arch "$arch" --seconds "$SECS" | awk '/^samples\/s:/ {print $2}')
    p=$("$PYTHON" bench/train/peer_mtreclib.py --mtreclib "$MTRECLIB" --arch "$arch" --seconds "$SECS" \
        | awk '/^samples\/s:/ {print $2}')
    echo "$arch: mtrec $m samples/s, MTReclib $p samples/s"
    [ "$m" -gt "$best_m" ] && best_m=$m
    [ "$p" -gt "$best_p" ] && best_p=$p
  done
  summary+=("$(awk -v a="$arch" -v m="$best_m" -v p="$best_p" \
    'BEGIN { printf "train: %s mtrec=%d peer=%d ratio=%.2f", a, m, p, m / p }')")
done
printf '%s\n' "${summary[@]}"
