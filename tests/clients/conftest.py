"""Fixtures of the aws-cli and boto3 suites: one service for the session, a namespace per test."""

from __future__ import annotations

import re

import pytest

from support import SUITE_KEY, Kube, Service, boto3_client


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Service:
    svc = Service.start(tmp_path_factory.mktemp("service"))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def kube(service) -> Kube:
    return Kube(service.kubeconfig)


@pytest.fixture(scope="session")
def endpoint(service) -> str:
    return service.endpoint


@pytest.fixture(scope="session")
def batch(service):
    """boto3's Batch client, signing with the suite's key."""
    return boto3_client(service.endpoint, SUITE_KEY)


@pytest.fixture
def ns(kube, request) -> str:
    """A fresh namespace, which is also the job queue of the Jobs created in it."""
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    return kube.create_namespace(f"c-{prefix}")
