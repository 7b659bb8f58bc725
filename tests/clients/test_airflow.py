"""boto3 running the exact call sequence of Airflow's BatchOperator and BatchClientHook
(apache-airflow-providers-amazon: operators/batch.py, hooks/batch_client.py), reproduced call by
call rather than imported: submit, describe, poll until RUNNING, poll until finished, check
success; and terminate on kill. Only the waits are shortened (`DELAY_SCALE`).
"""

from __future__ import annotations

import random
import time

import pytest
from botocore.exceptions import ClientError

from support import AUTH, CONFINED_KEY, REGION, boto3_client

# Airflow's waits are seconds long (`1 + (tries * 0.6) ** 2`, jittered); the test keeps their
# shape at a hundredth of their length.
DELAY_SCALE = 0.01
MAX_RETRIES = 4200  # BatchClientHook.MAX_RETRIES
STATUS_RETRIES = 10  # BatchClientHook.STATUS_RETRIES
RUNNING_STATE, SUCCESS_STATE, FAILURE_STATE = "RUNNING", "SUCCEEDED", "FAILED"
INTERMEDIATE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", RUNNING_STATE)


class AirflowException(Exception):
    """Stands for airflow.exceptions.AirflowException."""


def trim_none_values(obj: dict) -> dict:
    """airflow.utils.helpers / providers' trim_none_values: drops None values only."""
    return {k: v for k, v in obj.items() if v is not None}


def exponential_delay(tries: int) -> float:
    """BatchClientHook.exponential_delay."""
    max_interval = 600.0
    delay = 1 + pow(tries * 0.6, 2)
    delay = min(max_interval, delay)
    return random.uniform(delay / 3, delay)


def pause(seconds: float) -> None:
    time.sleep(seconds * DELAY_SCALE)


class Hook:
    """The calls BatchClientHook makes, on a boto3 Batch client."""

    def __init__(self, client):
        self.client = client

    def parse_job_description(self, job_id: str, response: dict) -> dict:
        jobs = response.get("jobs", [])
        matching_jobs = [job for job in jobs if job.get("jobId") == job_id]
        if len(matching_jobs) != 1:
            raise AirflowException(f"AWS Batch job ({job_id}) description error: response: {response}")
        return matching_jobs[0]

    def get_job_description(self, job_id: str) -> dict:
        for retries in range(STATUS_RETRIES):
            if retries:
                pause(exponential_delay(retries))
            try:
                response = self.client.describe_jobs(jobs=[job_id])
                return self.parse_job_description(job_id, response)
            except AirflowException:
                # Airflow logs a warning and asks again: a job just submitted may not be
                # described yet (AWS, and this service's caches, are eventually consistent).
                pass
            except ClientError as err:
                # Only throttling is retried; anything else is raised.
                if err.response.get("Error", {}).get("Code") != "TooManyRequestsException":
                    raise
        raise AirflowException(f"AWS Batch job ({job_id}) description error: exceeded status_retries")

    def poll_job_status(self, job_id: str, match_status: list[str]) -> bool:
        for retries in range(1 + MAX_RETRIES):
            if retries:
                pause(exponential_delay(retries))
            job = self.get_job_description(job_id)
            if job.get("status") in match_status:
                return True
        raise AirflowException(f"AWS Batch job ({job_id}) status checks exceed max_retries")

    def poll_for_job_running(self, job_id: str) -> None:
        self.poll_job_status(job_id, [RUNNING_STATE, SUCCESS_STATE, FAILURE_STATE])

    def poll_for_job_complete(self, job_id: str) -> None:
        self.poll_job_status(job_id, [SUCCESS_STATE, FAILURE_STATE])

    def wait_for_job(self, job_id: str) -> None:
        pause(random.uniform(1, 3))  # BatchClientHook.delay() without a delay
        self.poll_for_job_running(job_id)
        self.poll_for_job_complete(job_id)

    def check_job_success(self, job_id: str) -> bool:
        job = self.get_job_description(job_id)
        job_status = job.get("status")
        if job_status == SUCCESS_STATE:
            return True
        if job_status == FAILURE_STATE:
            raise AirflowException(f"AWS Batch job ({job_id}) failed: {job}")
        if job_status in INTERMEDIATE_STATES:
            raise AirflowException(f"AWS Batch job ({job_id}) is not complete: {job}")
        raise AirflowException(f"AWS Batch job ({job_id}) has unknown status: {job}")


class Operator:
    """BatchOperator.submit_job, monitor_job and on_kill, with the operator's defaults
    (`parameters` and `tags` default to `{}`, everything else to None)."""

    def __init__(self, client, *, job_name, job_queue, job_definition, container_overrides=None,
                 array_properties=None, submit_job_timeout=None, retry_strategy=None):
        self.hook = Hook(client)
        self.job_name = job_name
        self.job_queue = job_queue
        self.job_definition = job_definition
        self.array_properties = array_properties
        self.parameters = {}
        self.tags = {}
        self.container_overrides = container_overrides
        self.ecs_properties_override = None
        self.eks_properties_override = None
        self.node_overrides = None
        self.retry_strategy = retry_strategy
        self.share_identifier = None
        self.scheduling_priority_override = None
        self.submit_job_timeout = submit_job_timeout
        self.job_id: str | None = None
        self.described: dict = {}

    def submit_job(self) -> None:
        args = {
            "jobName": self.job_name,
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition,
            "arrayProperties": self.array_properties,
            "parameters": self.parameters,
            "tags": self.tags,
            "containerOverrides": self.container_overrides,
            "ecsPropertiesOverride": self.ecs_properties_override,
            "eksPropertiesOverride": self.eks_properties_override,
            "nodeOverrides": self.node_overrides,
            "retryStrategy": self.retry_strategy,
            "shareIdentifier": self.share_identifier,
            "schedulingPriorityOverride": self.scheduling_priority_override,
        }
        if self.submit_job_timeout:
            args["timeout"] = {"attemptDurationSeconds": self.submit_job_timeout}
        response = self.hook.client.submit_job(**trim_none_values(args))
        self.job_id = response["jobId"]

    def describe_once(self) -> None:
        """monitor_job's first step: the definition and queue ARNs, for the operator's links."""
        job_desc = self.hook.get_job_description(self.job_id)
        try:
            self.described = {"jobDefinition": job_desc["jobDefinition"], "jobQueue": job_desc["jobQueue"]}
        except KeyError:
            # Airflow only warns.
            self.described = {}

    def monitor_job(self) -> None:
        self.describe_once()
        self.hook.wait_for_job(self.job_id)
        self.hook.check_job_success(self.job_id)

    def on_kill(self) -> dict:
        return self.hook.client.terminate_job(jobId=self.job_id, reason="Task killed by the user")


# --- the jobs ------------------------------------------------------------------------------


def register(batch, name: str, exit_after: str) -> str:
    """An EKS job definition whose container kubesim's kubelet ends after `exit_after`
    seconds (exit code 0 unless overridden); returns its ARN."""
    pod = {
        "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
        "metadata": {"annotations": {"kubesim.dev/exit-after": exit_after, "kubesim.dev/exit-code": "0"}},
    }
    response = batch.register_job_definition(
        jobDefinitionName=name, type="container", eksProperties={"podProperties": pod}
    )
    return response["jobDefinitionArn"]


def exit_code(code: int) -> dict:
    """An eksPropertiesOverride (BatchOperator's eks_properties_override) for this exit code."""
    return {"podProperties": {"metadata": {"annotations": {"kubesim.dev/exit-code": str(code)}}}}


def test_a_job_that_succeeds(batch, ns):
    arn = register(batch, f"{ns}-ok", "1")
    op = Operator(batch, job_name="airflow-ok", job_queue=ns, job_definition=f"{ns}-ok", submit_job_timeout=600)
    op.submit_job()
    op.monitor_job()
    assert op.described == {"jobDefinition": arn, "jobQueue": f"arn:aws:batch:{REGION}:000000000000:job-queue/{ns}"}
    job = op.hook.get_job_description(op.job_id)
    assert job["status"] == SUCCESS_STATE
    assert job["timeout"] == {"attemptDurationSeconds": 600}
    # Airflow sends `parameters={}` and `tags={}`: nothing to show.
    assert job.get("parameters", {}) == {}


def test_a_job_that_fails(batch, ns):
    register(batch, f"{ns}-bad", "1")
    op = Operator(
        batch,
        job_name="airflow-bad",
        job_queue=ns,
        job_definition=f"{ns}-bad",
        retry_strategy={"attempts": 2},
    )
    op.eks_properties_override = exit_code(3)
    op.submit_job()
    with pytest.raises(AirflowException, match=r"failed"):
        op.monitor_job()
    job = op.hook.get_job_description(op.job_id)
    assert job["status"] == FAILURE_STATE
    # Two attempts, each exiting 3, as retryStrategy asked.
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [3, 3]


def test_a_job_killed_while_running(batch, ns):
    register(batch, f"{ns}-long", "3600")
    op = Operator(batch, job_name="airflow-killed", job_queue=ns, job_definition=f"{ns}-long")
    op.submit_job()
    op.describe_once()
    op.hook.poll_for_job_running(op.job_id)
    assert op.hook.get_job_description(op.job_id)["status"] == RUNNING_STATE
    # The task is killed: Airflow calls on_kill.
    response = op.on_kill()
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    op.hook.poll_for_job_complete(op.job_id)
    with pytest.raises(AirflowException, match=r"failed"):
        op.hook.check_job_success(op.job_id)
    job = op.hook.get_job_description(op.job_id)
    assert job["status"] == FAILURE_STATE
    assert job["statusReason"] == "Task killed by the user"
    assert job["isTerminated"] is True


def test_a_description_that_matches_no_job_is_an_error(batch, ns):
    hook = Hook(batch)
    with pytest.raises(AirflowException, match=r"description error"):
        hook.get_job_description(f"{ns}-no-such-job")


def test_throttling_is_retried_and_other_errors_raised(batch, kube, endpoint, ns):
    """get_job_description retries TooManyRequestsException and raises every other
    ClientError at once: here the service's AccessDeniedException for a key confined to
    another namespace."""
    job_id = kube.create_job(ns, "someone-elses")
    calls = []

    class Throttled:
        """The service behind a throttle that refuses the first two calls."""

        def describe_jobs(self, jobs):
            calls.append(jobs)
            if len(calls) < 3:
                error = {"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}}
                raise ClientError(error, "DescribeJobs")
            return batch.describe_jobs(jobs=jobs)

    assert Hook(Throttled()).get_job_description(job_id)["jobId"] == job_id
    assert len(calls) == 3
    if AUTH != "sigv4":
        return
    confined = boto3_client(endpoint, CONFINED_KEY, retries={"max_attempts": 1})
    with pytest.raises(ClientError) as raised:
        Hook(confined).get_job_description(job_id)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
