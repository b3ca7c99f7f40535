"""Dataset cards: Hub-native metadata (language tags, licenses), the KTO format, quality and recipe text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import pytest
from huggingface_hub import DatasetCard

from languages.schema import Curation, LanguageConfig, LanguageID, load_language
from tasks.format.kto import build_kto
from tasks.format.views import build_dpo, build_raw, quality_stats
from tasks.llm.client import PLACEHOLDER_MODEL
from tasks.publish.cards import (
    EXAMPLE_MODEL,
    TRL_VERSION,
    build_curated_repo,
    build_raw_repo,
    hub_language,
    language_tags,
)
from tasks.publish.destination import write_local
from tasks.publish.licenses import data_license, model_license
from tasks.source.load import AYA_REPO, AYA_REVISION
from tests.tasks.format.test_views import RESULTS, _result
from tests.trl.card_code import python_blocks

REPORT = {
    "source": "the sample",
    "generation_model": "gen-model",
    "judge_model": "judge-model",
    "filter": {"rows_in": 20, "kept": 7, "dropped": {"empty_prompt": 13}},
}


def _repos(config: LanguageConfig, results: list[dict[str, Any]] = RESULTS, report: dict | None = None):
    report = dict(report or REPORT)
    raw = build_raw(results, "r1")
    dpo, drops = build_dpo(raw, config.curation)
    report["quality"] = quality_stats(raw, dpo)
    return build_raw_repo(config, raw, report), build_curated_repo(config, dpo, build_kto(dpo), drops, report)


def _metadata(card: str) -> dict[str, Any]:
    return DatasetCard(card).data.to_dict()


def _with_models(generator: str, judge: str) -> list[dict[str, Any]]:
    rows = []
    for row in RESULTS:
        row = {**row, "generation_model": generator, "model_name": judge}
        row["generation_models"] = ["human", generator]
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("code", "tags"),
    [("arb", ["ar", "arb"]), ("swh", ["sw", "swh"]), ("pes", ["fa", "pes"]), ("nld", ["nl", "nld"]),
     ("zho", ["zh", "zho"]), ("jpn", ["ja", "jpn"])],
)  # fmt: skip
def test_language_tags_are_what_the_hub_filters_by(code: str, tags: list[str]) -> None:
    """ISO 639-1 where one exists (the Hub's Arabic filter is `ar`, not `arb`), and the 639-3 code too."""
    config = load_language(code)
    assert language_tags(config) == tags
    raw, curated = _repos(config)
    assert _metadata(raw.card)["language"] == tags
    assert _metadata(curated.card)["language"] == tags


@pytest.mark.parametrize(
    ("code", "tag"), [("arb", "ar"), ("swh", "sw"), ("pes", "fa"), ("ceb", "ceb"), ("fil", "fil")]
)
def test_hub_language(code: str, tag: str) -> None:
    assert hub_language(code) == tag


def test_kto_is_conversational_and_loads_with_datasets(tmp_path: Path, dutch: LanguageConfig) -> None:
    _, curated = _repos(dutch)
    (folder,) = write_local([curated], tmp_path)
    kto = datasets.load_dataset(str(folder), "kto", split="train")
    pairs = datasets.load_dataset(str(folder), "default", split="train")
    assert kto.num_rows == 2 * pairs.num_rows
    assert kto.features["label"].dtype == "bool"
    for column, role in (("prompt", "user"), ("completion", "assistant")):
        assert [message["role"] for row in kto[column] for message in row] == [role] * kto.num_rows
    first = pairs[0]
    rows = [row for row in kto if row["id"] == first["id"]]
    assert {row["label"]: row["completion"] for row in rows} == {
        True: first["chosen"],
        False: first["rejected"],
    }
    assert all(
        row["prompt"] == first["prompt"] == [{"role": "user", "content": row["prompt"][0]["content"]}]
        for row in rows
    )
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "KTOTrainer(" in card and "DPOTrainer(" in card and "`completion` (the assistant's answer)" in card


def test_curated_card_names_the_tested_trl_and_the_current_imports(dutch: LanguageConfig) -> None:
    """The snippets themselves run in tests/flows/test_training.py; here, what they say."""
    _, curated = _repos(dutch)
    card = curated.card
    assert f"tested with TRL {TRL_VERSION}" in card
    assert "from trl.experimental.orpo import ORPOConfig, ORPOTrainer" in card
    assert not any("from trl import ORPO" in block for block in python_blocks(card))
    assert "from trl import DPOConfig, DPOTrainer" in card and "from trl import KTOConfig, KTOTrainer" in card
    assert card.count("use_cpu=True") >= 3  # the CPU hint, at every config
    assert "takes the prompt from the conversations" not in card  # it never did, for DPO
    assert card.count(f'model_id = "{EXAMPLE_MODEL}"') == 3
    assert card.count(f'load_dataset("{dutch.curated_repo}", "default", split="train")') == 3
    assert card.count(f'load_dataset("{dutch.curated_repo}", "kto", split="train")') == 2


def test_cards_carry_metadata_and_counts(tmp_path: Path, dutch: LanguageConfig) -> None:
    _, curated = _repos(dutch)
    data = _metadata(curated.card)
    assert {"dpo", "orpo", "kto", "synthetic", "distilabel", "aya"} <= set(data["tags"])
    assert [c["config_name"] for c in data["configs"]] == ["default", "kto"]
    assert "3 pairs and 6 KTO rows" in curated.card
    assert dutch.generation.system_prompt in curated.card
    assert "| `tie` | 1 |" in curated.card


@pytest.mark.parametrize("code", ["nld", "arb", "jpn", "yor"])
def test_cards_are_what_huggingface_hub_writes_back(code: str) -> None:
    """The card text is built without a parse round trip; `DatasetCard` reads and writes it unchanged."""
    for repo in _repos(load_language(code)):
        assert DatasetCard(repo.card).content == repo.card


def test_cards_name_the_canonical_aya_id(dutch: LanguageConfig) -> None:
    raw, curated = _repos(dutch)
    assert AYA_REPO == "CohereLabs/aya_dataset"
    assert _metadata(raw.card)["source_datasets"] == ["CohereLabs/aya_dataset"]
    assert _metadata(curated.card)["source_datasets"][0] == "CohereLabs/aya_dataset"
    for card in (raw.card, curated.card):
        assert (
            f"[CohereLabs/aya_dataset](https://huggingface.co/datasets/CohereLabs/aya_dataset) at revision `{AYA_REVISION}`"
            in card
        )
        assert "CohereForAI/aya_dataset" not in card


def test_license_of_llama_outputs(dutch: LanguageConfig) -> None:
    model = "meta-llama/Llama-3.3-70B-Instruct"
    raw, curated = _repos(
        dutch, _with_models(model, model), {**REPORT, "generation_model": model, "judge_model": model}
    )
    for card in (raw.card, curated.card):
        data = _metadata(card)
        assert data["license"] == "other"
        assert data["license_name"] == "apache-2.0-and-llama3.3"
        assert data["license_link"] == f"https://huggingface.co/{model}"
        assert "Llama 3.3 Community License" in card and "[Apache-2.0](" in card
        assert 'begins with "Llama"' in card
    assert "- **LLM answers; ratings and rationales**: `meta-llama/" in raw.card
    assert "- **LLM answers; ratings (which answer is chosen)**: `meta-llama/" in curated.card


def test_license_when_every_model_is_apache(dutch: LanguageConfig) -> None:
    model = "Qwen/Qwen2.5-7B-Instruct"
    raw, curated = _repos(
        dutch, _with_models(model, model), {**REPORT, "generation_model": model, "judge_model": model}
    )
    for card in (raw.card, curated.card):
        data = _metadata(card)
        assert data["license"] == "apache-2.0" and "license_name" not in data
        assert f"`{model}`, [Apache-2.0](" in card


def test_license_of_an_unknown_model_says_so(dutch: LanguageConfig) -> None:
    raw, curated = _repos(dutch)  # gen-model and judge-model
    for card in (raw.card, curated.card):
        data = _metadata(card)
        assert data["license"] == "other"
        assert data["license_name"] == "apache-2.0-and-unknown-model-terms"
        assert "- **LLM answers**: `gen-model`, **license unknown**" in card


def test_offline_placeholder_says_no_model_output_is_included(dutch: LanguageConfig) -> None:
    placeholder = {**REPORT, "generation_model": PLACEHOLDER_MODEL, "judge_model": PLACEHOLDER_MODEL}
    raw, curated = _repos(dutch, _with_models(PLACEHOLDER_MODEL, PLACEHOLDER_MODEL), placeholder)
    for card in (raw.card, curated.card):
        assert _metadata(card)["license"] == "apache-2.0"
        assert "No model output is included" in card


def test_mixed_generators_across_runs_are_all_named() -> None:
    result = data_license(
        ["google/gemma-2-9b-it", "meta-llama/Meta-Llama-3-8B-Instruct"], ["openai/gpt-oss-120b"]
    )
    assert result.metadata == {
        "license": "other",
        "license_name": "apache-2.0-and-gemma-and-llama3",
        "license_link": "https://ai.google.dev/gemma/terms",
    }
    assert "Gemma Terms of Use" in result.section and "Meta Llama 3 Community License" in result.section
    assert "improve other large language models" in result.section


@pytest.mark.parametrize(
    ("model", "license_id"),
    [
        ("meta-llama/Llama-3.3-70B-Instruct", "llama3.3"),
        ("meta-llama/Llama-3.3-70B-Instruct:fireworks-ai", "llama3.3"),  # the router's provider suffix
        ("meta-llama/Llama-3.2-3B-Instruct", "llama3.2"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3.1"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "llama3.1"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "llama3"),
        ("Qwen/Qwen3-32B", "apache-2.0"),
        ("Qwen/Qwen2.5-7B-Instruct", "apache-2.0"),
        ("Qwen/Qwen2.5-72B-Instruct", "qwen"),
        ("Qwen/Qwen2.5-3B-Instruct", "qwen-research"),
        ("google/gemma-3-27b-it", "gemma"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "apache-2.0"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "apache-2.0"),
        ("openai/gpt-oss-20b", "apache-2.0"),
        ("deepseek-ai/DeepSeek-R1", "mit"),
        ("microsoft/phi-4", "mit"),
        ("CohereLabs/aya-expanse-32b", "cc-by-nc-4.0"),
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "apache-2.0"),
        ("mistralai/Mistral-Large-Instruct-2407", None),  # not in the table: unknown, never guessed
        ("deepseek-ai/DeepSeek-R1-Distill-Llama-70B", None),
        ("my-org/my-model", None),
        ("llama3.3:70b", None),  # an Ollama tag: not a Hub id
    ],
)
def test_license_table(model: str, license_id: str | None) -> None:
    found = model_license(model)
    assert (found.id if found else None) == license_id


def test_quality_section_reports_judge_errors_apart(dutch: LanguageConfig) -> None:
    results = [*RESULTS, _result("err", [None, None], status="failed", reason="judge_error")]
    _, curated = _repos(dutch, results)
    assert "- judge failures (unusable or misaligned judgements): 12.5%" in curated.card
    assert "- judge errors (the judge request itself failed" in curated.card and "12.5%" in curated.card


def test_unchecked_language_shows_as_not_checked(dutch: LanguageConfig) -> None:
    reason = "no offline model in the index knows this language"
    config = dutch.model_copy(update={"lid": LanguageID(model="none", reason=reason)})
    results = [_result("a", [2, 4], language_ok=None), _result("b", [5, 1], language_ok=None)]
    raw_repo, curated = _repos(config, results)
    assert "- LLM answers in the wrong language: not checked" in curated.card
    assert "0.0%" not in curated.card.split("## Quality")[1].split("\n")[2]
    assert f"- **Language ID**: not checked ({reason})" in curated.card
    assert "- **Language ID**: not checked" in raw_repo.card
    dpo = build_dpo(build_raw(results, "r"), Curation())[0]
    assert dpo.height == 2  # not dropped as wrong-language


def test_system_prompt_review_is_stated(dutch: LanguageConfig) -> None:
    _, curated = _repos(dutch)
    assert "not yet reviewed by a speaker of the language" in curated.card
    reviewed = dutch.model_copy(
        update={"generation": dutch.generation.model_copy(update={"system_prompt_reviewed": True})}
    )
    _, curated = _repos(reviewed)
    assert "(reviewed by a speaker of the language)" in curated.card
