"""Shared helpers of the client suites: the running service, kubectl, the AWS clients, polling.

Nothing here builds the binary: `scripts/test.sh` runs `cargo build --bin batch-terminator`
first, and `BT_BINARY` may point at another build.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TypeVar
from urllib.error import URLError
from urllib.request import urlopen

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
JOB_ID_LABEL = "batch-terminator.dev/job-id"
SERVING_LINE = "batch-terminator is serving the AWS Batch API at "

# The one switch between an open service and one that verifies SigV4 with the keys below.
# `none` until the auth work (`--auth sigv4 --credentials-file`) is on main.
AUTH = os.environ.get("BT_CLIENTS_AUTH", "sigv4")

T = TypeVar("T")


def binary() -> Path:
    if "BT_BINARY" in os.environ:
        return Path(os.environ["BT_BINARY"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "batch-terminator"


def tool(name: str) -> str:
    """A tool installed by scripts/setup-tools.sh: .tools/bin/kubectl, .venv/bin/aws."""
    for candidate in (REPO / ".tools" / "bin" / name, REPO / ".venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    return name


def eventually(check: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.1) -> T:
    """Polls `check` until it returns something truthy, or fails after `timeout` seconds with
    the last value (or exception) it saw."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = check()
            if last:
                return last  # type: ignore[return-value]
        except Exception as error:  # noqa: BLE001 - reported below if it persists
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# --- credentials ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """An access key the suites sign with, and what the service lets it do."""

    access_key_id: str
    secret_access_key: str
    namespaces: tuple[str, ...] = ("*",)
    operations: tuple[str, ...] = ("*",)

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }


# The key every test signs with: every namespace, every operation.
SUITE_KEY = Key("AKIACLIENTSUITE00001", "suite/secret/key/for/the/client/tests/0001")
# A key confined to one namespace, for AccessDeniedException.
CONFINED_NAMESPACE = "clients-confined"
CONFINED_KEY = Key(
    "AKIACLIENTCONFINED01", "confined/secret/key/for/the/client/tests/01", (CONFINED_NAMESPACE,)
)
KEYS = (SUITE_KEY, CONFINED_KEY)


def write_credentials(path: Path, keys: Iterable[Key]) -> None:
    """The `--credentials-file` of `--auth sigv4` (YAML, of which JSON is a part): access key
    ID -> secret, namespaces, operations."""
    doc = {
        "accessKeys": {
            k.access_key_id: {
                "secretAccessKey": k.secret_access_key,
                "namespaces": list(k.namespaces),
                "operations": list(k.operations),
            }
            for k in keys
        }
    }
    path.write_text(json.dumps(doc, indent=2))


def auth_args(workdir: Path, auth: str = AUTH) -> list[str]:
    match auth:
        case "none":
            # `serve --sim` runs without authentication unless told otherwise.
            return []
        case "sigv4":
            creds = workdir / "credentials.json"
            write_credentials(creds, KEYS)
            return ["--auth", "sigv4", "--credentials-file", str(creds)]
        case other:
            raise ValueError(f"BT_CLIENTS_AUTH must be none or sigv4, not {other!r}")


# --- the service ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str) -> int | None:
    try:
        with urlopen(url, timeout=2) as response:  # noqa: S310 - local URL
            return response.status
    except URLError as error:
        return getattr(error, "code", None)
    except OSError:
        return None


@dataclass
class Service:
    """`batch-terminator serve --sim` on free ports, with its embedded cluster's kubeconfig."""

    process: subprocess.Popen
    endpoint: str
    admin: str
    kubeconfig: Path
    log: Path
    args: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, workdir: Path, timeout: float = 60.0, auth: str = AUTH, tls: tuple[Path, Path] | None = None
    ) -> "Service":
        """With `tls` (certificate, key; the certificate names `localhost`), the API is HTTPS."""
        exe = binary()
        if not exe.exists():
            raise FileNotFoundError(f"{exe} is missing: run `cargo build --bin batch-terminator` first")
        workdir.mkdir(parents=True, exist_ok=True)
        kubeconfig = workdir / "kubeconfig"
        log = workdir / "service.log"
        api_port, admin_port = free_port(), free_port()
        args = [
            str(exe),
            "serve",
            "--sim",
            "--sim-kubeconfig",
            str(kubeconfig),
            "--listen",
            f"127.0.0.1:{api_port}",
            "--admin-listen",
            f"127.0.0.1:{admin_port}",
            *auth_args(workdir, auth),
        ]
        if tls is not None:
            args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATCH_TERMINATOR_")}
        with log.open("wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        api = f"https://localhost:{api_port}" if tls else f"http://127.0.0.1:{api_port}"
        service = cls(process, api, f"http://127.0.0.1:{admin_port}", kubeconfig, log, args)
        try:
            eventually(service._ready, "the service to be ready and seeded", timeout=timeout)
        except BaseException:
            service.stop()
            raise
        return service

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"batch-terminator exited with {self.process.returncode}:\n{self.output()}")
        # The line is printed once the demo Jobs exist, after the caches synced.
        return http_status(f"{self.admin}/readyz") == 200 and SERVING_LINE in self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a Prometheus counter over the series that carry `labels`."""
        with urlopen(f"{self.admin}/metrics", timeout=5) as response:  # noqa: S310
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
            if not m:
                continue
            series = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            if all(series.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


# --- the cluster ---------------------------------------------------------------------------


class Kube:
    """kubectl against the service's embedded cluster."""

    def __init__(self, kubeconfig: Path):
        self.kubeconfig = kubeconfig

    def run(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [tool("kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def server(self) -> str:
        return self.run("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")

    def create_namespace(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.run("create", "namespace", name)
        return name

    def create_job(
        self,
        namespace: str,
        name: str,
        *,
        job_id: str | None = None,
        suspend: bool = False,
        pod_annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        backoff_limit: int = 0,
    ) -> str:
        """Creates a Job and returns its Batch job ID: `job_id` as the job-id label, or the uid.

        Its pod runs until deleted (unless annotated), with a 1 s grace period so a terminated
        Job finishes quickly at the simulation's real-time scale."""
        all_labels = dict(labels or {})
        if job_id is not None:
            all_labels[JOB_ID_LABEL] = job_id
        manifest = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": all_labels},
            "spec": {
                "suspend": suspend,
                "backoffLimit": backoff_limit,
                "template": {
                    "metadata": {"annotations": pod_annotations or {}},
                    "spec": {
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
                    },
                },
            },
        }
        created = json.loads(self.run("create", "-o", "json", "-f", "-", input=json.dumps(manifest)))
        return job_id if job_id is not None else created["metadata"]["uid"]

    def job(self, namespace: str, name: str) -> dict:
        return json.loads(self.run("get", "job", name, "-n", namespace, "-o", "json"))

    def records(self, namespace: str) -> list[dict]:
        out = self.run("get", "jobterminations.batch-terminator.dev", "-n", namespace, "-o", "json")
        return json.loads(out)["items"]


# --- aws-cli -------------------------------------------------------------------------------


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout) if self.stdout.strip() else {}


def aws_env(key: Key) -> dict[str, str]:
    """The environment of an aws-cli run: only `key`, never the developer's own AWS setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(key.env())
    env.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
    )
    return env


def tls_files(workdir: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a `localhost` certificate it signed, made with the openssl CLI:
    (CA bundle, certificate, key)."""
    ca, ca_key = workdir / "ca.pem", workdir / "ca.key"
    cert, key, csr, ext = workdir / "tls.crt", workdir / "tls.key", workdir / "tls.csr", workdir / "tls.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "1", "-subj", "/CN=bt-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ext.write_text(
        "subjectAltName=DNS:localhost\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return ca, cert, key


def aws(endpoint: str, *args: str, key: Key = SUITE_KEY, clock_skew_minutes: float | None = None) -> CliResult:
    """`aws batch ARGS --endpoint-url ENDPOINT --region us-east-1 --output json`, signed with
    `key`; with `clock_skew_minutes`, aws-cli's clock is that far off."""
    command = [tool("aws")]
    if clock_skew_minutes is not None:
        command = [sys.executable, str(Path(__file__).parent / "aws_with_clock.py"), str(clock_skew_minutes)]
    result = subprocess.run(
        [*command, "batch", *args, "--endpoint-url", endpoint, "--region", REGION, "--output", "json"],
        env=aws_env(key),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)



def ok(result: CliResult) -> CliResult:
    """`result`, after asserting aws-cli exited 0."""
    assert result.returncode == 0, f"aws exited {result.returncode}: {result.stderr}"
    return result


def register_eks_definition(endpoint: str, name: str, exit_after: str) -> None:
    """An EKS job definition whose container kubesim's kubelet ends after `exit_after`
    seconds with code 0."""
    pod = {
        "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
        "metadata": {"annotations": {"kubesim.dev/exit-after": exit_after, "kubesim.dev/exit-code": "0"}},
    }
    ok(
        aws(
            endpoint,
            "register-job-definition",
            "--job-definition-name",
            name,
            "--type",
            "container",
            "--eks-properties",
            json.dumps({"podProperties": pod}),
        )
    )

# --- boto3 ---------------------------------------------------------------------------------


def boto3_client(endpoint: str, key: Key = SUITE_KEY, verify: str | None = None, **config: object):
    """boto3's Batch client; `verify` is a CA bundle for an HTTPS endpoint."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "batch",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        verify=verify,
        config=Config(**config) if config else None,
    )


def describe(batch, job_id: str) -> dict | None:
    jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
    return jobs[0] if jobs else None


def wait_status(batch, job_id: str, status: str, timeout: float = 30.0) -> dict:
    def check() -> dict | None:
        job = describe(batch, job_id)
        return job if job and job["status"] == status else None

    return eventually(check, f"job {job_id} to be {status}", timeout=timeout)
