"""`dpo-factory dispatch`: flow runs of the deployed per-language flow on a real local Prefect server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid

from flows.deployments import FLOW_NAME, PREFECT_FILE, PROJECT_ROOT, deployment_name
from tests.flows.test_deployments import prefect_api  # noqa: F401 - the real server fixture


def _dispatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flows.cli", "dispatch", *args]
    return subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def _deploy(env: dict[str, str]) -> None:
    prefect = shutil.which("prefect")
    for args in (
        ("work-pool", "create", "dpo-factory", "--type", "process"),
        ("variable", "set", "dpo_factory_repository", "https://example.invalid/dpo-factory.git"),
        ("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_FILE)),
    ):
        result = subprocess.run([prefect, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dispatch_creates_one_flow_run_per_language(prefect_api: dict[str, str]) -> None:  # noqa: F811
    missing = _dispatch(prefect_api, "nld")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"error: deployment aya-dpo-language/aya-dpo-nld not found on {prefect_api['PREFECT_API_URL']}: "
        "run `prefect deploy --all` first"
    )

    _deploy(prefect_api)
    result = _dispatch(prefect_api, "nld", "swh")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["nld", "swh"]
    run_ids = [uuid.UUID(line.rsplit("(", 1)[1].rstrip(")")) for line in lines]

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: prefect_api["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        deployments = [
            client.read_deployment_by_name(f"{FLOW_NAME}/{deployment_name(c)}") for c in ("nld", "swh")
        ]
        runs = [client.read_flow_run(run_id) for run_id in run_ids]
    assert [run.parameters["language"] for run in runs] == ["nld", "swh"]
    assert [run.deployment_id for run in runs] == [deployment.id for deployment in deployments]
    # Not waited for: no worker runs here, so they are still waiting for one.
    assert {run.state.type.value for run in runs} == {"SCHEDULED"}


def test_dispatch_errors_are_one_line(prefect_api: dict[str, str]) -> None:  # noqa: F811
    unknown = _dispatch(prefect_api, "xyz")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown language(s) xyz;")
    unreachable = _dispatch({**prefect_api, "PREFECT_API_URL": "http://127.0.0.1:9/api"}, "nld")
    assert unreachable.returncode == 1
    assert (
        unreachable.stderr.strip()
        == "error: cannot reach the Prefect API at http://127.0.0.1:9/api (ConnectError)"
    )
    no_api = {key: value for key, value in prefect_api.items() if key != "PREFECT_API_URL"}
    none = _dispatch(no_api, "nld")
    assert none.returncode == 1 and none.stderr.startswith(
        "error: no Prefect API to dispatch to: set PREFECT_API_URL"
    )


def test_run_against_a_lasting_server_is_one_flow_run_per_language(
    prefect_api: dict[str, str],  # noqa: F811
    tmp_path,
) -> None:
    """With PREFECT_API_URL, `run` records each language as its own `language_flow` run, as a
    deployment does: the coverage deployment's trigger listens for those runs' completion."""
    command = [sys.executable, "-m", "flows.cli", "run", "nld", "swh", "--source", "sample", "--offline"]
    command += ["--limit", "1", "--out", str(tmp_path)]
    result = subprocess.run(
        command, env=prefect_api, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentTaskRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: prefect_api["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True))
        )
        names = {flow.id: flow.name for flow in client.read_flows()}
    local = [
        run.parameters.get("language")
        for run in runs
        if names[run.flow_id] == FLOW_NAME and run.state.is_completed()
    ]
    assert sorted(local) == ["nld", "swh"]
    assert "aya-dpo-local" not in names.values()
