#!/usr/bin/env bash
# The Python of the benchmark peers: a virtual environment at bench/.venv with the newest torch from PyPI (the
# default wheel: CUDA libraries included; the peers use the CPU only), numpy, fastapi and uvicorn[standard]
# (uvloop, httptools). Created once; later calls only check it. Nothing is pinned: the versions are printed.
#
#   bench/python_env.sh [--upgrade] [--quiet]      # create (or check) it; prints versions, the last line is its python
#   source bench/python_env.sh [--upgrade] [--quiet]  # the same, and sets BENCH_PYTHON (and BENCH_VENV)
#
# Needs /usr/bin/python3 (3.11 on Debian 12) and python3-venv; as root both are installed with apt-get when missing.
# The peers' --compile (torch.compile, inductor's C++ backend) also needs g++ and Python's headers (Debian: g++,
# python3-dev): installed the same way when missing, or a warning. --upgrade reinstalls the newest of everything.
# BENCH_VENV=DIR puts the environment elsewhere; BENCH_VENV_PYTHON=PATH picks the base interpreter.

_bench_env_main() {
  local upgrade=0 quiet=0 here venv base py stamp start
  while [ $# -gt 0 ]; do
    case $1 in
      --upgrade) upgrade=1; shift ;;
      --quiet) quiet=1; shift ;;
      -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
      *) echo "python_env.sh: unknown option '$1'" >&2; return 2 ;;
    esac
  done
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  venv=${BENCH_VENV:-$here/.venv}
  py=$venv/bin/python
  stamp=$venv/.mtrec-bench-ready
  _say() { [ "$quiet" = 1 ] || echo "python_env: $*" >&2; }

  _apt() {  # _apt PACKAGE...: install with apt-get as root, or fail with the command to run
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
      _say "apt-get install $*"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } > /dev/null ||
        { echo "python_env: apt-get install $* failed" >&2; return 1; }
    else
      echo "python_env: needs the Debian packages: $* (apt-get install $*)" >&2
      return 1
    fi
  }

  if [ ! -f "$stamp" ] || [ "$upgrade" = 1 ] || ! "$py" -c 'import torch, numpy, fastapi, uvicorn' > /dev/null 2>&1; then
    base=${BENCH_VENV_PYTHON:-/usr/bin/python3}
    [ -x "$base" ] || _apt python3 python3-venv || return 1
    if [ ! -x "$py" ]; then
      # python3 -m venv fails without ensurepip, which Debian ships in python3-venv.
      "$base" -c 'import ensurepip, venv' > /dev/null 2>&1 || _apt python3-venv || return 1
      local free_gib
      free_gib=$(df -Pk "$(dirname "$venv")" | awk 'NR == 2 {printf "%d", $4 / 1048576}')
      _say "creating $venv with $("$base" --version 2>&1) ($base); ${free_gib} GiB free there"
      if [ "$free_gib" -lt 8 ]; then
        echo "python_env: torch from PyPI with its CUDA libraries takes about 6 GiB; only ${free_gib} GiB free" >&2
        return 1
      fi
      "$base" -m venv "$venv" || { rm -rf "$venv"; return 1; }
    fi
    start=$(date +%s)
    _say "pip install --upgrade pip torch numpy fastapi uvicorn[standard] (PyPI; several minutes the first time)"
    # pip.conf's find-links, if any, stays in force; --upgrade makes pip take the newest release from the index.
    "$py" -m pip install --quiet --upgrade pip || return 1
    "$py" -m pip install --quiet --upgrade --report "$venv/pip-report.new.json" torch numpy fastapi 'uvicorn[standard]' || {
      echo "python_env: pip install failed (is PyPI reachable?)" >&2
      return 1
    }
    # pip's report of what it installed: kept while it names torch, for the line saying where torch came from.
    if grep -q '"name": *"torch"' "$venv/pip-report.new.json" 2> /dev/null; then
      mv "$venv/pip-report.new.json" "$venv/pip-report.json"
    else
      rm -f "$venv/pip-report.new.json"
    fi
    "$py" -c 'import torch, numpy, fastapi, uvicorn' || return 1
    _say "installed in $(($(date +%s) - start)) s; $(du -sh "$venv" | cut -f1) on disk"
    date -u +%FT%TZ > "$stamp"
  fi
  if ! command -v g++ > /dev/null || [ ! -f "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then
    _apt g++ python3-dev || _say "warning: without g++ and python3-dev the peers' --compile falls back to eager"
  fi
  if [ "$quiet" = 0 ]; then
    "$py" - << 'EOF' >&2
import importlib.metadata as md, sys, torch
def v(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"
import json, os
dist = md.distribution("torch")
index = "an earlier install (no pip report)"
try:  # pip's --report of the install that brought torch: the URL of the wheel
    with open(os.path.join(sys.prefix, "pip-report.json")) as f:
        for item in json.load(f)["install"]:
            if item["metadata"]["name"] == "torch":
                index = item["download_info"]["url"]
except (OSError, ValueError, KeyError):
    pass
print(f"python_env: python {sys.version.split()[0]} at {sys.executable}")
print(f"python_env: torch {torch.__version__} from {index} (installer {(dist.read_text('INSTALLER') or '?').strip()}, "
      f"{dist.locate_file('torch')}); CUDA build {torch.version.cuda}; CPU capability "
      f"{torch.backends.cpu.get_cpu_capability()}; mkldnn {torch.backends.mkldnn.is_available()}")
print("python_env: " + ", ".join(f"{n} {v(n)}" for n in ("numpy", "fastapi", "uvicorn", "uvloop", "httptools", "pip")))
EOF
  fi
  BENCH_VENV=$venv
  BENCH_PYTHON=$py
  export BENCH_VENV BENCH_PYTHON
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _bench_env_main "$@"
  echo "$BENCH_PYTHON"
else
  _bench_env_main "$@"
fi
