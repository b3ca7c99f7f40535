"""prefect.yaml: generated from the configs, kept in step with them, and deployable to a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.deployments import (
    COVERAGE_CRON,
    COVERAGE_DEPLOYMENT,
    FLOW_NAME,
    PREFECT_FILE,
    PROJECT_ROOT,
    check,
    deployment_name,
    render,
)
from languages.schema import LANGUAGES_DIR, available_languages, config_paths, load_config_file
from languages.slots import slot_for, start_minutes
from tests.helpers import copy_configs


def test_shipped_prefect_yaml_is_current() -> None:
    assert check() is None


def test_check_fails_when_a_config_changes(tmp_path: Path) -> None:
    configs = tmp_path / "languages"
    shutil.copytree(LANGUAGES_DIR, configs, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    generated = tmp_path / "prefect.yaml"
    generated.write_text(render(configs), encoding="utf-8")
    assert check(generated, configs) is None
    nld = configs / "nld.yaml"
    cron = load_config_file(nld).schedule.cron
    nld.write_text(nld.read_text(encoding="utf-8").replace(f'cron: "{cron}"', 'cron: "30 7 * * 3"'))
    assert "out of date" in check(generated, configs)
    assert "missing" in check(tmp_path / "nope.yaml", configs)


def test_schedules_are_staggered() -> None:
    configs = [load_config_file(path) for path in config_paths()]
    starts = [start_minutes(c.schedule.five_fields, c.schedule.timezone) for c in configs if c.schedule]
    assert len(starts) >= 20
    assert len(frozenset().union(*starts)) == sum(map(len, starts))  # no two languages start together


def deployments(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["deployments", *map(str, args)])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result
    return result.exit_code, result.stdout, result.stderr


def test_odd_files_are_their_own_problem(tmp_path: Path) -> None:
    """An empty file, a `.yml`, a misnamed file, a config without schedule: the rest is still scheduled."""
    configs = copy_configs(tmp_path / "languages")
    (configs / "yor.yaml").write_text("", encoding="utf-8")
    (configs / "kin.yml").write_text("code: kin\n", encoding="utf-8")
    (configs / "yoruba.yaml").write_text((configs / "nld.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    nld = configs / "nld.yaml"
    nld.write_text(nld.read_text(encoding="utf-8").split("schedule:")[0], encoding="utf-8")
    target = tmp_path / "prefect.yaml"
    status, stdout, stderr = deployments("--write", "--languages-dir", configs, "--prefect-file", target)
    assert status == 1
    assert stderr.splitlines() == [
        f"error: {configs / 'yor.yaml'}: empty file; `dpo-factory new-language yor` writes a complete one",
        f"error: {configs / 'yoruba.yaml'}: code: 'nld' does not match the file name 'yoruba'",
        f"error: {configs / 'kin.yml'}: config files end in .yaml; rename it to kin.yaml",
    ]
    assert "wrote" in stdout and "without the 3 file problem(s) above" in stdout
    scheduled = [
        d["parameters"]["language"]
        for d in yaml.safe_load(target.read_text())["deployments"]
        if d["name"].startswith("aya-dpo-") and d["schedules"]
    ]
    # nld lost its schedule: still deployed (dispatch can run it), not scheduled.
    assert scheduled == sorted(set(available_languages(configs)) - {"yor", "yoruba", "nld"})
    status, _, stderr = deployments("--check", "--languages-dir", configs, "--prefect-file", target)
    assert status == 1 and len(stderr.splitlines()) == 3 and "out of date" not in stderr


def test_reslot_moves_every_cron_to_its_codes_slot(tmp_path: Path) -> None:
    configs = copy_configs(tmp_path / "languages")
    for i, path in enumerate(config_paths(configs)):  # placeholder crons, as a batch of new configs has
        cron = load_config_file(path).schedule.cron
        text = path.read_text(encoding="utf-8").replace(f'cron: "{cron}"', f'cron: "0 {i % 24} * * {i % 7}"')
        path.write_text(text, encoding="utf-8")
    target = tmp_path / "prefect.yaml"
    status, stdout, stderr = deployments("--reslot", "--languages-dir", configs, "--prefect-file", target)
    assert status == 0, stderr
    assert stdout.count("rescheduled ") == len(config_paths(configs))
    for path in config_paths(configs):
        config = load_config_file(path)
        assert config.schedule.cron == slot_for(config.code)
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# ") and f'cron: "{slot_for(config.code)}"  # ' in text  # comments kept
    assert check(target, configs) is None
    status, stdout, _ = deployments("--reslot", "--languages-dir", configs, "--prefect-file", target)
    assert status == 0 and "rescheduled" not in stdout  # a second run changes nothing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on 127.0.0.1 with a throwaway home, and the environment to reach it."""
    port = _free_port()
    # A server with Prefect's default services: the conftest turns two off for the temporary one only.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_SERVER_SERVICES_")}
    env |= {
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    }
    prefect = shutil.which("prefect")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the Prefect server did not start within 120 s")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_deploy_registers_one_limited_deployment_per_language(prefect_api: dict[str, str]) -> None:
    prefect = shutil.which("prefect")

    def cli(*args: str) -> None:
        result = subprocess.run(
            [prefect, *args], env=prefect_api, cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr

    cli("work-pool", "create", "dpo-factory", "--type", "process")
    cli("variable", "set", "dpo_factory_repository", "https://example.invalid/dpo-factory.git")
    cli("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_FILE))

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings({PREFECT_API_URL: prefect_api["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        deployments = {
            config.code: client.read_deployment_by_name(f"{FLOW_NAME}/{deployment_name(config.code)}")
            for config in map(load_config_file, config_paths())
        }
    registered = sorted(
        (d.parameters["language"], s.schedule.cron) for d in deployments.values() for s in d.schedules
    )
    expected = sorted(
        (config.code, config.schedule.cron)
        for config in map(load_config_file, config_paths())
        if config.schedule is not None
    )
    assert registered == expected
    deployment = deployments["nld"]
    assert all(s.active for s in deployment.schedules)
    assert deployment.work_pool_name == "dpo-factory"
    assert deployment.parameters == {"language": "nld", "source": "hub", "push": True}
    # One run per language at a time: a second one waits in the queue.
    assert deployment.global_concurrency_limit.limit == 1
    assert deployment.concurrency_options.collision_strategy == "ENQUEUE"
    assert deployment.pull_steps[0]["prefect.deployments.steps.git_clone"]["branch"] == "main"

    with (
        temporary_settings({PREFECT_API_URL: prefect_api["PREFECT_API_URL"]}),
        get_client(sync_client=True) as client,
    ):
        coverage = client.read_deployment_by_name(f"dpo-language-coverage/{COVERAGE_DEPLOYMENT}")
        automations = client.read_automations()
    assert [s.schedule.cron for s in coverage.schedules] == [COVERAGE_CRON]
    # The coverage report also runs after every completed language flow run.
    (automation,) = [
        a for a in automations if a.actions and getattr(a.actions[0], "deployment_id", None) == coverage.id
    ]
    assert automation.trigger.expect == {"prefect.flow-run.Completed"}
