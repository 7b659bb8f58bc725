"""aws-cli submitting jobs: register-job-definition, submit-job with --container-overrides and
--array-properties, describe-job-queues, as a user types them; the jobs run in kubesim."""

from __future__ import annotations

import json

from support import REGION, aws, ok, register_eks_definition, wait_status


def test_describe_job_queues_lists_the_demo_queue(endpoint):
    queues = ok(aws(endpoint, "describe-job-queues")).json()["jobQueues"]
    demo = next(q for q in queues if q["jobQueueName"] == "demo")
    assert demo["jobQueueArn"] == f"arn:aws:batch:{REGION}:000000000000:job-queue/demo"
    assert (demo["state"], demo["status"]) == ("ENABLED", "VALID")
    assert demo["computeEnvironmentOrder"][0]["order"] == 1
    by_arn = ok(aws(endpoint, "describe-job-queues", "--job-queues", demo["jobQueueArn"])).json()
    assert [q["jobQueueName"] for q in by_arn["jobQueues"]] == ["demo"]


def test_register_and_submit_an_array_job_with_overrides(endpoint, batch, ns):
    name = f"{ns}-crunch"
    registered = ok(
        aws(
            endpoint,
            "register-job-definition",
            "--job-definition-name",
            name,
            "--type",
            "container",
            "--parameters",
            "input=s3://default",
            "--container-properties",
            json.dumps(
                {
                    "image": "busybox",
                    "command": ["crunch", "Ref::input"],
                    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}],
                }
            ),
        )
    ).json()
    assert registered["revision"] == 1
    assert registered["jobDefinitionArn"] == f"arn:aws:batch:{REGION}:000000000000:job-definition/{name}:1"
    [definition] = ok(aws(endpoint, "describe-job-definitions", "--job-definition-name", name)).json()[
        "jobDefinitions"
    ]
    assert (definition["status"], definition["containerProperties"]["image"]) == ("ACTIVE", "busybox")

    submitted = ok(
        aws(
            endpoint,
            "submit-job",
            "--job-name",
            "crunch_all",
            "--job-queue",
            ns,
            "--job-definition",
            name,
            "--parameters",
            "input=s3://bucket/key",
            "--array-properties",
            "size=2",
            "--container-overrides",
            json.dumps({"environment": [{"name": "MODE", "value": "fast"}], "command": ["crunch", "Ref::input", "-v"]}),
        )
    ).json()
    assert submitted["jobName"] == "crunch_all"
    job_id = submitted["jobId"]
    wait_status(batch, job_id, "RUNNING")
    [job] = ok(aws(endpoint, "describe-jobs", "--jobs", job_id)).json()["jobs"]
    assert job["jobDefinition"] == registered["jobDefinitionArn"]
    assert job["arrayProperties"]["size"] == 2
    assert job["container"]["command"] == ["crunch", "s3://bucket/key", "-v"]
    assert {"name": "MODE", "value": "fast"} in job["container"]["environment"]
    assert job["parameters"] == {"input": "s3://bucket/key"}
    children = ok(aws(endpoint, "list-jobs", "--array-job-id", job_id)).json()["jobSummaryList"]
    assert sorted(c["jobId"] for c in children) == [f"{job_id}:0", f"{job_id}:1"]
    ok(aws(endpoint, "terminate-job", "--job-id", job_id, "--reason", "enough"))
    wait_status(batch, job_id, "FAILED")


def test_an_eks_job_runs_to_succeeded_and_another_to_failed(endpoint, batch, ns):
    name = f"{ns}-eks"
    register_eks_definition(endpoint, name, "1")
    good = ok(aws(endpoint, "submit-job", "--job-name", "good", "--job-queue", ns, "--job-definition", name)).json()
    failing = {"podProperties": {"metadata": {"annotations": {"kubesim.dev/exit-code": "3"}}}}
    bad = ok(
        aws(
            endpoint,
            "submit-job",
            "--job-name",
            "bad",
            "--job-queue",
            ns,
            "--job-definition",
            f"{name}:1",
            "--eks-properties-override",
            json.dumps(failing),
        )
    ).json()
    wait_status(batch, good["jobId"], "SUCCEEDED")
    wait_status(batch, bad["jobId"], "FAILED")
    [job] = ok(aws(endpoint, "describe-jobs", "--jobs", bad["jobId"])).json()["jobs"]
    assert job["attempts"][-1]["container"]["exitCode"] == 3
    assert job["eksProperties"]["podProperties"]["containers"][0]["image"] == "busybox"


def test_invalid_submissions_fail_naming_the_field(endpoint, ns):
    result = aws(endpoint, "submit-job", "--job-name", "x", "--job-queue", ns, "--job-definition", "no-such-definition")
    assert result.returncode == 255
    assert "(ClientException)" in result.stderr and "job definition no-such-definition not found" in result.stderr
    result = aws(
        endpoint,
        "submit-job",
        "--job-name",
        "x",
        "--job-queue",
        ns,
        "--job-definition",
        "d",
        "--array-properties",
        "size=1",
    )
    assert result.returncode == 255 and "arrayProperties" in result.stderr
