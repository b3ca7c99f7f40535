"""Whole-folder config checks: what `dpo-factory validate` reports, for one file or for all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from languages.checks import check_configs, check_folder, has_placeholder
from languages.schema import config_paths, load_config_file
from languages.slots import describe_cron, slot_for
from tests.helpers import copy_configs

runner = CliRunner()


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return copy_configs(tmp_path / "languages")


def edit(path: Path, **changes: object) -> None:
    """Set dotted keys (`lid__model`) in a config file; None removes the key."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, key = dotted.split("__")
        for parent in parents:
            node = node[parent]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr


def test_shipped_configs_pass_every_check() -> None:
    findings = check_folder(config_paths()[0].parent)
    assert (findings.problems, findings.notes) == ([], [])


def test_every_system_prompt_is_in_its_language_by_its_own_model() -> None:
    from languages.langid import identify

    for path in config_paths():
        config = load_config_file(path)
        if config.lid.checked:
            (prediction,) = identify([config.generation.system_prompt], config.lid.labels, config.lid.model)
            assert prediction.accepted_score >= config.lid.threshold, path.name


def test_cross_file_and_model_checks(configs: Path) -> None:
    edit(configs / "deu.yaml", aya_language_codes=["deu", "nld"])
    edit(configs / "fra.yaml", lid__labels=["fr", "klingon"])
    edit(
        configs / "ita.yaml",
        generation__system_prompt="You are a helpful assistant. Answer in Italian please.",
    )
    edit(configs / "spa.yaml", schedule__cron="0 3 * * 8")
    problems = check_folder(configs).problems
    assert f'{configs / "spa.yaml"}: schedule.cron: Invalid cron string: "0 3 * * 8"' in problems
    claimed = "(two configs may share a code only with disjoint aya_language_names)"
    assert (
        f"{configs / 'deu.yaml'}: aya_language_codes: 'nld' is also claimed by nld.yaml {claimed}" in problems
    )
    assert (
        f"{configs / 'nld.yaml'}: aya_language_codes: 'nld' is also claimed by deu.yaml {claimed}" in problems
    )
    assert f"{configs / 'fra.yaml'}: lid.labels: 'klingon' is not a label of the lid176 model" in problems
    assert any(
        p.startswith(f"{configs / 'ita.yaml'}: generation.system_prompt: reads as 'en'") for p in problems
    )
    assert len(problems) == 5


def test_one_file_is_checked_against_its_whole_folder(configs: Path) -> None:
    """`validate FILE` (what CONTRIBUTING says to run) sees the other configs: Aya codes, repo ids, minutes."""
    new = configs / "afr.yaml"
    new.write_text((configs / "nld.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    edit(new, code="afr")  # a copy of Dutch that forgot to change anything else
    cron = load_config_file(new).schedule.cron
    problems = check_configs([new]).problems
    assert problems == [
        f"{new}: aya_language_codes: 'nld' is also claimed by nld.yaml "
        "(two configs may share a code only with disjoint aya_language_names)",
        f"{new}: name: repo id 'dpo-factory/aya_dutch_dpo_raw' is also the repo of nld.yaml; "
        "give the languages different names or namespaces",
        f"{new}: schedule.cron: '{cron}' starts in the same minute as nld.yaml's '{cron}': "
        f"{describe_cron(cron)}; its own slot '{slot_for('afr')}' ({describe_cron(slot_for('afr'))}) is free",
    ]
    # The same through the command, which exits non-zero and prints one line per problem.
    status, _, stderr = invoke("validate", new)
    assert status == 1 and stderr.splitlines() == problems


def test_same_aya_code_with_disjoint_names_is_fine(configs: Path) -> None:
    # Aya files Simplified and Traditional Chinese under one code: zho.yaml and cmn.yaml split it by name.
    traditional = configs / "cmn.yaml"
    assert load_config_file(traditional).aya_language_names == ["Traditional Chinese"]
    assert check_configs([traditional]).problems == []
    edit(traditional, aya_language_names=["Traditional Chinese", "Simplified Chinese"])
    (problem,) = check_configs([traditional]).problems
    assert problem.startswith(f"{traditional}: aya_language_codes: 'zho' is also claimed by zho.yaml")
    edit(traditional, aya_language_names=None)  # no names: every row of the code, so they overlap
    assert len(check_configs([traditional]).problems) == 1


def test_two_languages_in_the_same_minute_name_both_files(configs: Path) -> None:
    for path in configs.glob("*.yaml"):  # only these two are scheduled: no third one in that minute
        if path.stem not in {"nld", "spa"}:
            edit(path, schedule=None)
    edit(configs / "spa.yaml", schedule__cron="30 6 * * 3", schedule__timezone="Europe/Amsterdam")
    edit(configs / "nld.yaml", schedule__cron="30 5 * * *")  # daily 05:30 UTC: Wednesday too
    problems = check_folder(configs).problems
    assert problems == [
        f"{configs / 'nld.yaml'}: schedule.cron: '30 5 * * *' starts in the same minute as spa.yaml's "
        f"'30 6 * * 3' (Europe/Amsterdam): Wednesday 05:30 UTC; its own slot '{slot_for('nld')}' "
        f"({describe_cron(slot_for('nld'))}) is free",
        f"{configs / 'spa.yaml'}: schedule.cron: '30 6 * * 3' (Europe/Amsterdam) starts in the same minute as "
        f"nld.yaml's '30 5 * * *': Wednesday 05:30 UTC; its own slot '{slot_for('spa')}' "
        f"({describe_cron(slot_for('spa'))}) is free",
    ]


def test_repo_ids_the_hub_refuses(configs: Path) -> None:
    edit(configs / "nld.yaml", publish__namespace="a..b")
    (problem, _) = check_configs([configs / "nld.yaml"]).problems
    assert problem.startswith(
        f"{configs / 'nld.yaml'}: name: repo id 'a..b/aya_dutch_dpo_raw' is not valid on the Hub"
    )


def test_a_model_not_available_offline_is_a_note_not_a_crash(configs: Path) -> None:
    edit(configs / "swh.yaml", lid__model="glotlid", lid__labels=["swh_Latn"])
    edit(configs / "fra.yaml", lid__labels=["fr", "klingon"])  # another file's problem is still found
    findings = check_folder(configs)
    assert findings.notes == ["GlotLID not available offline: label and prompt checks skipped for swh.yaml"]
    assert findings.problems == [
        f"{configs / 'fra.yaml'}: lid.labels: 'klingon' is not a label of the lid176 model"
    ]
    status, stdout, _ = invoke("validate", configs / "swh.yaml")
    assert (
        status == 0
        and "GlotLID not available offline: label and prompt checks skipped for swh.yaml" in stdout
    )
    assert "Traceback" not in stdout


def test_model_none_skips_language_checks_and_says_nothing_wrong(configs: Path) -> None:
    reason = "No offline language-ID model reads Wolof (lid.176, CLD3 and langid.py were checked)."
    edit(configs / "swh.yaml", lid__model="none", lid__labels=[], lid__reason=reason, lid__threshold=None)
    findings = check_configs([configs / "swh.yaml"])
    assert (findings.problems, findings.notes) == ([], [])


def test_the_prompt_check_uses_the_configs_own_model(configs: Path) -> None:
    """A Yoruba prompt lid.176 cannot read passes with langid.py, the model the config names."""
    from tests.flows.test_contributor_path import YORUBA_PROMPT

    path = configs / "yor.yaml"
    path.write_text((configs / "nld.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    edit(path, code="yor", name="Yoruba", aya_language_codes=["yor"], schedule__cron=slot_for("yor"))
    edit(path, generation__system_prompt=YORUBA_PROMPT, lid__labels=["yo"])
    (problem,) = check_configs([path]).problems
    assert "generation.system_prompt: reads as" in problem and "with lid176" in problem
    edit(path, lid__model="langid")
    assert check_configs([path]).problems == []


@pytest.mark.parametrize(
    ("prompt", "placeholder"),
    [
        ("TODO: write the system prompt in Yoruba", True),
        ("todo: write the system prompt in Yoruba", True),
        ("Todo - translate this", True),
        ("[todo] Eres un asistente útil.", True),
        (
            "Eres un asistente útil. Responde todo en español, aunque la pregunta mencione otros idiomas.",
            False,
        ),
        ("Responde a todo con cuidado y en español.", False),
    ],
)
def test_placeholders_in_any_case_but_not_the_spanish_word(prompt: str, placeholder: bool) -> None:
    assert has_placeholder(prompt) is placeholder


def test_lowercase_todo_fails_validate(configs: Path) -> None:
    edit(configs / "nld.yaml", generation__system_prompt="todo: schrijf dit in het Nederlands")
    assert check_configs([configs / "nld.yaml"]).problems == [
        f"{configs / 'nld.yaml'}: generation.system_prompt: still a TODO; write it in Dutch"
    ]


def test_validate_takes_a_languages_dir_and_reports_odd_files(configs: Path) -> None:
    (configs / "yor.yaml").write_text("", encoding="utf-8")
    (configs / "kin.yml").write_text("code: kin\n", encoding="utf-8")
    status, _, stderr = invoke("validate", "--languages-dir", configs)
    assert status == 1
    assert stderr.splitlines() == [
        f"{configs / 'yor.yaml'}: empty file; `dpo-factory new-language yor` writes a complete one",
        f"{configs / 'kin.yml'}: config files end in .yaml; rename it to kin.yaml",
    ]
    status, stdout, _ = invoke("validate", configs / "nld.yaml", "--languages-dir", configs)
    assert (status, stdout.strip()) == (0, "1 language config(s) valid")


def test_one_file_is_checked_next_to_broken_ones(configs: Path) -> None:
    (configs / "yor.yaml").write_text("", encoding="utf-8")
    (configs / "kin.yaml").write_text("code: kin\nname: 'Ikinyarwanda\n", encoding="utf-8")
    status, stdout, stderr = invoke("validate", configs / "nld.yaml")
    assert (status, stdout.strip(), stderr) == (0, "1 language config(s) valid", "")
