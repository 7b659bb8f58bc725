#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the tools it drives, then checks
# formatting, lints, generated files, runs every test of the workspace, then the aws-cli and
# boto3 suites against the built binary (tests/clients).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-tools.sh
export PATH="$PWD/.tools/bin:$PWD/.venv/bin:$PATH"

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

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
