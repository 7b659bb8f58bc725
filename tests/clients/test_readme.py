"""The README's aws-cli session is what aws-cli prints today."""

from __future__ import annotations

import readme_session
from support import Service


def test_readme_aws_cli_session_is_current(tmp_path):
    shown = readme_session.readme_block(readme_session.README.read_text())
    # A demo of its own: the session terminates the demo's Jobs.
    service = Service.start(tmp_path, auth="none")
    try:
        transcript = readme_session.run(service)
    finally:
        service.stop()

    assert "FAILED" in transcript and "(ClientException)" in transcript
    assert readme_session.masked(shown) == readme_session.masked(transcript), (
        "README.md's aws-cli session is stale: run `.venv/bin/python tests/clients/readme_session.py`"
    )


def test_readme_aws_cli_submit_session_is_current(tmp_path):
    readme = readme_session.README.read_text()
    shown = readme_session.readme_block(readme, readme_session.SUBMIT_BEGIN, readme_session.SUBMIT_END)
    service = Service.start(tmp_path, auth="none")
    try:
        transcript = readme_session.run(service, readme_session.SUBMIT_STEPS)
    finally:
        service.stop()

    assert "job-definition/report:1" in transcript and "RUNNING" in transcript
    assert "(ClientException)" in transcript and "arrayProperties" in transcript
    assert readme_session.masked(shown) == readme_session.masked(transcript), (
        "README.md's aws-cli submit session is stale: run `.venv/bin/python tests/clients/readme_session.py`"
    )
