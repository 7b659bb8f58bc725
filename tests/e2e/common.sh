# What tests/e2e/kind.sh and tests/e2e/external.sh share, so that both run the scenarios against
# the same service: the chart's values, the scenarios each skips, and the chart's SigV4 key.
# Sourced with the repository root as the working directory.

# The release the scenarios run against.
e2e_release=bt
e2e_namespace=batch-terminator
e2e_service=$e2e_release-batch-terminator

# The chart's values for the scenarios, on top of each script's own: the queues the submit
# scenarios use (tests/e2e/queues.json; any other queue name is the namespace of that name),
# the account ID their ARNs carry, and the default SigV4 authentication with a generated key.
e2e_chart_values=(
  --set-json "queues=$(tr -d '\n' <tests/e2e/queues.json)"
  --set-string config.accountId=123456789012
  --set auth=sigv4
)

# `--skip NAME` for each scenario tests/e2e/kubesim-only.txt lists for all scripts or for
# script $1 (`external`), with --exact so that a name skips that test only.
e2e_skips() {
  local name where _
  echo --exact
  while read -r name where _; do
    [[ -z $name || $name == \#* ]] && continue
    if [[ $where == all || $where == "$1" ]]; then echo --skip; echo "$name"; fi
  done <tests/e2e/kubesim-only.txt
}

# Exports BT_E2E_ACCESS_KEY_ID and BT_E2E_SECRET_ACCESS_KEY: the key the chart generated, from
# its Secret (kubectl with the current KUBECONFIG).
e2e_export_key() {
  local secret=$e2e_service-credentials
  BT_E2E_ACCESS_KEY_ID=$(kubectl -n "$e2e_namespace" get secret "$secret" -o jsonpath='{.data.accessKeyId}' | base64 -d)
  BT_E2E_SECRET_ACCESS_KEY=$(kubectl -n "$e2e_namespace" get secret "$secret" -o jsonpath='{.data.secretAccessKey}' | base64 -d)
  [[ -n $BT_E2E_ACCESS_KEY_ID && -n $BT_E2E_SECRET_ACCESS_KEY ]] || {
    echo "e2e: no generated key in Secret $e2e_namespace/$secret" >&2
    return 1
  }
  export BT_E2E_ACCESS_KEY_ID BT_E2E_SECRET_ACCESS_KEY
  export BT_E2E_DEFINITION_NAMESPACE=$e2e_namespace
}

# Runs the scenarios against the service at $1 (with BT_E2E_KUBECONFIG and the key exported),
# skipping what `e2e_skips $2` lists, $3 at a time; prints how many ran, and how many of the
# submit scenarios, from libtest's own lines. Its output goes to $4 too; more arguments are
# passed to the test binary (e.g. a filter).
e2e_run_scenarios() {
  local endpoint=$1 script=$2 threads=$3 log=$4
  local skips scenarios name
  mapfile -t skips < <(e2e_skips "$script")
  # A renamed scenario must not leave a line that skips nothing.
  scenarios=$(cargo test -q --test scenarios -- --list 2>/dev/null | sed -n 's/: test$//p')
  for name in $(grep -v '^#' tests/e2e/kubesim-only.txt | awk 'NF {print $1}'); do
    grep -qx "$name" <<<"$scenarios" || { echo "e2e: tests/e2e/kubesim-only.txt names no scenario: $name" >&2; return 1; }
  done
  BT_E2E_ENDPOINT=$endpoint cargo test --test scenarios -- --test-threads "$threads" "${skips[@]}" "${@:5}" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local ran submit
  ran=$(grep -cE '^test .* \.\.\. ok$' "$log" || true)
  submit=$(grep -cE '^test submit::.* \.\.\. ok$' "$log" || true)
  echo "e2e: $ran scenarios passed against $endpoint, $submit of them SubmitJob's (submit::*); $(((${#skips[@]} - 1) / 2)) skipped by tests/e2e/kubesim-only.txt"
  return "$status"
}
