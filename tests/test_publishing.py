"""The publishing workflow: valid for GitHub Actions, and doing what the README says it does.

It cannot run here (no GitHub); two linters from PyPI check it instead: check-jsonschema
against the GitHub workflow schema it ships, and zizmor's static analysis (offline).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PUBLISH = ROOT / ".github" / "workflows" / "publish.yml"


def tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed: run `make venv` (it is pinned in requirements-dev.txt)"
    return found


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_actions_schema(workflow):
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_zizmor(workflow):
    """Injection, credentials, permissions, unpinned actions (policy: .github/zizmor.yml)."""
    result = run(tool("zizmor"), "--offline", "--no-progress", str(workflow))
    assert result.returncode == 0, result.stdout + result.stderr


def steps(job: dict) -> list[str]:
    return [step.get("run", "") + step.get("uses", "") for step in job["steps"]]


def test_publishing_tests_then_builds_online_then_deploys_from_main():
    jobs = yaml.safe_load(PUBLISH.read_text())["jobs"]
    assert any("bash .ci/run" in s for s in steps(jobs["test"])), "the test job runs the README's make test"
    assert any(s.strip() == "make book" for s in steps(jobs["build"])), "the site is built with make book"
    assert jobs["build"]["needs"] == "test" and jobs["deploy"]["needs"] == "build"
    assert jobs["build"]["env"]["COURSE_PROFILE"] == "cpu"
    assert any("upload-pages-artifact" in s for s in steps(jobs["build"]))
    assert any("deploy-pages" in s for s in steps(jobs["deploy"]))
    assert "pull_request" in jobs["deploy"]["if"], "pull requests are tested but never published"
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_readme_says_how_the_site_is_published():
    readme = (ROOT / "README.md").read_text()
    assert "## Publishing the site" in readme and ".github/workflows/publish.yml" in readme
