#!/usr/bin/env bash
# The benchmark (README "Performance"): builds batch-terminator and the bench in release,
# installs moto's server into .venv when PyPI is reachable (moto is skipped with a note
# otherwise), and runs scenarios P1 to P5 side by side with the HTTP floor and moto.
# Prints one table; writes target/bench/report.json and the SVG plots.
#   --quick        a reduced run, under two minutes (writes target/bench/quick/)
#   --only P1,P4   some scenarios only
# BENCH_PROFILE=dev builds with the dev profile instead: the test suite's smoke test does, to
# reuse the binaries it has built (its figures then say nothing of the release build).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${BENCH_PROFILE:-release}" in
  release) profile_flag=(--release) bin=target/release ;;
  dev) profile_flag=() bin=target/debug ;;
  *) echo "bench.sh: BENCH_PROFILE is release or dev" >&2; exit 2 ;;
esac
cargo build "${profile_flag[@]}" -p batch-terminator --bin batch-terminator \
  -p batch-terminator-bench --bin bench

moto_pkg="moto[server]==5.2.5"
if [[ ! -x .venv/bin/moto_server ]]; then
  { [[ -x .venv/bin/python ]] || python3 -m venv .venv; } &&
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "$moto_pkg" ||
    echo "bench.sh: could not install $moto_pkg into .venv; moto will be skipped" >&2
fi

exec "$bin/bench" --product "$bin/batch-terminator" --moto .venv/bin/moto_server "$@"
