"""What the project publishes trains with real TRL, and loads as its cards say.

The datasets come from the CLI: `run --source sample --offline`, then `coverage` (tests/flows/conftest.py).
The training runs in `.venv-trl`, TRL's own environment (torch never enters the project's lock), built
by `make trl-env` (tests/trl/setup.sh, which `make test` runs first): tests/trl/train.py trains
DPOTrainer, ORPOTrainer and KTOTrainer for 2 steps on the written folders with a tiny random model,
runs the curated card's snippets, and reports the KL completions each KTOTrainer built, which are
checked here against the project's mirror of TRL's rotation. One subprocess per PYTHONHASHSEED: TRL's
format detection depends on string hashing, so a layout can pass under one seed and fail under another.

Without a built `.venv-trl` the training test fails; DPO_FACTORY_SKIP_TRL=1 makes it skip instead
(for machines without the CPU torch wheel).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import datasets
import polars as pl
import pytest

from tasks.format.kto import kl_partners, same_prompt_kl_pairs
from tasks.publish.cards import TRL_VERSION
from tests.trl.card_code import MODEL_ID, localized, python_blocks

ROOT = Path(__file__).resolve().parents[2]
TRL_VENV = ROOT / ".venv-trl"
TRAIN = ROOT / "tests" / "trl" / "train.py"
CARD_REPO = "aya_dutch_dpo"  # 7 pairs: an odd count, the last three pairs laid out together
TRAINED = ["aya_spanish_dpo"]  # 6 pairs


@pytest.fixture(scope="module")
def out(sample_published: tuple[Path, str]) -> Path:
    """The datasets a user gets from the CLI: `run nld jpn spa --offline`, then `coverage` (conftest)."""
    return sample_published[0] / "dpo-factory"


@pytest.mark.parametrize(
    ("repo", "variable"), [("aya_dutch_dpo_raw", "raw"), ("dpo-language-coverage", "coverage")]
)
def test_raw_and_coverage_load_as_their_cards_say(out: Path, repo: str, variable: str) -> None:
    """The card's python blocks, run as written but for the Hub id, give the repo's whole table."""
    folder = out / repo
    blocks = python_blocks((folder / "README.md").read_text(encoding="utf-8"))
    assert blocks, f"no python block in {repo}'s card"
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(localized(block, f"{folder.parent.name}/{folder.name}", str(folder)), namespace)
    loaded = namespace[variable]
    assert isinstance(loaded, datasets.Dataset)
    (data,) = folder.glob("data/train-*.parquet")
    table = pl.read_parquet(data)
    assert loaded.num_rows == table.height > 0
    assert loaded.column_names == table.columns


@pytest.fixture(scope="session")  # session: set up before the session-scoped CLI run it would skip
def trl_python() -> Path:
    """.venv-trl's python; checked before the datasets are made, so a skip costs nothing."""
    if os.environ.get("DPO_FACTORY_SKIP_TRL") == "1":
        pytest.skip("DPO_FACTORY_SKIP_TRL=1: the real-TRL training test is switched off")
    python = TRL_VENV / "bin" / "python"
    if not (TRL_VENV / ".stamp").is_file() or not python.is_file():
        pytest.fail(
            f"{TRL_VENV} is missing or was not finished: build it with `make trl-env` (tests/trl/setup.sh), "
            "or set DPO_FACTORY_SKIP_TRL=1 on a machine that cannot install torch 2.13.0 (CPU)",
            pytrace=False,
        )
    return python


def _kl_problems(record: dict[str, Any], where: str) -> list[str]:
    """The KL completions a real KTOTrainer built, against `kl_partners`, and pairs of one prompt."""
    ids, batch_size, built = record["ids"], record["batch_size"], record["kl_rows"]
    problems = []
    if record["rows"] != len(ids):
        problems.append(f"{where}: KTOTrainer dropped rows ({record['rows']} of {len(ids)})")
        return problems
    predicted = kl_partners(len(ids), batch_size)
    if any(partner not in rows for partner, rows in zip(predicted, built, strict=True)):
        problems.append(f"{where}: kl_partners does not match TRL's KL completions: {predicted} vs {built}")
    same = sum(any(ids[other] == ids[row] for other in rows) for row, rows in enumerate(built))
    if same or same_prompt_kl_pairs(ids, batch_size):
        problems.append(
            f"{where}: {same} of {len(ids)} rows get the other answer to their own prompt as KL completion "
            f"(same_prompt_kl_pairs says {same_prompt_kl_pairs(ids, batch_size)})"
        )
    return problems


@pytest.mark.parametrize("hash_seed", ["0", "1"])
def test_trl_trains_on_the_published_datasets(
    trl_python: Path, out: Path, tmp_path: Path, hash_seed: str
) -> None:
    result_file = tmp_path / "result.json"
    env = {
        **os.environ,
        "PYTHONHASHSEED": hash_seed,
        "HF_HOME": str(tmp_path / "hf-home"),  # the `datasets` cache and anything else stays in here
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    command = [str(trl_python), str(TRAIN), "--json", str(result_file), "--card-repo", str(out / CARD_REPO)]
    done = subprocess.run(
        [*command, *(str(out / repo) for repo in TRAINED)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard on a busy machine, not a timing check
    )
    log = f"\n--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-5000:]}"
    assert result_file.is_file(), f"train.py wrote no result (exit {done.returncode}){log}"
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert result["versions"]["trl"] == TRL_VERSION, result["versions"]

    problems = []
    for repo in result["repos"]:
        name = Path(repo["repo"]).name
        for trainer, run in repo.items():
            if isinstance(run, dict) and not run.get("ok", True):
                problems.append(f"{name} {trainer}: {run['error']} (at {run['raised_at']})")
            elif isinstance(run, dict) and "steps" in run and (run["steps"] != 2 or not run["finite"]):
                problems.append(f"{name} {trainer}: {run['steps']} steps, losses {run['losses']}")
        for record in repo["kl"]:
            problems += _kl_problems(record, f"{name} KTO batch size {record['batch_size']}")
    trainers = []
    for snippet in result["card"]:
        if not snippet["ok"]:
            problems.append(
                f"card snippet failed: {snippet['error']} (at {snippet['raised_at']})\n{snippet['code']}"
            )
            continue
        if "trainer" in snippet:
            trainers.append(snippet["trainer"])
            assert MODEL_ID.search(snippet["code"]), snippet["code"]
            if snippet["steps"] != 2:
                problems.append(f"card {snippet['trainer']}: {snippet['steps']} steps")
        if "kl" in snippet:
            problems += _kl_problems(
                snippet["kl"], f"card KTO snippet, batch size {snippet['kl']['batch_size']}"
            )
    if not problems:
        assert sorted(trainers) == ["DPOTrainer", "KTOTrainer", "ORPOTrainer"], trainers
    assert problems == [], "\n".join(problems)
    assert done.returncode == 0, log


def test_the_trl_pin_is_the_version_the_cards_name() -> None:
    """tests/trl/setup.sh pins trl to TRL_VERSION, read from its line in cards.py; the rest is pinned in tests/trl."""
    cards = (ROOT / "tasks" / "publish" / "cards.py").read_text(encoding="utf-8")
    assert re.findall(r'^TRL_VERSION = "([^"]*)"', cards, flags=re.MULTILINE) == [TRL_VERSION]
    requirements = (ROOT / "tests" / "trl" / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[\w.-]+==[\w.+]+", pin) for pin in pins), pins
    assert not any(pin.startswith("trl==") for pin in pins)
