#!/usr/bin/env bash
# Runs one libFuzzer binary of the fuzz tier (ctest label `fuzz`, `make test-fuzz`).
#
#   run_fuzzer.sh replay FUZZER DIR                 every file under DIR once (the committed regressions)
#   run_fuzzer.sh fuzz FUZZER WORK DICT SEEDS...    fuzz for $FUZZ_SECONDS (default 60) from WORK/corpus (kept
#                                                   between runs) and the seed folders; findings in WORK/findings
#
# Environment: FUZZ_SECONDS, FUZZ_TIMEOUT (seconds one input may take, default 10), FUZZ_RSS_MB (memory limit,
# default 2048), FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=2" or "-only_ascii=1").
# Exit status non-zero on any finding: a crash, a sanitizer report, a leak, an input over the time or memory limit.
set -euo pipefail

mode=$1
fuzzer=$2
shift 2
name=$(basename "$fuzzer")

case "$mode" in
  replay)
    dir=$1
    files=()
    if [ -d "$dir" ]; then
      while IFS= read -r -d '' f; do
        files+=("$f")
      done < <(find "$dir" -type f ! -name '*.md' ! -name '.*' -print0 | sort -z)
    fi
    if [ ${#files[@]} -eq 0 ]; then
      echo "$name: no regression inputs in $dir"
      exit 0
    fi
    failed=0
    log=$(mktemp)
    for f in "${files[@]}"; do
      if ! "$fuzzer" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" "$f" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "$name: FAILED on $f"
        failed=$((failed + 1))
      fi
    done
    rm -f "$log"
    echo "$name: replayed ${#files[@]} regression inputs, $failed failed"
    [ "$failed" -eq 0 ]
    ;;
  fuzz)
    work=$1
    dict=$2
    shift 2
    mkdir -p "$work/corpus" "$work/findings"
    seconds=${FUZZ_SECONDS:-60}
    echo "$name: fuzzing for ${seconds}s; corpus $work/corpus, seeds $*"
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
    if "$fuzzer" -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -dict="$dict" -artifact_prefix="$work/findings/" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$work/corpus" "$@"; then
      exit 0
    fi
    echo "$name: FINDING; the input is in $work/findings/. Reproduce with: $fuzzer FILE"
    echo "Minimise with: $fuzzer -minimize_crash=1 -runs=10000 FILE; once fixed, add it under tests/fuzz/regressions/."
    exit 1
    ;;
  *)
    echo "usage: $0 replay FUZZER DIR | fuzz FUZZER WORK DICT SEEDS..." >&2
    exit 2
    ;;
esac
