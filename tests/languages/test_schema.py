from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from languages.langid import model_labels
from languages.schema import (
    LANGUAGES_DIR,
    ConfigError,
    available_languages,
    config_paths,
    config_problems,
    load_config_file,
    load_language,
    misnamed_paths,
)


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
    # The bracket opened on line 2; the parser only notices at the end of the file, line 3.
    assert problem == f"{path}: not valid YAML at line 2, column 6: a [ or {{ opened here is never closed"


KINYARWANDA = "Uri umufasha w'ingirakamaro. Subiza mu Kinyarwanda gusa."


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        # An apostrophe inside single quotes, as Kinyarwanda writes them.
        (
            f"code: kin\ngeneration:\n  system_prompt: '{KINYARWANDA}'\n",
            "line 3, column 34",
            "an apostrophe inside '...' ends the text early; write it twice (w''ingirakamaro)",
        ),
        # A quote left open swallows the lines below it until the next apostrophe (line 6).
        (
            "code: kin\nname: 'Kinyarwanda\nlid:\n  model: langid\n  labels: [rw]\n# it's here\n",
            "line 2, column 7",
            "the ' opened here is only closed on line 6",
        ),
        (
            'code: kin\ngeneration:\n  system_prompt: "Say "hi" to all"\n',
            "line 3, column 24",
            'a " inside "..." ends the text early',
        ),
        ("code: kin\nlid:\n\tmodel: lid176\n", "line 3, column 1", "a tab in the indentation"),
        ("code: kin\nname: Kinyarwanda: the language\n", "line 2, column 18", "put the value in quotes"),
        (
            'code: kin\nname: "Kin\nlid:\n  model: x\n',
            "line 2, column 7",
            'the " opened here is never closed',
        ),
    ],
    ids=["apostrophe", "runaway-quote", "double-quote", "tab", "colon", "unclosed-double"],
)
def test_yaml_errors_say_where_and_what_to_do(tmp_path: Path, text: str, where: str, hint: str) -> None:
    path = tmp_path / "kin.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = config_problems(path)
    assert problem.startswith(f"{path}: not valid YAML at {where}: ") and hint in problem, problem
    assert "<block end>" not in problem and "<scalar>" not in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty file; `dpo-factory new-language kin` writes a complete one"),
        ("# only a comment\n", "empty file; `dpo-factory new-language kin` writes a complete one"),
        ("- code: kin\n", "expected keys such as `code:` and `name:`, found a list"),
        ("Kinyarwanda\n", "expected keys such as `code:` and `name:`, found plain text"),
    ],
)
def test_files_without_keys(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "kin.yaml"
    path.write_text(text, encoding="utf-8")
    assert config_problems(path) == [f"{path}: {expected}"]


def test_yml_files_are_refused_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "nld.yml"
    path.write_text((LANGUAGES_DIR / "nld.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert config_problems(path) == [f"{path}: config files end in .yaml; rename it to nld.yaml"]
    assert misnamed_paths(tmp_path) == [path] and config_paths(tmp_path) == []
    with pytest.raises(ConfigError, match=r"nld.yml is not read: config files end in .yaml; rename it"):
        load_language("nld", tmp_path)


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 3 * * 1 0", "has 6 fields; a cron has five (minute hour day-of-month month day-of-week)"),
        ("0 3 * *", "has 4 fields; a cron has five"),
        ("@reboot", "'@reboot' is not a cron alias; use one of @yearly"),
        ("0 3 * * 8", 'Invalid cron string: "0 3 * * 8"'),
    ],
)
def test_cron_must_be_five_fields_or_an_alias(tmp_path: Path, cron: str, problem: str) -> None:
    data = _valid()
    data["schedule"]["cron"] = cron
    (found,) = config_problems(_write(tmp_path, "nld.yaml", data))
    assert found.startswith(f"{tmp_path / 'nld.yaml'}: schedule.cron: ") and problem in found, found


@pytest.mark.parametrize(("alias", "fields"), [("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *")])
def test_cron_aliases_are_supported(tmp_path: Path, alias: str, fields: str) -> None:
    data = _valid()
    data["schedule"]["cron"] = alias
    config = load_config_file(_write(tmp_path, "nld.yaml", data))
    assert (config.schedule.cron, config.schedule.five_fields) == (alias, fields)


def test_yaml_cannot_build_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "nld.yaml"
    path.write_text("code: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    (problem,) = config_problems(path)
    assert "not valid YAML" in problem


def test_unknown_language_lists_the_configured_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown language 'xxx'.*configured: .*nld"):
        load_language("xxx")


def test_repo_names() -> None:
    arabic = load_language("arb")
    assert arabic.raw_repo == "dpo-factory/aya_standard_arabic_dpo_raw"
    assert arabic.curated_repo == "dpo-factory/aya_standard_arabic_dpo"


def test_repo_slugs_of_shipped_configs_did_not_change() -> None:
    """Published repos keep their ids: the old rule on ASCII names gives the same slug."""
    for path in config_paths():
        config = load_config_file(path)
        assert config.slug == "_".join(config.name.lower().replace("-", " ").split()), path.name


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Norwegian Bokmål", "norwegian_bokmal"),
        ("Norwegian Nynorsk", "norwegian_nynorsk"),
        ("Moroccan Arabic (Darija)", "moroccan_arabic_darija"),
        ("Faroese Føroyskt", "fao"),  # `ø` has no ASCII form: the code is used
        ("Ελληνικά", "fao"),
    ],
)
def test_repo_slugs_are_ascii(tmp_path: Path, name: str, slug: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    data = _valid() | {"code": "fao", "name": name, "aya_language_codes": ["fao"]}
    config = load_config_file(_write(tmp_path, "fao.yaml", data))
    assert config.slug == slug
    validate_repo_id(config.raw_repo)
    validate_repo_id(config.curated_repo)


@pytest.mark.parametrize("key", ["llm_class", "provider", "type"])
def test_a_config_cannot_name_a_client_class(tmp_path: Path, key: str) -> None:
    data = _valid()
    data["generation"][key] = "os.system"
    (problem,) = config_problems(_write(tmp_path, "nld.yaml", data))
    assert problem.endswith(f"generation.{key}: Extra inputs are not permitted")
