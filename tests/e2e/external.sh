#!/usr/bin/env bash
# The scenarios (tests/scenarios) in external mode, as tests/e2e/kind.sh runs them on kind, here
# without Docker: the `kubesim` binary is the cluster (its control plane on the scenarios' clock,
# 0.01, RBAC on), the chart is installed into it with kind.sh's values (tests/e2e/common.sh; helm
# installs the CRDs), and the `batch-terminator` binary runs with the exact arguments of the
# chart's Deployment, as its ServiceAccount, with the credentials file of the chart's Secret. The
# scenarios then sign with the chart's generated key, and skip what tests/e2e/kubesim-only.txt
# lists for all scripts or for this one.
#
#   tests/e2e/external.sh            # builds what it runs, logs in target/e2e-external
#   THREADS=1 tests/e2e/external.sh  # scenarios at once (default 4)
#   tests/e2e/external.sh NAME       # more arguments go to the test binary (with --exact)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$PATH"
# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh

work=${ARTIFACTS:-$root/target/e2e-external}
rm -rf "$work"
mkdir -p "$work"
threads=${THREADS:-4}
for tool in kubectl helm cargo curl python3; do
  command -v "$tool" >/dev/null || { echo "external.sh: $tool is required (scripts/setup-tools.sh)" >&2; exit 2; }
done

step() { printf '\n== %s\n' "$*"; }
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status == 0 ]]; then echo "external.sh: PASS"; else echo "external.sh: FAIL ($status), logs in $work"; fi
  exit "$status"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Polls `$@` for up to 60 s.
wait_for() {
  for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
  echo "external.sh: timed out waiting for: $*" >&2
  return 1
}

step "building kubesim, batch-terminator and the scenarios"
cargo build -q -p kubesim --bin kubesim
cargo build -q --bin batch-terminator
cargo test -q --test scenarios --no-run

step "starting kubesim (control plane, time scale 0.01, RBAC)"
superuser=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
sa_token=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
# The service authenticates as the chart's ServiceAccount, so the chart's RBAC is what it gets.
echo "$sa_token,system:serviceaccount:$e2e_namespace:$e2e_service,system:serviceaccounts,system:serviceaccounts:$e2e_namespace" \
  >"$work/tokens.csv"
export KUBECONFIG=$work/kubeconfig
target/debug/kubesim --listen 127.0.0.1:0 --kubeconfig "$KUBECONFIG" --time-scale 0.01 --nodes 2 \
  --auth --superuser-token "$superuser" --anonymous-superuser --token-auth-file "$work/tokens.csv" \
  >"$work/kubesim.out" 2>"$work/kubesim.log" &
pids+=($!)
wait_for test -s "$KUBECONFIG"
sed "s/$superuser/$sa_token/" "$KUBECONFIG" >"$work/service-kubeconfig"

step "installing the chart"
# No --wait: kubesim runs no containers, so the Deployment's pods never get ready; its
# arguments run below as a process instead.
helm install "$e2e_release" charts/batch-terminator --namespace "$e2e_namespace" --create-namespace \
  "${e2e_chart_values[@]}" --set config.logFormat=text --set 'config.logLevel=info\,batch_terminator=debug' \
  >"$work/helm-install.log"
e2e_export_key
kubectl -n "$e2e_namespace" get secret "$e2e_service-credentials" -o jsonpath='{.data.credentials\.yaml}' \
  | base64 -d >"$work/credentials.yaml"

step "starting batch-terminator with the Deployment's arguments"
api_port=$(free_port)
admin_port=$(free_port)
kubectl -n "$e2e_namespace" get deployment "$e2e_service" -o jsonpath='{.spec.template.spec.containers[0].args}' \
  >"$work/deployment-args.json"
# The chart's arguments, but for the addresses (loopback, free ports) and the path of the
# mounted credentials file (the Secret's file, copied above).
mapfile -t args < <(python3 - "$work/deployment-args.json" "$api_port" "$admin_port" "$work/credentials.yaml" <<'PY'
import json, sys
args, api, admin, credentials = json.load(open(sys.argv[1])), *sys.argv[2:]
replaced = {"--listen": f"127.0.0.1:{api}", "--admin-listen": f"127.0.0.1:{admin}",
            "--credentials-file": credentials}
for arg in args:
    flag = arg.split("=", 1)[0]
    print(f"{flag}={replaced[flag]}" if flag in replaced else arg)
PY
)
printf '%s\n' "${args[@]}" >"$work/service-args.txt"
grep -q -- "--job-queues=" "$work/service-args.txt" && grep -q -- "--auth=sigv4" "$work/service-args.txt"
KUBECONFIG=$work/service-kubeconfig POD_NAME=external-0 target/debug/batch-terminator "${args[@]}" \
  >"$work/batch-terminator.log" 2>&1 &
pids+=($!)
ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz") == 200 ]]; }
wait_for ready

step "scenarios against the service"
started=$(date +%s)
BT_E2E_KUBECONFIG=$KUBECONFIG e2e_run_scenarios "http://127.0.0.1:$api_port" external "$threads" "$work/scenarios.log" "$@"
echo "external.sh: scenarios took $(($(date +%s) - started)) s"
