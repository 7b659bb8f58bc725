"""aws-cli `submit-job --depends-on`, as a user types it: a job waits PENDING for the job it
depends on, runs once that SUCCEEDED, and FAILS with AWS's reason, without running, when it
FAILED; arrays with N_TO_N and SEQUENTIAL. The jobs run in kubesim."""

from __future__ import annotations

import json

from support import aws, describe, ok, register_eks_definition, wait_status

DEPENDENT_JOB_FAILED = "Dependent Job failed"


def submit(endpoint: str, ns: str, name: str, definition: str, *extra: str) -> str:
    args = ["submit-job", "--job-name", name, "--job-queue", ns, "--job-definition", definition, *extra]
    return ok(aws(endpoint, *args)).json()["jobId"]


FAIL_WITH_3 = json.dumps({"podProperties": {"metadata": {"annotations": {"kubesim.dev/exit-code": "3"}}}})


def test_a_job_waits_for_its_dependency_and_runs_after_it(endpoint, batch, ns):
    # Long enough for the aws-cli calls below (each starts a Python) to see it wait.
    register_eks_definition(endpoint, f"{ns}-slow", "15")
    register_eks_definition(endpoint, f"{ns}-quick", "1")
    first = submit(endpoint, ns, "extract", f"{ns}-slow")
    second = submit(endpoint, ns, "transform", f"{ns}-quick", "--depends-on", f"jobId={first}")

    wait_status(batch, second, "PENDING")
    [job] = ok(aws(endpoint, "describe-jobs", "--jobs", second)).json()["jobs"]
    assert job["status"] == "PENDING", job
    assert job["dependsOn"] == [{"jobId": first}]
    pending = ok(aws(endpoint, "list-jobs", "--job-queue", ns, "--job-status", "PENDING")).json()
    assert [j["jobId"] for j in pending["jobSummaryList"]] == [second]

    done_first = wait_status(batch, first, "SUCCEEDED")
    done_second = wait_status(batch, second, "SUCCEEDED")
    assert done_second["startedAt"] >= done_first["stoppedAt"]


def test_a_failed_dependency_fails_the_job_without_running_it(endpoint, batch, ns):
    register_eks_definition(endpoint, f"{ns}-quick", "1")
    failing = submit(
        endpoint, ns, "broken", f"{ns}-quick", "--eks-properties-override", FAIL_WITH_3
    )
    after = submit(endpoint, ns, "after", f"{ns}-quick", "--depends-on", f"jobId={failing}")
    wait_status(batch, failing, "FAILED")
    failed = wait_status(batch, after, "FAILED")
    assert failed["statusReason"] == DEPENDENT_JOB_FAILED
    assert "startedAt" not in failed
    assert failed["attempts"] == []


def test_array_dependencies(endpoint, batch, ns):
    register_eks_definition(endpoint, f"{ns}-quick", "1")
    first = submit(endpoint, ns, "first", f"{ns}-quick", "--array-properties", "size=2")
    paired = submit(
        endpoint,
        ns,
        "paired",
        f"{ns}-quick",
        "--array-properties",
        "size=2",
        "--depends-on",
        f"jobId={first},type=N_TO_N",
    )
    in_order = submit(
        endpoint, ns, "in-order", f"{ns}-quick", "--array-properties", "size=3", "--depends-on", "type=SEQUENTIAL"
    )
    wait_status(batch, first, "SUCCEEDED")
    assert wait_status(batch, paired, "SUCCEEDED")["dependsOn"] == [{"jobId": first, "type": "N_TO_N"}]
    done = wait_status(batch, in_order, "SUCCEEDED")
    assert done["dependsOn"] == [{"type": "SEQUENTIAL"}]
    children = [describe(batch, f"{in_order}:{i}") for i in range(3)]
    for before, after in zip(children, children[1:]):
        assert after["startedAt"] >= before["stoppedAt"], children
