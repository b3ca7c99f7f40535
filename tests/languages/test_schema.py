from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from languages.schema import (
    ConfigError,
    available_languages,
    config_paths,
    config_problems,
    load_config_file,
    load_language,
)
from tasks.langid import model_labels


@pytest.mark.parametrize("path", config_paths(), ids=lambda p: p.stem)
def test_every_shipped_config_is_valid(path: Path) -> None:
    assert config_problems(path) == []
    config = load_config_file(path)
    # Labels must be ones the configured fastText model can actually predict.
    assert set(config.lid.labels) <= model_labels(config.lid.model)
    assert config.code == path.stem


def test_ships_the_sample_languages() -> None:
    assert {"nld", "spa", "swh", "arb", "hin", "jpn"} <= set(available_languages())


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _valid() -> dict:
    return yaml.safe_load(Path("languages/nld.yaml").read_text(encoding="utf-8"))


def test_unknown_key_is_named_with_its_field(tmp_path: Path) -> None:
    data = _valid()
    data["filters"]["max_prompt_char"] = 10
    problems = config_problems(_write(tmp_path, "nld.yaml", data))
    assert problems == [f"{tmp_path / 'nld.yaml'}: filters.max_prompt_char: Extra inputs are not permitted"]


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    data = _valid()
    data["lid"]["threshold"] = 1.5
    del data["generation"]["system_prompt"]
    problems = config_problems(_write(tmp_path, "nld.yaml", data))
    assert len(problems) == 2
    assert any("lid.threshold" in p and "less than or equal to 1" in p for p in problems)
    assert any("generation.system_prompt: Field required" in p for p in problems)


def test_inverted_length_bounds(tmp_path: Path) -> None:
    data = _valid()
    data["filters"]["min_prompt_chars"] = 500
    data["filters"]["max_prompt_chars"] = 100
    (problem,) = config_problems(_write(tmp_path, "nld.yaml", data))
    assert "min_prompt_chars is larger than max_prompt_chars" in problem


def test_code_must_match_file_name(tmp_path: Path) -> None:
    (problem,) = config_problems(_write(tmp_path, "deu.yaml", _valid()))
    assert problem.endswith("code: 'nld' does not match the file name 'deu'")


def test_unparseable_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "nld.yaml"
    path.write_text("code: nld\nlid: [unclosed\n", encoding="utf-8")
    (problem,) = config_problems(path)
    assert problem.startswith(f"{path}: not valid YAML (line")


def test_yaml_cannot_build_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "nld.yaml"
    path.write_text("code: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    (problem,) = config_problems(path)
    assert "not valid YAML" in problem


def test_unknown_language_lists_the_configured_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown language 'xxx'.*configured: .*nld"):
        load_language("xxx")


def test_repo_names_and_hub_language() -> None:
    arabic = load_language("arb")
    assert arabic.raw_repo == "dpo-factory/aya_standard_arabic_dpo_raw"
    assert arabic.curated_repo == "dpo-factory/aya_standard_arabic_dpo"
    assert load_language("nld").hub_language == "nl"


@pytest.mark.parametrize("key", ["llm_class", "provider", "type"])
def test_a_config_cannot_name_a_client_class(tmp_path: Path, key: str) -> None:
    data = _valid()
    data["generation"][key] = "os.system"
    (problem,) = config_problems(_write(tmp_path, "nld.yaml", data))
    assert problem.endswith(f"generation.{key}: Extra inputs are not permitted")
