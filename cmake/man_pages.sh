#!/usr/bin/env bash
# The man pages of the package, generated from the binary's own --help by help2man: mtrec.1 (the command and its
# subcommands in brief) and mtrec-SUBCOMMAND.1 for each subcommand `mtrec --help` lists, gzipped as Debian wants.
#
#   cmake/man_pages.sh BINARY OUT_DIR VERSION
set -euo pipefail
binary=$1
out=$2
version=$3
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.1.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# help2man runs "PROGRAM --help"; a subcommand's page needs a program whose --help is the subcommand's.
page() {
  local name=$1 description=$2 program=$3
  help2man --no-info --no-discard-stderr --version-string="$version" --name="$description" \
    --output="$out/$name.1" "$program"
  gzip -9n "$out/$name.1"
}

page mtrec "multi-task learning for e-commerce in one native binary" "$binary"
# The subcommands: the lines of `mtrec --help` after "Subcommands:" that start with two spaces and a name.
"$binary" --help | awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | while read -r sub; do
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$binary" "$sub" > "$work/mtrec-$sub"
  chmod +x "$work/mtrec-$sub"
  summary=$("$binary" "$sub" --help | head -1 | sed 's/\.$//')
  page "mtrec-$sub" "$summary" "$work/mtrec-$sub"
done
ls "$out"
