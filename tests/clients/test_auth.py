"""SigV4 as boto3 and aws-cli meet it: a wrong secret, a stale date, an unknown key, and a key
used outside its namespaces. Runs when the suites' service verifies signatures
(`support.AUTH == "sigv4"`)."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest
from botocore.exceptions import ClientError

from support import AUTH, CONFINED_KEY, CONFINED_NAMESPACE, SUITE_KEY, Key, aws, boto3_client, wait_status

pytestmark = pytest.mark.skipif(AUTH != "sigv4", reason="the suites' service runs with --auth none")

WRONG_SECRET = Key(SUITE_KEY.access_key_id, "not/the/secret/of/this/key/at/all/000000")
UNKNOWN_KEY = Key("AKIANOSUCHKEY0000001", "whatever/secret/000000000000000000000000")
# One attempt: botocore retries some signature errors, and the answer would not change.
NO_RETRY = {"retries": {"max_attempts": 1, "mode": "standard"}}


@pytest.fixture(scope="module")
def confined_ns(kube) -> str:
    try:
        kube.run("create", "namespace", CONFINED_NAMESPACE)
    except RuntimeError as error:
        if "AlreadyExists" not in str(error):
            raise
    return CONFINED_NAMESPACE


def refused(call, **params) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return raised.value


def assert_error(error: ClientError, code: str, status: int = 403) -> None:
    assert error.response["Error"]["Code"] == code
    assert error.response["Error"]["Message"]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status


# --- boto3 ---------------------------------------------------------------------------------


def test_boto3_wrong_secret(endpoint, batch, kube, ns):
    job_id = kube.create_job(ns, "safe", job_id=f"{ns}-safe")
    wait_status(batch, job_id, "RUNNING")
    client = boto3_client(endpoint, WRONG_SECRET, **NO_RETRY)

    assert_error(refused(client.terminate_job, jobId=job_id, reason="not allowed"), "InvalidSignatureException")
    assert_error(refused(client.describe_jobs, jobs=[job_id]), "InvalidSignatureException")

    assert kube.records(ns) == [], "a refused request changes nothing"
    assert wait_status(batch, job_id, "RUNNING")["isTerminated"] is False


def test_boto3_unknown_key(endpoint):
    client = boto3_client(endpoint, UNKNOWN_KEY, **NO_RETRY)
    assert_error(refused(client.list_jobs, jobQueue="any"), "UnrecognizedClientException")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_boto3_stale_date(endpoint, monkeypatch, minutes):
    client = boto3_client(endpoint, SUITE_KEY, **NO_RETRY)
    real_now = botocore.auth.get_current_datetime
    # A correctly signed request, from a clock `minutes` off: X-Amz-Date and the scope agree.
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda *args, **kwargs: real_now(*args, **kwargs) + datetime.timedelta(minutes=minutes),
    )

    assert_error(refused(client.list_jobs, jobQueue="any"), "InvalidSignatureException")

    monkeypatch.undo()
    assert client.list_jobs(jobQueue="any")["jobSummaryList"] == [], "the same client with a right clock"


def test_boto3_key_outside_its_namespaces(endpoint, batch, kube, ns, confined_ns):
    outside = kube.create_job(ns, "theirs", job_id=f"{ns}-theirs")
    inside = kube.create_job(confined_ns, f"{ns}-ours", job_id=f"{ns}-ours")
    wait_status(batch, outside, "RUNNING")
    wait_status(batch, inside, "RUNNING")
    confined = boto3_client(endpoint, CONFINED_KEY, **NO_RETRY)

    assert_error(refused(confined.terminate_job, jobId=outside, reason="not mine"), "AccessDeniedException")
    assert_error(refused(confined.cancel_job, jobId=outside, reason="not mine"), "AccessDeniedException")
    assert_error(refused(confined.describe_jobs, jobs=[outside]), "AccessDeniedException")
    assert kube.records(ns) == []
    # A queue lists only the jobs of the key's namespaces.
    assert [s["jobId"] for s in batch.list_jobs(jobQueue=ns)["jobSummaryList"]] == [outside]
    assert confined.list_jobs(jobQueue=ns)["jobSummaryList"] == []

    confined.terminate_job(jobId=inside, reason="mine")
    assert wait_status(batch, inside, "FAILED")["statusReason"] == "mine"
    assert wait_status(batch, outside, "RUNNING")["isTerminated"] is False


# --- aws-cli -------------------------------------------------------------------------------


def assert_cli_error(result, code: str, operation: str) -> None:
    assert result.returncode == 255, result
    assert result.stderr.strip().startswith(f"An error occurred ({code}) when calling the {operation} operation: "), (
        result.stderr
    )


def test_awscli_wrong_secret(endpoint, batch, kube, ns):
    job_id = kube.create_job(ns, "safe", job_id=f"{ns}-safe")
    wait_status(batch, job_id, "RUNNING")

    result = aws(endpoint, "terminate-job", "--job-id", job_id, "--reason", "nope", key=WRONG_SECRET)

    assert_cli_error(result, "InvalidSignatureException", "TerminateJob")
    assert kube.records(ns) == []


def test_awscli_stale_date(endpoint):
    result = aws(endpoint, "list-jobs", "--job-queue", "any", clock_skew_minutes=-20)
    assert_cli_error(result, "InvalidSignatureException", "ListJobs")

    # The same wrapper with a right clock gets through.
    assert aws(endpoint, "list-jobs", "--job-queue", "any", clock_skew_minutes=0).returncode == 0


def test_awscli_key_outside_its_namespaces(endpoint, batch, kube, ns, confined_ns):
    outside = kube.create_job(ns, "theirs", job_id=f"{ns}-theirs")
    wait_status(batch, outside, "RUNNING")

    result = aws(endpoint, "terminate-job", "--job-id", outside, "--reason", "not mine", key=CONFINED_KEY)

    assert_cli_error(result, "AccessDeniedException", "TerminateJob")
    assert kube.records(ns) == []
    mine = aws(endpoint, "list-jobs", "--job-queue", confined_ns, key=CONFINED_KEY)
    assert mine.returncode == 0, mine.stderr
