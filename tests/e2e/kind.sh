#!/usr/bin/env bash
# End-to-end on a real cluster: creates a kind cluster, builds and loads the image, installs the
# chart (with the values of tests/e2e/common.sh, which tests/e2e/external.sh installs too), runs
# `helm test` and the scenario suite (tests/scenarios, the same code the kubesim tests run)
# against it through a port-forward, signed with the chart's generated key, skipping what
# tests/e2e/kubesim-only.txt lists for all scripts; collects logs, and deletes the cluster.
#
# Needs: docker (a running engine), kind, kubectl, helm, cargo. Not run in this project's CI,
# whose machines have no Docker engine; .github/workflows/e2e-kind.yml runs it on GitHub.
#
#   tests/e2e/kind.sh                 # everything, cluster deleted at the end
#   KEEP_CLUSTER=1 tests/e2e/kind.sh  # leave the cluster running for a look
#   ARTIFACTS=/tmp/bt-e2e             # where logs go (default: target/e2e-artifacts)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="$root/.tools/bin:$PATH"

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh

cluster=${KIND_CLUSTER:-batch-terminator-e2e}
image=${IMAGE:-batch-terminator:e2e}
release=$e2e_release
namespace=$e2e_namespace
service=$e2e_service
port=${LOCAL_PORT:-18080}
artifacts=${ARTIFACTS:-$root/target/e2e-artifacts}
kubeconfig=$artifacts/kubeconfig
mkdir -p "$artifacts"

for tool in docker kind kubectl helm cargo; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is required" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "kind.sh: no Docker engine is running" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }

pf_pid=
cleanup() {
  status=$?
  step "collecting logs into $artifacts"
  [[ -n $pf_pid ]] && kill "$pf_pid" 2>/dev/null || true
  if [[ -f $kubeconfig ]]; then
    kubectl --kubeconfig "$kubeconfig" -n "$namespace" logs "deployment/$service" --all-containers --prefix \
      >"$artifacts/batch-terminator.log" 2>&1 || true
    kubectl --kubeconfig "$kubeconfig" get jobterminations,jobs,pods,events -A -o wide \
      >"$artifacts/cluster-state.txt" 2>&1 || true
    kind export logs "$artifacts/kind" --name "$cluster" >/dev/null 2>&1 || true
  fi
  if [[ ${KEEP_CLUSTER:-0} == 1 ]]; then
    echo "kind.sh: keeping cluster $cluster (KUBECONFIG=$kubeconfig)"
  else
    step "deleting cluster $cluster"
    kind delete cluster --name "$cluster" || true
  fi
  if [[ $status == 0 ]]; then echo "kind.sh: PASS"; else echo "kind.sh: FAIL ($status)"; fi
  exit "$status"
}
trap cleanup EXIT

step "creating kind cluster $cluster"
kind create cluster --name "$cluster" --config deploy/kind-config.yaml --kubeconfig "$kubeconfig" --wait 180s
export KUBECONFIG=$kubeconfig

step "building $image"
docker build -f deploy/Dockerfile -t "$image" .
kind load docker-image "$image" --name "$cluster"

step "installing the chart"
helm install "$release" charts/batch-terminator \
  --namespace "$namespace" --create-namespace \
  --set image.repository="${image%:*}" --set image.tag="${image##*:}" --set image.pullPolicy=Never \
  "${e2e_chart_values[@]}" \
  --set config.logFormat=text --set 'config.logLevel=info\,batch_terminator=debug' \
  --set podDisruptionBudget.enabled=true --set networkPolicy.enabled=true \
  --wait --timeout 3m
kubectl -n "$namespace" rollout status "deployment/$service" --timeout 2m

step "helm test"
helm test "$release" --namespace "$namespace" --logs

step "port-forwarding service/$service to 127.0.0.1:$port"
kubectl -n "$namespace" port-forward "service/$service" "$port:8080" >"$artifacts/port-forward.log" 2>&1 &
pf_pid=$!
endpoint=http://127.0.0.1:$port
# Unsigned, the service answers 403 (auth: sigv4).
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"jobs":["kind-sh-probe"]}' "$endpoint/v1/describejobs" || true)
  [[ $code == 403 ]] && break
  sleep 1
done
[[ $code == 403 ]] || { echo "kind.sh: $endpoint does not answer (last status $code)" >&2; exit 1; }

step "scenarios against the cluster"
e2e_export_key
BT_E2E_KUBECONFIG=$kubeconfig e2e_run_scenarios "$endpoint" kind 4 "$artifacts/scenarios.log"
