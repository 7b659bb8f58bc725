"""aws-cli and boto3 over HTTPS (`--tls-cert`/`--tls-key`), trusting the test's own CA."""

from __future__ import annotations

import pytest

from support import SUITE_KEY, Kube, Service, aws, boto3_client, tls_files, wait_status


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tls")
    ca, cert, key = tls_files(workdir)
    svc = Service.start(workdir, tls=(cert, key))
    yield svc, ca
    svc.stop()


def test_aws_cli_over_tls_with_a_ca_bundle(tls_service):
    service, ca = tls_service
    assert service.endpoint.startswith("https://localhost:")
    trusted = aws(service.endpoint, "describe-jobs", "--jobs", "no-such-job", "--ca-bundle", str(ca))
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.json() == {"jobs": []}
    # Without the CA the certificate is not trusted, and nothing is sent.
    untrusted = aws(service.endpoint, "describe-jobs", "--jobs", "no-such-job")
    assert untrusted.returncode != 0
    assert "SSL" in untrusted.stderr or "certificate" in untrusted.stderr, untrusted.stderr


def test_boto3_terminates_a_job_over_tls(tls_service):
    service, ca = tls_service
    kube = Kube(service.kubeconfig)
    ns = kube.create_namespace("c-tls")
    batch = boto3_client(service.endpoint, SUITE_KEY, verify=str(ca))
    job_id = kube.create_job(ns, "etl", job_id=f"{ns}-etl")
    wait_status(batch, job_id, "RUNNING")
    batch.terminate_job(jobId=job_id, reason="stopped over TLS")
    job = wait_status(batch, job_id, "FAILED")
    assert (job["statusReason"], job["isTerminated"]) == ("stopped over TLS", True)
