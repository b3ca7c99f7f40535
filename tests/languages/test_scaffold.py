"""`dpo-factory new-language`: names, codes, an offline language-ID model, a quoted YAML file, a slot."""

from __future__ import annotations

from pathlib import Path

import langcodes
import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from languages.checks import check_configs
from languages.langid import OFFLINE_MODELS, identify, model_labels
from languages.scaffold import UNREADABLE, pick_model, scaffold, yaml_scalar
from languages.schema import LANGUAGES_DIR, ConfigError, config_paths, config_problems, load_config_file
from languages.slots import cron_at, slot_for, slot_minute
from tests.flows.test_contributor_path import LANGUAGES
from tests.helpers import copy_configs

# Short questions as people ask them, written for this project: lid.176 reads most as Danish.
BOKMAL_QUESTIONS = [
    "Hvem skrev Et dukkehjem?",
    "Hvor mange fylker har Norge i dag?",
    "Kan du anbefale en god bok å lese i påsken?",
    "Hva bør jeg ha med meg på en fjelltur?",
    "Hvordan lager man vafler?",
    "Hva er forskjellen på en fjord og en innsjø?",
    "Skriv et kort dikt om høsten.",
    "Hvilke dyr lever på Svalbard?",
    "Hvordan søker jeg om studielån?",
    "Når ble Norge selvstendig?",
]


# Languages these tests add as a contributor would; the shipped configs of those are left out.
ADDED = ("yor", "ibo", "hau", "wol", "kin", "zul", "nob")


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return copy_configs(tmp_path / "languages", without=ADDED)


def test_new_language_from_a_two_letter_code(configs: Path) -> None:
    path, notes = scaffold("af", configs)
    assert path == configs / "afr.yaml"
    config = load_config_file(path)
    assert (config.code, config.name, config.aya_language_codes) == ("afr", "Afrikaans", ["afr"])
    assert (config.lid.model, config.lid.labels) == ("lid176", ["af"])
    assert config.schedule.cron == slot_for("afr")
    # The one thing left to a person is the system prompt, and validate says so.
    assert check_configs([path]).problems == [
        f"{path}: generation.system_prompt: still a TODO; write it in Afrikaans"
    ]
    assert "write generation.system_prompt in Afrikaans" in notes[0]


@pytest.mark.parametrize(
    ("query", "code", "label"), [("Swahili", "swa", "sw"), ("swh", "swh", "sw"), ("pes", "pes", "fa")]
)
def test_names_and_individual_codes(configs: Path, query: str, code: str, label: str) -> None:
    (configs / f"{code}.yaml").unlink(missing_ok=True)
    path, _ = scaffold(query, configs)
    assert path.stem == code
    assert load_config_file(path).lid.labels == [label]


@pytest.mark.parametrize(
    ("query", "model", "labels"),
    [
        ("yo", "langid", ["yo"]),  # lid.176 and CLD3 have `yo` but cannot read tone-marked Yoruba
        ("rw", "langid", ["rw"]),  # only langid.py knows Kinyarwanda
        ("nb", "cld3", ["no"]),  # lid.176 reads short Bokmål as Danish
        ("zu", "cld3", ["zu"]),
        ("ha", "cld3", ["ha"]),
        ("nso", "langid", ["nso"]),
        ("nl", "lid176", ["nl"]),  # fastText first where it works
    ],
)
def test_an_offline_model_that_reads_the_language(
    configs: Path, query: str, model: str, labels: list
) -> None:
    language = langcodes.get(query)
    (configs / f"{language.to_alpha3()}.yaml").unlink(missing_ok=True)
    path, notes = scaffold(query, configs)
    config = load_config_file(path)
    assert (config.lid.model, config.lid.labels) == (model, labels)
    assert model in OFFLINE_MODELS
    if model != "lid176":
        assert any(note.startswith(f"lid.176 cannot check {config.name}") for note in notes)


def test_a_language_no_offline_model_knows_is_not_checked(configs: Path) -> None:
    path, notes = scaffold("wo", configs)
    config = load_config_file(path)
    assert (config.lid.model, config.lid.labels, config.lid.checked) == ("none", [], False)
    assert config.lid.reason.startswith("No offline language-ID model reads Wolof")
    assert any("its language is not checked" in note for note in notes)
    assert config_problems(path) == []


def test_models_the_scaffold_avoids_really_misread_the_language() -> None:
    """The evidence behind UNREADABLE, measured on text written in each language for this project."""
    texts = {code: [prompt] + [t for row in rows for t in row] for _, code, _, prompt, rows in LANGUAGES}
    texts["nob"] = BOKMAL_QUESTIONS
    label = {"yor": "yo", "nob": "no", "kin": "rw"}
    for code in ("yor", "nob"):
        for model in UNREADABLE[code]:
            passed = [p.accepted_score >= 0.5 for p in identify(texts[code], [label[code]], model)]
            assert sum(passed) <= len(passed) / 2, (code, model)
        chosen = pick_model(code, code)
        passed = [p.accepted_score >= 0.5 for p in identify(texts[code], chosen.labels, chosen.model)]
        assert sum(passed) >= 0.7 * len(passed), (code, chosen)


def yaml11_specials() -> list[str]:
    """Every label of every offline model that YAML 1.1 reads as something other than a string."""
    labels = {label for model in OFFLINE_MODELS for label in model_labels(model)}
    return sorted(label for label in labels if not isinstance(yaml.safe_load(f"x: {label}")["x"], str))


def test_yaml_11_booleans_among_the_labels_are_known() -> None:
    assert yaml11_specials() == ["no"]


@pytest.mark.parametrize(
    "value", ["no", "yes", "on", "off", "y", "n", "true", "null", "~", "1e3", "0o7", "nan"]
)
def test_scalars_are_quoted(value: str) -> None:
    assert yaml.safe_load(f"x: {yaml_scalar(value)}")["x"] == value


@pytest.mark.parametrize("label", yaml11_specials())
def test_scaffolded_label_stays_a_string(configs: Path, label: str) -> None:
    """`new-language nb` used to write `labels: [no]`, which YAML reads as the boolean false."""
    code = langcodes.get(label).to_alpha3()
    path, _ = scaffold(label, configs)
    assert path.stem == code and config_problems(path) == []
    assert load_config_file(path).lid.labels == [label]
    assert scaffold("nb", configs)[0].stem == "nob"
    assert load_config_file(configs / "nob.yaml").lid.labels == ["no"]


def test_odd_files_next_to_the_new_one_do_not_break_it(configs: Path) -> None:
    (configs / "yor.yaml").write_text("", encoding="utf-8")  # empty
    (configs / "kin.yaml").write_text("code: kin\nname: 'Ikinyarwanda\n", encoding="utf-8")  # broken
    (configs / "zul.yml").write_text("code: zul\n", encoding="utf-8")  # misnamed
    nld = yaml.safe_load((configs / "nld.yaml").read_text(encoding="utf-8"))
    del nld["schedule"]  # no schedule: not scheduled, still a valid config
    (configs / "nld.yaml").write_text(yaml.safe_dump(nld, allow_unicode=True), encoding="utf-8")
    path, _ = scaffold("ha", configs)
    assert config_problems(path) == []
    assert load_config_file(path).schedule.cron == slot_for("hau")


def test_a_taken_slot_moves_to_the_next_free_minute(configs: Path) -> None:
    nld = configs / "nld.yaml"
    cron = load_config_file(nld).schedule.cron
    nld.write_text(nld.read_text(encoding="utf-8").replace(cron, slot_for("afr")), encoding="utf-8")
    path, notes = scaffold("af", configs)
    assert load_config_file(path).schedule.cron == cron_at(slot_minute("afr") + 1)
    assert any("is taken by nld.yaml" in note for note in notes)
    assert check_configs([path]).problems[-1].endswith("still a TODO; write it in Afrikaans")


def test_parallel_contributors_never_collide(tmp_path: Path) -> None:
    """Two contributors scaffold in their own checkouts; merged, the schedules still differ."""
    first, second = copy_configs(tmp_path / "a", without=ADDED), copy_configs(tmp_path / "b", without=ADDED)
    one, _ = scaffold("yo", first)
    two, _ = scaffold("ig", second)
    (first / two.name).write_bytes(two.read_bytes())
    crons = [load_config_file(path).schedule.cron for path in config_paths(first)]
    assert len(set(crons)) == len(crons)
    assert [p for p in check_configs([one, first / two.name]).problems if "schedule" in p] == []


def test_unknown_and_existing(configs: Path) -> None:
    with pytest.raises(ConfigError, match="unknown language 'qqq'"):
        scaffold("qqq", configs)
    with pytest.raises(ConfigError, match="nld.yaml already exists"):
        scaffold("nl", configs)
    (configs / "yor.yml").write_text("code: yor\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"yor.yml exists but is not read: config files end in .yaml"):
        scaffold("yo", configs)


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
