#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the tools it drives, then checks
# formatting, lints, generated files, runs every test of the workspace, then the aws-cli and
# boto3 suites against the built binary (tests/clients), then the scenarios against the
# chart's service (tests/e2e/external.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-tools.sh
export PATH="$PWD/.tools/bin:$PWD/.venv/bin:$PATH"

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== layering"
# The layers are crates, so the build keeps them apart; these check the dependency graph itself.
# Prints the names of the crates in PACKAGE's normal dependency tree (ARGS pass to cargo tree).
deps() { cargo tree --offline -q -e normal --prefix none --format '{p}' "$@" | cut -d' ' -f1 | sort -u; }
# Fails when one of the crates named after the package appears in its tree.
forbid() {
  local tree; tree=$(deps "${@:2}")
  for name in $1; do
    if grep -qx "$name" <<<"$tree"; then echo "layering: $name is in the tree of: ${*:2}" >&2; exit 1; fi
  done
}
# One time type (jiff's Timestamp, as k8s-openapi's): chrono is only kubesim's.
forbid "kube k8s-openapi axum hyper tokio kubesim chrono" -p batch-terminator-core
forbid "kube k8s-openapi kubesim chrono" -p batch-terminator-api
forbid "kubesim chrono" -p batch-terminator --no-default-features
# The checks can fail: the default build does carry kubesim.
deps -p batch-terminator | grep -qx kubesim
# The release build (deploy/Dockerfile) has no --sim flag.
cargo build --bin batch-terminator --no-default-features
if target/debug/batch-terminator serve --help | grep -qE '^ +--sim'; then
  echo "layering: a --no-default-features build offers --sim" >&2; exit 1
fi
# The unit test only a build without `sim` compiles; the count shows that it ran.
nosim=$(cargo test -q -p batch-terminator --no-default-features --lib a_build_without_sim_has_no_demo_flags 2>&1) \
  || { echo "$nosim" >&2; exit 1; }
if ! grep -q "test result: ok. 1 passed" <<<"$nosim"; then
  echo "layering: a_build_without_sim_has_no_demo_flags did not run: $nosim" >&2; exit 1
fi

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi

echo "== client suites (aws-cli, boto3)"
cargo build --bin batch-terminator
.venv/bin/python -m pytest -q tests/clients

# The scenarios again, in external mode, against the chart installed into the kubesim binary
# and the batch-terminator binary run with the Deployment's arguments: what tests/e2e/kind.sh
# runs on kind, with the same values and skip list. Prints how many ran, submit ones apart.
echo "== scenarios against the chart's service (tests/e2e/external.sh)"
tests/e2e/external.sh

# A smoke test of the benchmark: the reduced run must produce every figure. It asserts no
# speed (figures are printed, never asserted), only that each scenario measured something;
# so it runs the dev binaries built above rather than build everything again in release.
echo "== benchmark smoke test (scripts/bench.sh --quick)"
BENCH_PROFILE=dev ./scripts/bench.sh --quick
.venv/bin/python - target/bench/quick/report.json <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
figures = report["figures"]
missing = [f"{f['scenario']} {f['name']}" for f in figures
           if f["value"] is None and "moto" not in f["name"]]
scenarios = {f["scenario"] for f in figures if f["value"] is not None}
assert not missing, f"figures not produced: {missing}"
assert scenarios == {"P1", "P2", "P3", "P4", "P5"}, f"scenarios with figures: {sorted(scenarios)}"
print(f"bench smoke test: {len(figures)} figures from {sorted(scenarios)}")
PY
