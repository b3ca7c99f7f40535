"""Train real TRL trainers on curated dataset folders the project wrote. Runs in .venv-trl, not the project's venv.

    .venv-trl/bin/python tests/trl/train.py --json RESULT.json [--card-repo DIR] [REPO_DIR...]

Builds a byte-level BPE tokenizer with a ChatML template and a tiny random Qwen2 model (nothing is
downloaded). For each REPO_DIR (a curated repo folder `<out>/<namespace>/<name>`, laid out like a Hub
dataset repo) it trains `--steps` steps each of DPOTrainer and ORPOTrainer on config `default` and
KTOTrainer on config `kto`, and records the KL completions KTOTrainer built, at more batch sizes too
(built, not trained). With `--card-repo` it records that repo's KL completions the same way and runs
the python blocks of its card (README.md) as written, but for the Hub id (the local folder) and the
card's `model_id` (the tiny model), with TEST_SETTINGS in TRL's configs. Called by
tests/flows/test_training.py, which checks the JSON against the project's own code. Exit code 0 when
every trainer and snippet ran, 1 otherwise; the JSON says what failed and where.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
# Read at import time by the libraries below: no Hub, no telemetry, no fork warnings, quiet logs.
for key, value in {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRL_EXPERIMENTAL_SILENCE": "1",
    "WANDB_DISABLED": "true",
}.items():
    os.environ.setdefault(key, value)

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
import trl.experimental.orpo  # noqa: E402
from card_code import localized, python_blocks  # noqa: E402  (tests/trl, the script's folder)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM  # noqa: E402
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer  # noqa: E402
from trl.experimental.orpo import ORPOConfig, ORPOTrainer  # noqa: E402

IMPORT_SECONDS = round(time.perf_counter() - STARTED, 2)
datasets.disable_caching()  # every map() runs: no result reused across runs or hash seeds
datasets.disable_progress_bars()
transformers.utils.logging.disable_progress_bar()

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# What this test changes in every TRL config, the card snippets' included: this machine has no GPU
# (the card's own hint: use_cpu=True), a test needs only a few steps, and nothing is saved or reported.
TEST_SETTINGS: dict[str, Any] = {
    "use_cpu": True,
    "save_strategy": "no",
    "report_to": "none",
    "disable_tqdm": True,
    "logging_steps": 1,
    "dataloader_num_workers": 0,
}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _texts(item)]


def build_model(corpus: list[str], folder: Path) -> Path:
    """A byte-level BPE tokenizer (any script, no unknown tokens) with a ChatML template, and a tiny
    random Qwen2, saved together: TRL rebuilds the reference model from the model's path, so a model
    made in memory (with no path) would not do."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([*corpus, "user assistant"], trainer=bpe)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id,
        bos_token_id=None,
    )
    Qwen2ForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def _failure(error: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    where = next(
        (
            f"{f.filename.split('site-packages/')[-1]}:{f.lineno}"
            for f in reversed(frames)
            if "site-packages" in f.filename
        ),
        None,
    )
    return {"ok": False, "error": f"{type(error).__name__}: {error}", "raised_at": where}


def _trained(trainer: Any) -> dict[str, Any]:
    result = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "ok": True,
        "steps": result.global_step,
        "losses": losses,
        "finite": all(map(math.isfinite, losses)),
    }


def kl_record(trainer: Any, ids: list[str]) -> dict[str, Any]:
    """For each row, the rows whose completion is the KL completion KTOTrainer gave it (several when
    two rows have the same completion tokens)."""
    prepared = trainer.train_dataset
    completions = [tuple(c) for c in prepared["completion_ids"]]
    candidates = [
        [row for row, completion in enumerate(completions) if completion == tuple(kl)]
        for kl in prepared["KL_completion_ids"]
    ]
    return {
        "batch_size": trainer.args.per_device_train_batch_size,
        "ids": ids,
        "rows": len(completions),
        "kl_rows": candidates,
    }


def train_repo(
    repo: Path, model_dir: str, steps: int, kto_batch_sizes: list[int], workdir: Path, train: bool = True
) -> dict[str, Any]:
    """DPO and ORPO on `default`, KTO on `kto` at the first batch size, each `steps` steps; KTOTrainers
    at every batch size are built for their KL pairs. With `train` false, only the KL pairs."""
    pairs = datasets.load_dataset(str(repo), "default", split="train")
    unpaired = datasets.load_dataset(str(repo), "kto", split="train")
    common = {**TEST_SETTINGS, "max_steps": steps, "max_length": 256, "learning_rate": 1e-4, "seed": 0}
    record: dict[str, Any] = {
        "repo": str(repo),
        "default_columns": pairs.column_names,
        "kto_columns": unpaired.column_names,
    }

    def model() -> Any:
        return AutoModelForCausalLM.from_pretrained(model_dir)  # fresh weights for each trainer

    # (name, trainer factory, train it)
    runs = [] if not train else [
        ("dpo", lambda out: DPOTrainer(
            model=model(), args=DPOConfig(output_dir=out, per_device_train_batch_size=2, **common), train_dataset=pairs
        ), True),
        ("orpo", lambda out: ORPOTrainer(
            model=model(),
            args=ORPOConfig(output_dir=out, per_device_train_batch_size=2, remove_unused_columns=False, **common),
            train_dataset=pairs,
        ), True),
    ]  # fmt: skip
    for position, batch_size in enumerate(kto_batch_sizes):
        runs.append((f"kto_bs{batch_size}", lambda out, b=batch_size: KTOTrainer(
            model=model(), args=KTOConfig(output_dir=out, per_device_train_batch_size=b, **common), train_dataset=unpaired
        ), train and position == 0))  # fmt: skip
    record["kl"] = []
    for name, make, train_it in runs:
        started = time.perf_counter()
        try:
            trainer = make(str(workdir / f"{repo.name}-{name}"))
            if isinstance(trainer, KTOTrainer):
                record["kl"].append(kl_record(trainer, list(unpaired["id"])))
            record[name] = _trained(trainer) if train_it else {"ok": True, "built": True}
        except Exception as error:  # report each trainer's outcome; the caller asserts on all of them
            record[name] = _failure(error)
        record[name]["seconds"] = round(time.perf_counter() - started, 2)  # for people reading the JSON
    return record


@contextlib.contextmanager
def test_configs():
    """TRL's config classes with TEST_SETTINGS applied, as the snippets import them (`from trl import
    DPOConfig` reads the attribute of the module). Everything else in a snippet is TRL's own."""
    originals = {
        (trl, "DPOConfig"): DPOConfig,
        (trl, "KTOConfig"): KTOConfig,
        (trl.experimental.orpo, "ORPOConfig"): ORPOConfig,
    }

    def for_this_test(config_class: type) -> type:
        class TestConfig(config_class):
            def __post_init__(self) -> None:
                for name, value in {**TEST_SETTINGS, "max_steps": 2}.items():
                    setattr(self, name, value)
                super().__post_init__()

        TestConfig.__name__ = config_class.__name__
        return TestConfig

    for (module, name), config_class in originals.items():
        setattr(module, name, for_this_test(config_class))
    try:
        yield
    finally:
        for (module, name), config_class in originals.items():
            setattr(module, name, config_class)


def run_card(repo: Path, model_dir: str, workdir: Path) -> list[dict[str, Any]]:
    """Each python block of the card, run as written in a fresh namespace but for the two ids."""
    card = (repo / "README.md").read_text(encoding="utf-8")
    hub_id = f"{repo.parent.name}/{repo.name}"  # <out>/<namespace>/<name>, as the CLI writes it
    results = []
    for block in python_blocks(card):
        entry: dict[str, Any] = {"code": block}
        namespace: dict[str, Any] = {"__name__": "__card__"}
        cwd = Path.cwd()
        os.chdir(tempfile.mkdtemp(dir=workdir))  # the snippets write to relative output_dir
        try:
            code = localized(block, hub_id, str(repo), model_dir)
            with test_configs():
                exec(compile(code, f"{repo.name}/README.md", "exec"), namespace)
            entry["ok"] = True
            trainer = namespace.get("trainer")
            if trainer is not None:
                entry["trainer"] = type(trainer).__name__
                entry["steps"] = trainer.state.global_step
                if isinstance(trainer, KTOTrainer):
                    entry["kl"] = kl_record(trainer, list(namespace["unpaired"]["id"]))
            entry["datasets"] = {
                k: v.num_rows for k, v in namespace.items() if isinstance(v, datasets.Dataset)
            }
        except Exception as error:
            entry |= _failure(error)
        finally:
            os.chdir(cwd)
        results.append(entry)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repos", nargs="*", type=Path, help="curated repo folders to train on")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument(
        "--card-repo", type=Path, help="run this repo's card snippets, and build its KL pairs"
    )
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--kto-batch-sizes", default="4,2,8,16", help="trains at the first, builds the rest")
    args = parser.parse_args(argv)
    summary: dict[str, Any] = {
        "versions": {
            "trl": trl.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "datasets": datasets.__version__,
        },
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED"),
        "import_seconds": IMPORT_SECONDS,
    }
    with tempfile.TemporaryDirectory(prefix="trl-test-") as tmp:
        workdir = Path(tmp)
        corpus = [
            text
            for repo in [*args.repos, *([args.card_repo] if args.card_repo else [])]
            for config in ("default", "kto")
            for text in _texts(datasets.load_dataset(str(repo), config, split="train").to_list())
        ]
        model_dir = str(build_model(corpus, workdir / "tiny-qwen2"))
        batch_sizes = [int(b) for b in args.kto_batch_sizes.split(",")]
        summary["repos"] = [
            train_repo(repo, model_dir, args.steps, batch_sizes, workdir) for repo in args.repos
        ]
        if args.card_repo:
            summary["repos"].append(
                train_repo(args.card_repo, model_dir, 0, batch_sizes, workdir, train=False)
            )
            summary["card"] = run_card(args.card_repo, model_dir, workdir)
    summary["seconds"] = round(time.perf_counter() - STARTED, 2)
    args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    runs = [
        run for repo in summary["repos"] for key, run in repo.items() if isinstance(run, dict) and "ok" in run
    ]
    return 0 if all(run["ok"] for run in runs + summary.get("card", [])) else 1


if __name__ == "__main__":
    sys.exit(main())
