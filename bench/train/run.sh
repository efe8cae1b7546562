#!/usr/bin/env bash
# Training throughput: `mtrec bench train --shape aliexpress` against MTReclib's own PyTorch models on the same
# shape (peer_mtreclib.py), alternating mtrec and every peer --repeat times per architecture and keeping each one's
# best run (the best run is the one least disturbed by other work on the machine).
#
#   MTRECLIB=DIR bench/train/run.sh [--archs "mmoe shared_bottom ple"] [--seconds S] [--repeat R] [--mtrec PATH]
#       [--peer old|new|both] [--peer-variants "eager compile bf16 compile+bf16"] [--peer-threads T]
#       [--mtrec-precision "f32 bf16"]
#
# DIR: a checkout of github.com/easezyc/Multitask-Recommendation-Library.
# Peers: old = Debian's /usr/bin/python3 with python3-torch (1.13), eager; new = the newest torch from PyPI in
# bench/.venv (made by bench/python_env.sh on first use), once per --peer-variants entry: eager, compile
# (torch.compile), bf16 (bf16 autocast; skipped where the CPU has no bf16), joined with + to combine
# (compile+bf16), and foreach / fused to pick Adam's implementation (compile+fused). Default: both (old only
# where /usr/bin/python3 has torch). --mtrec-precision: the precisions `mtrec bench train` runs in, each every
# round (default f32; "f32 bf16" for both).
# Prints one line per architecture and round, then per architecture `train: ARCH mtrec=X peer=X ratio=X` (mtrec in
# the first precision; peer: the strongest peer measured), `train-mtrec: ARCH PRECISION samples/s=X
# fraction_of_bound=F ratio=X` per precision (ratio against the strongest peer) and `train-peer: ARCH PEER
# samples/s=X ratio=X` for every peer.
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHS="mmoe shared_bottom ple"
SECS=15
REPEAT=2
MTREC=build/src/mtrec
PEER=both
PEER_SET=0
VARIANTS="eager compile bf16 compile+bf16"
PEER_THREADS=2
MTREC_PRECISION=f32
while [ $# -gt 0 ]; do
  case $1 in
    --archs) ARCHS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --mtrec) MTREC=$2; shift 2 ;;
    --peer) PEER=$2; PEER_SET=1; shift 2 ;;
    --peer-variants) VARIANTS=$2; shift 2 ;;
    --peer-threads) PEER_THREADS=$2; shift 2 ;;
    --mtrec-precision) MTREC_PRECISION=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
: "${MTRECLIB:?set MTRECLIB to a checkout of the Multitask-Recommendation-Library}"
case $PEER in old | new | both) ;; *) echo "--peer: old, new or both" >&2; exit 2 ;; esac
for precision in $MTREC_PRECISION; do
  case $precision in f32 | bf16) ;; *) echo "--mtrec-precision: f32 and/or bf16" >&2; exit 2 ;; esac
done
[ -x "$MTREC" ] || { echo "no mtrec binary at $MTREC (build it, or pass --mtrec PATH)" >&2; exit 1; }
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /cpu: /'
"$MTREC" bench train --seconds 0.1 --warmup 0 --bound-seconds 0.01 --arch shared_bottom | grep '^cpu:' || true
LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

# The peers: names (old, new:VARIANT), their pythons and their flags.
PEERS=()
declare -A PEER_PY PEER_FLAGS
if [ "$PEER" != new ]; then
  OLD_PY=/usr/bin/python3
  [ -x "$OLD_PY" ] || OLD_PY=python3
  if "$OLD_PY" -c 'import torch' > /dev/null 2>&1; then
    PEERS+=(old)
    PEER_PY[old]=$OLD_PY
    PEER_FLAGS[old]=""
    echo "peer old: $OLD_PY, torch $("$OLD_PY" -c 'import torch; print(torch.__version__)')"
  elif [ "$PEER" = old ] || [ "$PEER_SET" = 1 ]; then
    echo "--peer $PEER: $OLD_PY has no torch (Debian: apt-get install python3-torch)" >&2
    exit 1
  else
    echo "peer old: skipped, $OLD_PY has no torch (Debian: apt-get install python3-torch)"
  fi
fi
if [ "$PEER" != old ]; then
  # shellcheck source=bench/python_env.sh
  source bench/python_env.sh || { echo "could not make the venv of the new peer (bench/python_env.sh)" >&2; exit 1; }
  for variant in $VARIANTS; do
    flags=""
    for part in ${variant//+/ }; do
      case $part in
        eager) ;;
        compile) flags+=" --compile" ;;
        bf16) flags+=" --bf16" ;;
        foreach | fused) flags+=" --adam $part" ;;
        *) echo "--peer-variants: unknown part '$part' of '$variant' (eager, compile, bf16, foreach, fused)" >&2; exit 2 ;;
      esac
    done
    PEERS+=("new:$variant")
    PEER_PY[new:$variant]=$BENCH_PYTHON
    PEER_FLAGS[new:$variant]=$flags
  done
fi
[ ${#PEERS[@]} -gt 0 ] || { echo "no peer to run" >&2; exit 1; }
echo "mtrec: $MTREC bench train --precision $MTREC_PRECISION; ${SECS} s a run, best of $REPEAT; peers: ${PEERS[*]}"

declare -A UNSUPPORTED
summary=()
for arch in $ARCHS; do
  declare -A best=() best_mtrec=() fraction=()
  for round in $(seq 1 "$REPEAT"); do
    line="$arch round $round:"
    for precision in $MTREC_PRECISION; do
      log=$LOGS/mtrec.txt
      if ! "$MTREC" bench train --shape aliexpress --arch "$arch" --seconds "$SECS" --precision "$precision" > "$log" 2>&1; then
        cat "$log" >&2
        echo "mtrec bench train failed ($arch, --precision $precision)" >&2
        exit 1
      fi
      m=$(awk '/^samples\/s:/ {print $2}' "$log")
      line+=" mtrec $precision $m ($(awk '/^samples\/s:/ {print $4}' "$log") of the bound),"
      if [ "$m" -gt "${best_mtrec[$precision]:-0}" ]; then
        best_mtrec[$precision]=$m
        fraction[$precision]=$(awk '/^samples\/s:/ {print $4}' "$log")
      fi
    done
    for peer in "${PEERS[@]}"; do
      [ -n "${UNSUPPORTED[$peer]:-}" ] && continue
      log=$LOGS/peer.txt
      rc=0
      # shellcheck disable=SC2086
      "${PEER_PY[$peer]}" bench/train/peer_mtreclib.py --mtreclib "$MTRECLIB" --arch "$arch" --seconds "$SECS" \
        --threads "$PEER_THREADS" ${PEER_FLAGS[$peer]} > "$log" 2>&1 || rc=$?
      if [ "$rc" = 3 ]; then  # bf16 on a CPU without it
        UNSUPPORTED[$peer]=1
        echo "peer $peer: $(grep '^bf16:' "$log" || tail -1 "$log"); skipped"
        continue
      elif [ "$rc" != 0 ]; then
        cat "$log" >&2
        echo "peer $peer failed ($arch, exit $rc)" >&2
        exit 1
      fi
      grep -q '^compile: ' "$log" && echo "peer $peer: $(grep '^compile: ' "$log")"
      p=$(awk '/^samples\/s:/ {print $2}' "$log")
      line+=" $peer $p,"
      [ "$p" -gt "${best[$peer]:-0}" ] && best[$peer]=$p
    done
    echo "${line%,} samples/s"
  done
  strongest=""
  for peer in "${PEERS[@]}"; do
    [ -n "${best[$peer]:-}" ] || continue
    if [ -z "$strongest" ] || [ "${best[$peer]}" -gt "${best[$strongest]}" ]; then strongest=$peer; fi
  done
  [ -n "$strongest" ] || { echo "no peer ran for $arch" >&2; exit 1; }
  first=${MTREC_PRECISION%% *}
  best_m=${best_mtrec[$first]}
  summary+=("$(awk -v a="$arch" -v m="$best_m" -v p="${best[$strongest]}" \
    'BEGIN { printf "train: %s mtrec=%d peer=%d ratio=%.2f", a, m, p, m / p }')")
  for precision in $MTREC_PRECISION; do
    summary+=("$(awk -v a="$arch" -v n="$precision" -v m="${best_mtrec[$precision]}" -v f="${fraction[$precision]}" \
      -v p="${best[$strongest]}" -v base="$best_m" -v first="$first" \
      'BEGIN { printf "train-mtrec: %s %s samples/s=%d fraction_of_bound=%s ratio=%.2f speedup_over_%s=%.2f", a, n, m, f, m / p, first, m / base }')")
  done
  for peer in "${PEERS[@]}"; do
    [ -n "${best[$peer]:-}" ] || continue
    summary+=("$(awk -v a="$arch" -v n="$peer" -v m="$best_m" -v p="${best[$peer]}" -v s="$([ "$peer" = "$strongest" ] && echo ' (strongest)')" \
      'BEGIN { printf "train-peer: %s %s samples/s=%d ratio=%.2f%s", a, n, p, m / p, s }')")
  done
  unset best best_mtrec fraction
done
printf '%s\n' "${summary[@]}"
