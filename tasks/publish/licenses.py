"""Licenses of the published data: Aya's for the prompts and human answers, the models' for their outputs.

The answers, ratings and rationales come from the generator and judge models, whose terms apply to
their outputs, so a card cannot just repeat Aya's Apache-2.0. Known model families are in a small
table; an unknown model is named as unknown instead of guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.llm.client import PLACEHOLDER_MODEL
from tasks.source.load import AYA_REPO

AYA_LICENSE = "apache-2.0"
APACHE_LINK = "https://www.apache.org/licenses/LICENSE-2.0"


@dataclass(frozen=True)
class License:
    """A license: its Hub identifier (or a short id for `license_name`), a readable name, a link."""

    id: str
    name: str
    link: str | None = None  # None: the model's own Hub page, which shows its license
    note: str = ""  # what the terms say about outputs, where that matters to a user of this data


APACHE = License("apache-2.0", "Apache-2.0", APACHE_LINK)
MIT = License("mit", "MIT", "https://opensource.org/license/mit")
_LLAMA_NAME_RULE = (
    'a model trained on these outputs and distributed must have a name that begins with "Llama"'
)
# Model id patterns (Hub ids, matched case-insensitively from the start) and their licenses.
# Only facts we are sure of; a model that matches nothing is reported as unknown.
KNOWN_MODELS: tuple[tuple[str, License], ...] = (
    (r"meta-llama/(meta-)?llama-3\.3-", License("llama3.3", "Llama 3.3 Community License", note=_LLAMA_NAME_RULE)),
    (r"meta-llama/(meta-)?llama-3\.2-", License("llama3.2", "Llama 3.2 Community License", note=_LLAMA_NAME_RULE)),
    (r"meta-llama/(meta-)?llama-3\.1-", License("llama3.1", "Llama 3.1 Community License", note=_LLAMA_NAME_RULE)),
    (
        r"meta-llama/meta-llama-3-",
        License(
            "llama3",
            "Meta Llama 3 Community License",
            note="its outputs may not be used to improve other large language models than Llama 3 and its derivatives",
        ),
    ),
    (r"meta-llama/llama-4-", License("llama4", "Llama 4 Community License", note=_LLAMA_NAME_RULE)),
    (r"qwen/qwen3-", APACHE),
    (r"qwen/qwq-32b", APACHE),
    (r"qwen/qwen2\.5-([a-z]+-)?72b", License("qwen", "Qwen License")),
    (r"qwen/qwen2\.5-([a-z]+-)?3b", License("qwen-research", "Qwen Research License")),
    (r"qwen/qwen2\.5-", APACHE),
    (r"google/gemma-", License("gemma", "Gemma Terms of Use", "https://ai.google.dev/gemma/terms")),
    (r"mistralai/(mistral-7b-|mixtral-8x7b-|mixtral-8x22b-|mistral-nemo-)", APACHE),
    (r"mistralai/mistral-small-(24b-|3\.1-24b-|3\.2-24b-)", APACHE),
    (r"openai/gpt-oss-", APACHE),
    (r"deepseek-ai/deepseek-(r1|r1-0528|v3-0324)$", MIT),
    (r"microsoft/phi-(3|3\.5|4)", MIT),
    (
        r"(coherelabs|cohereforai)/(aya-expanse-|aya-23-|c4ai-command-r)",
        License(
            "cc-by-nc-4.0",
            "CC BY-NC 4.0 and Cohere Labs' acceptable use policy",
            "https://creativecommons.org/licenses/by-nc/4.0/",
            note="non-commercial use only",
        ),
    ),
    (r"huggingfacetb/smollm(2|3)-", APACHE),
)  # fmt: skip


def model_license(model: str) -> License | None:
    """The license of a model's outputs from the table, or None when the model is not in it.

    The router's provider suffix (`model:provider`) is not part of the model id.
    """
    model_id = model.split(":", 1)[0].strip().lower()
    for pattern, license_ in KNOWN_MODELS:
        if re.match(pattern, model_id):
            return license_
    return None


def _model_link(model: str) -> str | None:
    model_id = model.split(":", 1)[0].strip()
    return f"https://huggingface.co/{model_id}" if re.fullmatch(r"[\w.-]+/[\w.-]+", model_id) else None


@dataclass(frozen=True)
class DataLicense:
    """The card metadata (`license`, and `license_name`/`license_link` when it is `other`) and the
    card's License section for a dataset holding Aya rows plus outputs of `models`."""

    metadata: dict[str, Any]
    section: str


def data_license(
    generators: list[str], judges: list[str], judge_output: str = "ratings and rationales"
) -> DataLicense:
    """Aya's license plus the terms of every model whose output the dataset holds."""
    real = {m for m in [*generators, *judges] if m and m != PLACEHOLDER_MODEL}
    licenses = {model: model_license(model) for model in sorted(real)}
    lines = [
        "## License",
        "",
        f"- **Prompts and human answers**: the Aya dataset ([{AYA_REPO}](https://huggingface.co/datasets/{AYA_REPO})), "
        f"[Apache-2.0]({APACHE_LINK}).",
    ]
    if not real:
        lines.append(
            "- **No model output is included**: the LLM answers, ratings and rationales are placeholders "
            "written by dpo-factory's offline mode (`--offline`); no model was called."
        )
    for model in sorted(real):
        roles = [
            role for role, models in (("LLM answers", generators), (judge_output, judges)) if model in models
        ]
        lines.append(f"- **{'; '.join(roles)}**: `{model}`, " + _describe(model, licenses[model]))
    if real:
        lines.append(
            "\nA model's terms apply to its outputs in this dataset, on top of Aya's license: read them "
            "before you train on this data or share what you train."
        )
    others = sorted({lic.id for lic in licenses.values() if lic is not None and lic.id != AYA_LICENSE})
    unknown = [model for model, lic in licenses.items() if lic is None]
    if not others and not unknown:
        return DataLicense({"license": AYA_LICENSE}, "\n".join(lines) + "\n")
    # `other`, named after every license involved, linked to the first model's terms that are not Aya's.
    first = next(m for m, lic in licenses.items() if lic is None or lic.id != AYA_LICENSE)
    link = (licenses[first].link if licenses[first] else None) or _model_link(first)
    name = "-and-".join([AYA_LICENSE, *others, *(["unknown-model-terms"] if unknown else [])])
    metadata: dict[str, Any] = {"license": "other", "license_name": name}
    if link:
        metadata["license_link"] = link
    return DataLicense(metadata, "\n".join(lines) + "\n")


def _describe(model: str, license_: License | None) -> str:
    if license_ is None:
        where = _model_link(model)
        return (
            "**license unknown**: this model is not in dpo-factory's table of known licenses, so its terms "
            "for outputs are not stated here" + (f"; check them on [its page]({where})." if where else ".")
        )
    link = license_.link or _model_link(model)
    named = f"[{license_.name}]({link})" if link else license_.name
    return named + (f"; {license_.note}." if license_.note else ".")
