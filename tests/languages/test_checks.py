"""Whole-set config checks and the new-language scaffold."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from languages.checks import check_configs
from languages.scaffold import scaffold
from languages.schema import LANGUAGES_DIR, ConfigError, config_paths, config_problems, load_config_file
from tests.helpers import copy_configs


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return copy_configs(tmp_path / "languages")


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, key = dotted.split("__")
        for parent in parents:
            node = node[parent]
        node[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_configs_pass_every_check() -> None:
    assert check_configs(config_paths()) == []


def test_every_system_prompt_is_in_its_language() -> None:
    from tasks.langid import identify

    for path in config_paths():
        config = load_config_file(path)
        if not config.lid.checked:
            continue
        (prediction,) = identify([config.generation.system_prompt], config.lid.labels, config.lid.model)
        assert prediction.accepted_score >= config.lid.threshold, path.name


def test_cross_file_and_model_checks(configs: Path) -> None:
    _edit(configs / "deu.yaml", aya_language_codes=["deu", "nld"])
    _edit(configs / "fra.yaml", lid__labels=["fr", "klingon"])
    _edit(
        configs / "ita.yaml",
        generation__system_prompt="You are a helpful assistant. Answer in Italian please.",
    )
    _edit(configs / "spa.yaml", schedule__cron="0 3 * * 8")
    problems = check_configs(config_paths(configs))
    assert f'{configs / "spa.yaml"}: schedule: Invalid cron string: "0 3 * * 8"' in problems
    assert f"{configs / 'deu.yaml'}: aya_language_codes: 'nld' is also claimed by nld.yaml" in problems
    assert f"{configs / 'nld.yaml'}: aya_language_codes: 'nld' is also claimed by deu.yaml" in problems
    assert f"{configs / 'fra.yaml'}: lid.labels: 'klingon' is not a label of the lid176 model" in problems
    assert any(
        p.startswith(f"{configs / 'ita.yaml'}: generation.system_prompt: reads as 'en'") for p in problems
    )
    assert len(problems) == 5


def test_new_language_from_a_two_letter_code(configs: Path) -> None:
    path, notes = scaffold("af", configs)
    assert path == configs / "afr.yaml"
    config = load_config_file(path)
    assert (config.code, config.name, config.aya_language_codes) == ("afr", "Afrikaans", ["afr"])
    assert (config.lid.model, config.lid.labels) == ("lid176", ["af"])
    taken = {load_config_file(p).schedule.cron for p in config_paths(configs) if p != path}
    assert config.schedule.cron not in taken
    # The one thing left to a person is the system prompt, and validate says so.
    assert check_configs([path]) == [f"{path}: generation.system_prompt: still a TODO; write it in Afrikaans"]
    assert "write generation.system_prompt in Afrikaans" in notes[0]


@pytest.mark.parametrize(
    ("query", "code", "label"), [("Swahili", "swa", "sw"), ("swh", "swh", "sw"), ("pes", "pes", "fa")]
)
def test_names_and_individual_codes(configs: Path, query: str, code: str, label: str) -> None:
    (configs / f"{code}.yaml").unlink(missing_ok=True)
    path, _ = scaffold(query, configs)
    assert path.stem == code
    assert load_config_file(path).lid.labels == [label]


def test_language_lid176_cannot_identify_points_at_glotlid(configs: Path) -> None:
    path, notes = scaffold("zul", configs)
    config = load_config_file(path)
    assert (config.lid.model, config.lid.labels) == ("glotlid", ["zul_Latn"])
    assert any("lid.176 cannot identify Zulu" in note and "GlotLID" in note for note in notes)


def test_unknown_and_existing(configs: Path) -> None:
    with pytest.raises(ConfigError, match="unknown language 'qqq'"):
        scaffold("qqq", configs)
    with pytest.raises(ConfigError, match="nld.yaml already exists"):
        scaffold("nl", configs)


def test_new_language_command(configs: Path) -> None:
    result = CliRunner().invoke(app, ["new-language", "Afrikaans", "--languages-dir", str(configs)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "afr.yaml" in result.stdout
    assert config_problems(configs / "afr.yaml") == []
    result = CliRunner().invoke(app, ["new-language", "xx", "--languages-dir", str(configs)])
    assert result.exit_code == 1
    assert "error: unknown language 'xx'" in result.stderr


def test_languages_dir_is_the_shipped_folder() -> None:
    assert Path(__file__).resolve().parents[2] / "languages" == LANGUAGES_DIR
