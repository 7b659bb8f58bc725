"""aws-cli (`aws batch ...`) against the running service, as a user types it."""

from __future__ import annotations

import pytest

from support import REGION, aws, ok, wait_status


def test_terminate_job(endpoint, batch, kube, ns):
    job_id = kube.create_job(ns, "etl", job_id=f"{ns}-etl")
    wait_status(batch, job_id, "RUNNING")

    result = ok(aws(endpoint, "terminate-job", "--job-id", job_id, "--reason", "stopped from aws-cli"))

    assert result.stdout.strip() == "", "an empty structure prints nothing"
    wait_status(batch, job_id, "FAILED")
    [job] = ok(aws(endpoint, "describe-jobs", "--jobs", job_id)).json()["jobs"]
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "stopped from aws-cli", True)


def test_cancel_job(endpoint, batch, kube, ns):
    job_id = kube.create_job(ns, "report", job_id=f"{ns}-report", suspend=True)
    wait_status(batch, job_id, "RUNNABLE")

    ok(aws(endpoint, "cancel-job", "--job-id", job_id, "--reason", "not this week"))

    wait_status(batch, job_id, "FAILED")
    [job] = ok(aws(endpoint, "describe-jobs", "--jobs", job_id)).json()["jobs"]
    assert (job["status"], job["statusReason"], job["isCancelled"]) == ("FAILED", "not this week", True)


def test_describe_jobs(endpoint, batch, kube, ns):
    running = kube.create_job(ns, "run", job_id=f"{ns}-run")
    queued = kube.create_job(ns, "wait", job_id=f"{ns}-wait", suspend=True)
    wait_status(batch, running, "RUNNING")
    wait_status(batch, queued, "RUNNABLE")

    jobs = ok(aws(endpoint, "describe-jobs", "--jobs", running, queued, "not-a-job")).json()["jobs"]

    assert {j["jobId"]: j["status"] for j in jobs} == {running: "RUNNING", queued: "RUNNABLE"}
    run = next(j for j in jobs if j["jobId"] == running)
    assert run["jobArn"] == f"arn:aws:batch:{REGION}:000000000000:job/{running}"
    assert run["jobQueue"] == f"arn:aws:batch:{REGION}:000000000000:job-queue/{ns}"
    assert run["eksAttempts"][0]["podNamespace"] == ns

    # --query runs on the client, over the same answer.
    text = aws(endpoint, "describe-jobs", "--jobs", running, "--query", "jobs[0].status")
    assert ok(text).stdout.strip() == '"RUNNING"'


@pytest.fixture
def five_queued(batch, kube, ns) -> list[str]:
    ids = [kube.create_job(ns, f"q-{i}", job_id=f"{ns}-q-{i}", suspend=True) for i in range(5)]
    for job_id in ids:
        wait_status(batch, job_id, "RUNNABLE")
    return ids


def test_list_jobs(endpoint, batch, kube, ns, five_queued):
    running = kube.create_job(ns, "busy", job_id=f"{ns}-busy")
    wait_status(batch, running, "RUNNING")

    default = ok(aws(endpoint, "list-jobs", "--job-queue", ns)).json()
    runnable = ok(aws(endpoint, "list-jobs", "--job-queue", ns, "--job-status", "RUNNABLE")).json()

    assert [s["jobId"] for s in default["jobSummaryList"]] == [running], "RUNNING when no status is given"
    assert sorted(s["jobId"] for s in runnable["jobSummaryList"]) == sorted(five_queued)
    assert "nextToken" not in runnable and "NextToken" not in runnable


def test_list_jobs_auto_pagination(endpoint, service, ns, five_queued):
    before = service.metric("batch_terminator_api_requests_total", operation="ListJobs")

    everything = ok(aws(endpoint, "list-jobs", "--job-queue", ns, "--job-status", "RUNNABLE", "--page-size", "2")).json()

    # aws-cli followed nextToken through three pages of 2, 2 and 1 and merged them.
    assert service.metric("batch_terminator_api_requests_total", operation="ListJobs") - before == 3
    ids = [s["jobId"] for s in everything["jobSummaryList"]]
    assert len(ids) == len(set(ids)) == 5 and set(ids) == set(five_queued)
    assert "NextToken" not in everything

    head = ok(
        aws(endpoint, "list-jobs", "--job-queue", ns, "--job-status", "RUNNABLE", "--page-size", "2", "--max-items", "3")
    ).json()
    assert len(head["jobSummaryList"]) == 3 and head["NextToken"]
    tail = ok(
        aws(
            endpoint,
            "list-jobs",
            "--job-queue",
            ns,
            "--job-status",
            "RUNNABLE",
            "--page-size",
            "2",
            "--starting-token",
            head["NextToken"],
        )
    ).json()
    assert "NextToken" not in tail
    assert [s["jobId"] for s in head["jobSummaryList"] + tail["jobSummaryList"]] == ids


@pytest.mark.parametrize(
    ("args", "operation", "message"),
    [
        (["terminate-job", "--job-id", "some-job", "--reason", ""], "TerminateJob", "reason is required"),
        (
            ["terminate-job", "--job-id", "some-job", "--reason", "x" * 1025],
            "TerminateJob",
            "reason must be 1 to 1024 characters long, but it is 1025",
        ),
        (["cancel-job", "--job-id", "", "--reason", "why"], "CancelJob", "jobId is required"),
        (["list-jobs"], "ListJobs", "jobQueue: one of jobQueue and arrayJobId is required"),
    ],
)
def test_client_exception(endpoint, args, operation, message):
    result = aws(endpoint, *args)

    assert result.returncode == 255
    assert result.stdout == ""
    assert result.stderr.strip() == f"An error occurred (ClientException) when calling the {operation} operation: {message}"


def test_missing_required_parameter_is_refused_by_aws_cli_itself(endpoint, service):
    before = service.metric("batch_terminator_api_requests_total", operation="TerminateJob")

    result = aws(endpoint, "terminate-job", "--job-id", "some-job")

    assert result.returncode != 0
    assert "--reason" in result.stderr
    assert service.metric("batch_terminator_api_requests_total", operation="TerminateJob") == before
