"""boto3 against the running service: every operation, paging, and errors as boto3 raises them."""

from __future__ import annotations

import json
from urllib.request import Request, urlopen

import pytest
from botocore.exceptions import ClientError

from support import (
    REGION,
    boto3_client,
    describe,
    eventually,
    wait_status,
)

EXIT_AFTER = "kubesim.dev/exit-after"
EXIT_CODE = "kubesim.dev/exit-code"


def body(response: dict) -> dict:
    """The parsed response without boto3's ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def client_error(call, **params) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return raised.value


def test_terminate_running_job(batch, kube, ns):
    job_id = kube.create_job(ns, "etl", job_id=f"{ns}-etl")
    running = wait_status(batch, job_id, "RUNNING")
    assert running["isTerminated"] is False

    response = batch.terminate_job(jobId=job_id, reason="stopped by boto3")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["RequestId"]
    assert body(response) == {}
    failed = wait_status(batch, job_id, "FAILED")
    assert failed["statusReason"] == "stopped by boto3"
    assert failed["isTerminated"] is True
    assert failed["isCancelled"] is False
    assert failed["stoppedAt"] >= failed["startedAt"] >= failed["createdAt"]
    annotations = kube.job(ns, "etl")["metadata"]["annotations"]
    assert annotations["batch-terminator.dev/reason"] == "stopped by boto3"
    assert annotations["batch-terminator.dev/action"] == "terminate"


def test_terminate_twice_keeps_the_first_reason(batch, kube, ns):
    job_id = kube.create_job(ns, "twice", job_id=f"{ns}-twice")
    wait_status(batch, job_id, "RUNNING")

    batch.terminate_job(jobId=job_id, reason="first")
    batch.terminate_job(jobId=job_id, reason="second")

    assert wait_status(batch, job_id, "FAILED")["statusReason"] == "first"


def test_terminate_by_uid_when_the_job_has_no_id_label(batch, kube, ns):
    uid = kube.create_job(ns, "unlabelled")
    wait_status(batch, uid, "RUNNING")

    batch.terminate_job(jobId=uid, reason="by uid")

    failed = wait_status(batch, uid, "FAILED")
    assert (failed["jobId"], failed["jobName"], failed["statusReason"]) == (uid, "unlabelled", "by uid")


def test_cancel_runnable_job(batch, kube, ns):
    job_id = kube.create_job(ns, "queued", job_id=f"{ns}-queued", suspend=True)
    wait_status(batch, job_id, "RUNNABLE")

    response = batch.cancel_job(jobId=job_id, reason="not needed")

    assert body(response) == {}
    failed = wait_status(batch, job_id, "FAILED")
    assert failed["statusReason"] == "not needed"
    assert failed["isCancelled"] is True
    assert failed["isTerminated"] is False
    assert "startedAt" not in failed


def test_cancel_running_job_changes_nothing(batch, kube, ns):
    job_id = kube.create_job(ns, "busy", job_id=f"{ns}-busy")
    wait_status(batch, job_id, "RUNNING")

    response = batch.cancel_job(jobId=job_id, reason="too late")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    # CancelJob decides in the request: a RUNNING job gets no record and no annotation.
    assert kube.records(ns) == []
    assert "batch-terminator.dev/reason" not in kube.job(ns, "busy")["metadata"].get("annotations", {})
    job = describe(batch, job_id)
    assert (job["status"], job["isCancelled"]) == ("RUNNING", False)


def test_terminate_unknown_job_is_200(batch):
    response = batch.terminate_job(jobId="no-such-job-anywhere", reason="whatever")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert body(response) == {}


def test_describe_jobs(batch, kube, ns):
    running = kube.create_job(ns, "run", job_id=f"{ns}-run")
    queued = kube.create_job(ns, "wait", job_id=f"{ns}-wait", suspend=True)
    done = kube.create_job(ns, "done", job_id=f"{ns}-done", pod_annotations={EXIT_AFTER: "0", EXIT_CODE: "0"})
    broken = kube.create_job(ns, "broken", pod_annotations={EXIT_AFTER: "0", EXIT_CODE: "3"})
    wait_status(batch, running, "RUNNING")
    wait_status(batch, queued, "RUNNABLE")
    wait_status(batch, done, "SUCCEEDED")
    wait_status(batch, broken, "FAILED")

    jobs = batch.describe_jobs(jobs=[running, "unknown-id", queued, done, broken])["jobs"]

    by_id = {j["jobId"]: j for j in jobs}
    assert set(by_id) == {running, queued, done, broken}, "the unknown ID is left out"
    run = by_id[running]
    assert run["jobArn"] == f"arn:aws:batch:{REGION}:000000000000:job/{running}"
    assert run["jobName"] == "run"
    assert run["jobQueue"] == f"arn:aws:batch:{REGION}:000000000000:job-queue/{ns}"
    assert run["createdAt"] > 10**12, "epoch milliseconds"
    pod = run["eksProperties"]["podProperties"]
    assert pod["podName"].startswith("run-") and pod["nodeName"]
    [attempt] = run["eksAttempts"]
    assert (attempt["podName"], attempt["podNamespace"]) == (pod["podName"], ns)
    assert "startedAt" not in by_id[queued]
    assert by_id[done]["eksAttempts"][0]["containers"][0]["exitCode"] == 0
    failed = by_id[broken]
    assert failed["eksAttempts"][0]["containers"][0]["exitCode"] == 3
    assert failed["statusReason"], "a job that failed by itself says why"
    assert failed["isTerminated"] is False


def test_describe_jobs_with_no_known_ids(batch):
    assert batch.describe_jobs(jobs=["nope-1", "nope-2"])["jobs"] == []


def test_list_jobs_by_status_and_name(batch, kube, ns):
    running = [kube.create_job(ns, f"etl-{i}", job_id=f"{ns}-etl-{i}") for i in range(2)]
    other = kube.create_job(ns, "report", job_id=f"{ns}-report")
    queued = kube.create_job(ns, "etl-queued", job_id=f"{ns}-etl-queued", suspend=True)
    for job_id in [*running, other]:
        wait_status(batch, job_id, "RUNNING")
    wait_status(batch, queued, "RUNNABLE")

    def ids(**params) -> set[str]:
        response = batch.list_jobs(jobQueue=ns, **params)
        assert "nextToken" not in response
        return {s["jobId"] for s in response["jobSummaryList"]}

    assert ids() == {*running, other}, "no status and no filter lists RUNNING jobs"
    assert ids(jobStatus="RUNNABLE") == {queued}
    assert ids(jobStatus="SUCCEEDED") == set()
    assert ids(filters=[{"name": "JOB_NAME", "values": ["etl*"]}]) == {*running, queued}
    assert ids(filters=[{"name": "JOB_NAME", "values": ["report"]}]) == {other}
    summary = batch.list_jobs(jobQueue=ns, filters=[{"name": "JOB_NAME", "values": ["report"]}])["jobSummaryList"][0]
    assert summary["jobName"] == "report"
    assert summary["status"] == "RUNNING"
    assert summary["startedAt"] >= summary["createdAt"] > 10**12


def test_list_jobs_paginator_across_pages(batch, kube, ns):
    expected = {kube.create_job(ns, f"q-{i}", job_id=f"{ns}-q-{i}", suspend=True) for i in range(7)}
    eventually(
        lambda: {j["jobId"] for j in batch.describe_jobs(jobs=sorted(expected))["jobs"] if j["status"] == "RUNNABLE"}
        == expected,
        "all seven jobs to be RUNNABLE",
    )

    paginator = batch.get_paginator("list_jobs")
    pages = list(paginator.paginate(jobQueue=ns, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 3}))

    assert [len(p["jobSummaryList"]) for p in pages] == [3, 3, 1]
    assert all(p.get("nextToken") for p in pages[:-1])
    assert "nextToken" not in pages[-1], "the last page omits nextToken"
    ids = [s["jobId"] for p in pages for s in p["jobSummaryList"]]
    assert len(ids) == len(set(ids)) == 7, f"duplicates: {ids}"
    assert set(ids) == expected
    created = [s["createdAt"] for p in pages for s in p["jobSummaryList"]]
    assert created == sorted(created, reverse=True), "newest first"

    # build_full_result with MaxItems hands out botocore's own resumption token.
    first = paginator.paginate(jobQueue=ns, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 2, "MaxItems": 5})
    head = first.build_full_result()
    assert len(head["jobSummaryList"]) == 5 and head["NextToken"]
    rest = paginator.paginate(
        jobQueue=ns, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 2, "StartingToken": head["NextToken"]}
    ).build_full_result()
    assert "NextToken" not in rest
    resumed = [s["jobId"] for s in head["jobSummaryList"] + rest["jobSummaryList"]]
    assert resumed == ids


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        ("terminate_job", {"jobId": "some-job", "reason": ""}, "reason is required"),
        (
            "terminate_job",
            {"jobId": "some-job", "reason": "x" * 1025},
            "reason must be 1 to 1024 characters long, but it is 1025",
        ),
        ("cancel_job", {"jobId": "", "reason": "why"}, "jobId is required"),
        ("describe_jobs", {"jobs": [f"id-{i}" for i in range(101)]}, "jobs may list at most 100 items, but it lists 101"),
        ("list_jobs", {}, "jobQueue: one of jobQueue and arrayJobId is required"),
        ("list_jobs", {"jobQueue": "q", "maxResults": 0}, "maxResults"),
        ("list_jobs", {"jobQueue": "q", "jobStatus": "SLEEPING"}, "jobStatus"),
        ("list_jobs", {"jobQueue": "q", "nextToken": "not-a-token"}, "nextToken"),
    ],
)
def test_client_exception(batch, operation, params, message):
    error = client_error(getattr(batch, operation), **params)

    assert error.response["Error"]["Code"] == "ClientException"
    assert message in error.response["Error"]["Message"]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The modeled exception class matches too.
    assert isinstance(error, batch.exceptions.ClientException)


def test_a_reason_of_1024_characters_is_accepted(batch):
    response = batch.terminate_job(jobId="no-such-job", reason="é" * 1024)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_server_exception_when_kubernetes_fails(service, kube, ns, batch):
    job_id = kube.create_job(ns, "doomed", job_id=f"{ns}-doomed")
    wait_status(batch, job_id, "RUNNING")
    sim = kube.server()
    # Every write of a JobTermination record in this namespace fails with a 500.
    rules = {"rules": [{"namespaces": [ns], "resources": ["jobterminations"], "effect": {"type": "error", "code": 500}}]}
    urlopen(Request(f"{sim}/kubesim/faults", json.dumps(rules).encode(), {"content-type": "application/json"}))
    try:
        no_retry = boto3_client(service.endpoint, retries={"max_attempts": 1, "mode": "standard"})
        error = client_error(no_retry.terminate_job, jobId=job_id, reason="during an outage")
    finally:
        urlopen(Request(f"{sim}/kubesim/faults", method="DELETE"))

    assert error.response["Error"]["Code"] == "ServerException"
    assert error.response["Error"]["Message"]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert isinstance(error, batch.exceptions.ServerException)
    # Once Kubernetes answers again, boto3's retry of the same call succeeds.
    batch.terminate_job(jobId=job_id, reason="after the outage")
    assert wait_status(batch, job_id, "FAILED")["statusReason"] == "after the outage"
