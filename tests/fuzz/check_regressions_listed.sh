#!/usr/bin/env bash
# Every file the regressions README's table names is in tests/fuzz/regressions, and every input there is in the
# table: a regression that .gitignore or a move lost would otherwise replay as an empty folder and pass.
#
#   tests/fuzz/check_regressions_listed.sh tests/fuzz/regressions
set -euo pipefail

dir=$1
listed=$(grep -o '^| `[^`]*`' "$dir/README.md" | sed 's/^| `//; s/`$//' | sort)
present=$(cd "$dir" && find . -type f ! -name README.md | sed 's|^\./||' | sort)
status=0
for f in $(comm -23 <(echo "$listed") <(echo "$present")); do
  echo "$dir/README.md lists $f, which is not in $dir"
  status=1
done
for f in $(comm -13 <(echo "$listed") <(echo "$present")); do
  echo "$dir/$f is not in the table of $dir/README.md"
  status=1
done
[ "$status" -eq 0 ] && echo "$(echo "$listed" | wc -l) regression inputs, each listed and present"
exit "$status"
