"""Checks across a set of language configs, beyond what the schema of one file can say.

`dpo-factory validate` reports every problem in every file, one line each, naming file and field:
schema errors, then Aya codes claimed by two configs, language-ID labels the model cannot predict,
and a system prompt that is still a TODO or is not written in the language it is for.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import yaml

from languages.schema import LanguageConfig, config_problems

TODO_MARK = "TODO"


def _labels_problem(path: Path, config: LanguageConfig, known: dict[str, set[str] | None]) -> list[str]:
    from tasks.langid import LanguageModelError, model_labels

    model = config.lid.model
    if model not in known:
        try:
            known[model] = model_labels(model)
        except LanguageModelError:
            known[model] = None  # GlotLID needs the Hub; offline its labels cannot be checked
    labels = known[model]
    if labels is None:
        return []
    missing = [label for label in config.lid.labels if label not in labels]
    return [f"{path}: lid.labels: '{label}' is not a label of the {model} model" for label in missing]


def _prompt_problem(path: Path, config: LanguageConfig) -> list[str]:
    from tasks.langid import identify

    prompt = config.generation.system_prompt
    if TODO_MARK in prompt:
        return [f"{path}: generation.system_prompt: still a {TODO_MARK}; write it in {config.name}"]
    if not config.lid.checked:  # `model: none`: no model can read the prompt; its reason says why
        return []
    (prediction,) = identify([prompt], config.lid.labels, config.lid.model)
    if prediction.accepted_score < config.lid.threshold:
        return [
            f"{path}: generation.system_prompt: reads as '{prediction.label}', not {config.name} "
            f"(score {prediction.accepted_score:.2f} for {', '.join(config.lid.labels)}); write it in {config.name}"
        ]
    return []


def check_configs(paths: list[Path]) -> list[str]:
    """Every problem in every file, in file order."""
    problems: list[str] = []
    valid: list[tuple[Path, LanguageConfig]] = []
    for path in paths:
        found = config_problems(path)
        problems += found
        if not found:
            valid.append(
                (path, LanguageConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))
            )

    claimed: dict[str, list[Path]] = defaultdict(list)
    for path, config in valid:
        for code in config.aya_language_codes:
            claimed[code].append(path)
    known: dict[str, set[str] | None] = {}
    for path, config in valid:
        for code in config.aya_language_codes:
            others = [other.name for other in claimed[code] if other != path]
            if others:
                problems.append(
                    f"{path}: aya_language_codes: '{code}' is also claimed by {', '.join(others)}"
                )
        problems += _labels_problem(path, config, known)
        if not any(p.startswith(f"{path}: lid.labels") for p in problems):
            problems += _prompt_problem(path, config)
    return problems
