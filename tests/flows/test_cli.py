"""Bad input: one clear line naming what is wrong, a non-zero exit, no traceback, nothing under --out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from languages.schema import LANGUAGES_DIR

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def assert_clean_failure(code: int, output: str, out: Path, expected: str) -> None:
    assert code != 0
    assert "Traceback" not in output
    (line,) = error_lines(output)
    assert expected in line, line
    assert not out.exists() or not any(out.iterdir())


def test_unknown_language(tmp_path: Path) -> None:
    code, output = invoke("run", "xyz", "--source", "sample", "--offline", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "error: unknown language(s) xyz; configured in" in output and "nld" in output
    assert not (tmp_path / "out").exists()


def test_no_language_named(tmp_path: Path) -> None:
    code, output = invoke("run", "--source", "sample", "--offline")
    assert code == 2
    assert "name at least one language" in output


def test_invalid_config_names_file_and_field(tmp_path: Path) -> None:
    configs = tmp_path / "languages"
    configs.mkdir()
    text = (LANGUAGES_DIR / "nld.yaml").read_text(encoding="utf-8").replace("threshold: 0.5", "threshold: 5")
    (configs / "nld.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code, output = invoke(
        "run", "nld", "--source", "sample", "--offline", "--out", str(out), "--languages-dir", str(configs)
    )
    assert_clean_failure(
        code, output, out, f"{configs / 'nld.yaml'}: lid.threshold: Input should be less than"
    )


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (b"\x00\x01 definitely not parquet", "aya.parquet", "aya.parquet: cannot read"),
        (json.dumps({"inputs": "x", "targets": "y"}).encode(), "aya.jsonl", "missing Aya column(s) language"),
    ],
)
def test_bad_sources(tmp_path: Path, content: bytes, name: str, expected: str) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "--source", str(source), "--offline", "--out", str(out))
    assert_clean_failure(code, output, out, expected)


def test_missing_source(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke(
        "run", "nld", "--source", str(tmp_path / "nope.jsonl"), "--offline", "--out", str(out)
    )
    assert_clean_failure(code, output, out, "nope.jsonl: no such file")


def test_nothing_left_after_filtering(tmp_path: Path, sample: pl.DataFrame) -> None:
    source = tmp_path / "french.parquet"
    sample.filter(pl.col("language_code") == "fra").write_parquet(source)
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "--source", str(source), "--offline", "--out", str(out))
    assert_clean_failure(code, output, out, "nld: 0 of 3 rows left after filtering (other_language_code 3)")


def test_one_failing_language_does_not_stop_the_others(tmp_path: Path, sample: pl.DataFrame) -> None:
    source = tmp_path / "japanese.parquet"
    sample.filter(pl.col("language_code") == "jpn").write_parquet(source)
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "jpn", "--source", str(source), "--offline", "--out", str(out))
    assert code == 1
    assert error_lines(output) == ["error: nld: 0 of 7 rows left after filtering (other_language_code 7)"]
    assert (out / "dpo-factory" / "aya_japanese_dpo" / "README.md").is_file()
    assert not (out / "dpo-factory" / "aya_dutch_dpo").exists()


def test_hub_source_offline_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = invoke("run", "nld", "--offline", "--out", str(out))
    assert_clean_failure(code, output, out, "CohereLabs/aya_dataset@f9ea04583f02: cannot load from the Hub")


def test_missing_token_fails_before_reading_data(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}}
    env["HF_HOME"] = str(tmp_path / "hf-home")  # no stored login either
    out = tmp_path / "out"
    result = subprocess.run(
        [
            shutil.which("dpo-factory") or sys.executable,
            "run",
            "nld",
            "--source",
            "sample",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert_clean_failure(
        result.returncode, output, out, "https://router.huggingface.co/v1 needs a Hugging Face token"
    )


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    broken = tmp_path / "nld.yaml"
    text = (LANGUAGES_DIR / "nld.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("threshold: 0.5", "threshold: -1\n  colour: red"), encoding="utf-8")
    code, output = invoke("validate", str(broken), str(LANGUAGES_DIR / "jpn.yaml"))
    assert code == 1
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines == [
        f"{broken}: lid.threshold: Input should be greater than or equal to 0",
        f"{broken}: lid.colour: Extra inputs are not permitted",
    ]


def test_validate_all_shipped_configs() -> None:
    code, output = invoke("validate")
    assert code == 0
    assert "language config(s) valid" in output


def test_heartbeats_are_off_only_for_the_temporary_server() -> None:
    """Heartbeats serve a lasting server that marks dead runs crashed; the temporary one dies with
    the command, and each flow run would pay up to a second for them."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.cli.prefect_server import flow_runs

    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None
    with flow_runs():
        assert get_current_settings().flows.heartbeat_frequency is None
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}), flow_runs():
        assert get_current_settings().flows.heartbeat_frequency == default
