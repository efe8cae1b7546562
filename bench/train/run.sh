#!/usr/bin/env bash
# Training throughput: `mtrec bench train --shape aliexpress` against MTReclib's own PyTorch models on the same
# shape (peer_mtreclib.py), alternating mtrec and every peer --repeat times per architecture and keeping each one's
# best run (the best run is the one least disturbed by other work on the machine).
#
#   MTRECLIB=DIR bench/train/run.sh [--archs "mmoe shared_bottom ple"] [--seconds S] [--repeat R] [--mtrec PATH]
#       [--peer old|new|both] [--peer-variants "eager compile bf16 compile+bf16"] [--peer-threads T]
#       [--mtrec-precision f32|bf16]
#
# DIR: a checkout of github.com/easezyc/Multitask-Recommendation-Library.
# Peers: old = Debian's /usr/bin/python3 with python3-torch (1.13), eager; new = the newest torch from PyPI in
# bench/.venv (made by bench/python_env.sh on first use), once per --peer-variants entry: eager, compile
# (torch.compile), bf16 (bf16 autocast; skipped where the CPU has no bf16), joined with + to combine
# (compile+bf16), and foreach / fused to pick Adam's implementation (compile+fused). Default: both (old only
# where /usr/bin/python3 has torch). --mtrec-precision passes --precision to `mtrec bench train`.
# Prints one line per architecture and round, then per architecture `train: ARCH mtrec=X peer=X ratio=X` (peer:
# the strongest peer measured) followed by `train-peer: ARCH PEER samples/s=X ratio=X` for every peer.
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
MTREC_PRECISION=""
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
case $MTREC_PRECISION in "" | f32 | bf16) ;; *) echo "--mtrec-precision: f32 or bf16" >&2; exit 2 ;; esac
[ -x "$MTREC" ] || { echo "no mtrec binary at $MTREC (build it, or pass --mtrec PATH)" >&2; exit 1; }
MTREC_ARGS=()
[ -n "$MTREC_PRECISION" ] && MTREC_ARGS=(--precision "$MTREC_PRECISION")
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
echo "mtrec: $MTREC bench train${MTREC_PRECISION:+ --precision $MTREC_PRECISION}; ${SECS} s a run, best of $REPEAT; peers: ${PEERS[*]}"

declare -A UNSUPPORTED
summary=()
for arch in $ARCHS; do
  best_m=0
  declare -A best=()
  for round in $(seq 1 "$REPEAT"); do
    log=$LOGS/mtrec.txt
    if ! "$MTREC" bench train --shape aliexpress --arch "$arch" --seconds "$SECS" "${MTREC_ARGS[@]}" > "$log" 2>&1; then
      cat "$log" >&2
      echo "mtrec bench train failed ($arch${MTREC_PRECISION:+, --precision $MTREC_PRECISION})" >&2
      exit 1
    fi
    m=$(awk '/^samples\/s:/ {print $2}' "$log")
    line="$arch round $round: mtrec $m"
    [ "$m" -gt "$best_m" ] && best_m=$m
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
      line+=", $peer $p"
      [ "$p" -gt "${best[$peer]:-0}" ] && best[$peer]=$p
    done
    echo "$line samples/s"
  done
  strongest=""
  for peer in "${PEERS[@]}"; do
    [ -n "${best[$peer]:-}" ] || continue
    if [ -z "$strongest" ] || [ "${best[$peer]}" -gt "${best[$strongest]}" ]; then strongest=$peer; fi
  done
  [ -n "$strongest" ] || { echo "no peer ran for $arch" >&2; exit 1; }
  summary+=("$(awk -v a="$arch" -v m="$best_m" -v p="${best[$strongest]}" \
    'BEGIN { printf "train: %s mtrec=%d peer=%d ratio=%.2f", a, m, p, m / p }')")
  for peer in "${PEERS[@]}"; do
    [ -n "${best[$peer]:-}" ] || continue
    summary+=("$(awk -v a="$arch" -v n="$peer" -v m="$best_m" -v p="${best[$peer]}" -v s="$([ "$peer" = "$strongest" ] && echo ' (strongest)')" \
      'BEGIN { printf "train-peer: %s %s samples/s=%d ratio=%.2f%s", a, n, p, m / p, s }')")
  done
  unset best
done
printf '%s\n' "${summary[@]}"
