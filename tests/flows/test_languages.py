"""`dpo-factory languages`: what the source holds, who claims it, and scaffolding what nobody does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from flows.cli import app
from languages.schema import LANGUAGES_DIR, load_config_file
from tasks.source.load import load_aya

runner = CliRunner()


def test_languages_of_the_sample() -> None:
    result = runner.invoke(app, ["languages", "--source", "sample", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    sample = load_aya("sample")
    expected = {
        (r["language"], r["language_code"]): r["len"]
        for r in sample.group_by("language", "language_code").len().to_dicts()
    }
    assert {(e["language"], e["language_code"]): e["rows"] for e in document["languages"]} == expected
    assert all(entry["config"] == entry["language_code"] for entry in document["languages"])
    assert document["unclaimed"] == []
    assert "deu" in document["configs_without_rows"] and "nld" not in document["configs_without_rows"]

    table = runner.invoke(app, ["languages", "--source", "sample"])
    assert table.exit_code == 0
    assert "Dutch" in table.stdout and "7 claimed, 0 unclaimed" in table.stdout


def test_unclaimed_languages_and_names(tmp_path: Path) -> None:
    configs = tmp_path / "languages"
    configs.mkdir()
    shutil.copy(LANGUAGES_DIR / "nld.yaml", configs)
    (configs / "bad.yaml").write_text("code: [", encoding="utf-8")  # reported, not fatal
    source = tmp_path / "aya.jsonl"
    rows = load_aya("sample").head(3).with_columns(language=pl.Series(["Dutch", "Flemish", "Dutch"]))
    rows.write_ndjson(source)
    result = runner.invoke(
        app, ["languages", "--source", str(source), "--languages-dir", str(configs), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "skipped:" in result.stderr and "bad.yaml" in result.stderr
    # No names in the config: both names of the code are its.
    assert [e["config"] for e in json.loads(result.stdout)["languages"]] == ["nld", "nld"]


def test_scaffold_every_unclaimed_code(tmp_path: Path) -> None:
    configs = tmp_path / "languages"
    configs.mkdir()
    shutil.copy(LANGUAGES_DIR / "nld.yaml", configs)
    result = runner.invoke(
        app, ["languages", "--source", "sample", "--languages-dir", str(configs), "--scaffold"]
    )
    assert result.exit_code == 0, result.output
    written = sorted(path.stem for path in configs.glob("*.yaml"))
    assert written == ["arb", "fra", "hin", "jpn", "nld", "spa", "swh"]
    assert all(load_config_file(configs / f"{code}.yaml").aya_language_codes == [code] for code in written)
    again = runner.invoke(app, ["languages", "--source", "sample", "--languages-dir", str(configs), "--json"])
    assert json.loads(again.stdout)["unclaimed"] == []
