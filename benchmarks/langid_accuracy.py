"""How well each offline language-ID model reads each Aya language, on texts written for the project.

For every language (config code) and every offline model that has labels for it, the accepted-label
score of each of the language's texts (benchmarks/langid_texts.py), the share of texts at or above
each threshold, and the share of *other* languages' texts that would wrongly pass the same check
(siblings such as the Arabic varieties, or Malay and Indonesian, are left out of that count). The
choice rule picks a model and threshold per language from these numbers; docs/languages.md shows
the result and the configs in languages/ use it.

    uv run python -m benchmarks.langid_accuracy [--json PATH] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.langid_texts import TEXTS
from languages.langid import OFFLINE_MODELS, identify, model_labels

# Accepted labels per language and model; a model missing from a row has no label for the language.
# Arabic varieties accept the whole family: no offline model separates the dialects reliably, and
# Aya rows of a dialect are often written close to Standard Arabic. Serbian accepts the
# Serbo-Croatian labels because Serbian is written in Latin script as often as in Cyrillic.
_ARABIC = {"lid176": ["ar", "arz"], "cld3": ["ar"], "langid": ["ar", "ary", "arz"]}
LABELS: dict[str, dict[str, list[str]]] = {
    "arb": _ARABIC,
    "ary": _ARABIC,
    "ars": _ARABIC,
    "acq": _ARABIC,
    "arz": _ARABIC,
    "apc": _ARABIC,
    "amh": {"lid176": ["am"], "cld3": ["am"], "langid": ["am"]},
    "hau": {"cld3": ["ha"], "langid": ["ha"]},
    "ibo": {"cld3": ["ig"], "langid": ["ig"]},
    "yor": {"lid176": ["yo"], "cld3": ["yo"], "langid": ["yo"]},
    "swh": {"lid176": ["sw"], "cld3": ["sw"], "langid": ["sw"]},
    "som": {"lid176": ["so"], "cld3": ["so"], "langid": ["so"]},
    "sna": {"cld3": ["sn"], "langid": ["sn"]},
    "nya": {"cld3": ["ny"]},
    "xho": {"cld3": ["xh"], "langid": ["xh"]},
    "zul": {"cld3": ["zu"], "langid": ["zu"]},
    "nso": {"langid": ["nso"]},
    "wol": {},
    "plt": {"lid176": ["mg"], "cld3": ["mg"], "langid": ["mg"]},
    "dan": {"lid176": ["da"], "cld3": ["da"], "langid": ["da"]},
    "deu": {"lid176": ["de"], "cld3": ["de"], "langid": ["de"]},
    "ell": {"lid176": ["el"], "cld3": ["el"], "langid": ["el"]},
    "eng": {"lid176": ["en"], "cld3": ["en"], "langid": ["en"]},
    "eus": {"lid176": ["eu"], "cld3": ["eu"], "langid": ["eu"]},
    "fin": {"lid176": ["fi"], "cld3": ["fi"], "langid": ["fi"]},
    "fra": {"lid176": ["fr"], "cld3": ["fr"], "langid": ["fr"]},
    "gle": {"lid176": ["ga"], "cld3": ["ga"], "langid": ["ga"]},
    "hun": {"lid176": ["hu"], "cld3": ["hu"], "langid": ["hu"]},
    "ita": {"lid176": ["it"], "cld3": ["it"], "langid": ["it"]},
    "lit": {"lid176": ["lt"], "cld3": ["lt"], "langid": ["lt"]},
    "nld": {"lid176": ["nl"], "cld3": ["nl"], "langid": ["nl"]},
    "pol": {"lid176": ["pl"], "cld3": ["pl"], "langid": ["pl"]},
    "por": {"lid176": ["pt"], "cld3": ["pt"], "langid": ["pt"]},
    "rus": {"lid176": ["ru"], "cld3": ["ru"], "langid": ["ru"]},
    "srp": {"lid176": ["sr", "sh", "hr", "bs"], "cld3": ["sr", "hr", "bs"], "langid": ["sr", "hr", "bs"]},
    "als": {"lid176": ["sq"], "cld3": ["sq"], "langid": ["sq"]},
    "swe": {"lid176": ["sv"], "cld3": ["sv"], "langid": ["sv"]},
    "tur": {"lid176": ["tr"], "cld3": ["tr"], "langid": ["tr"]},
    "ukr": {"lid176": ["uk"], "cld3": ["uk"], "langid": ["uk"]},
    "spa": {"lid176": ["es"], "cld3": ["es"], "langid": ["es"]},
    "hat": {"lid176": ["ht"], "cld3": ["ht"], "langid": ["ht"]},
    "ben": {"lid176": ["bn"], "cld3": ["bn"], "langid": ["bn"]},
    "guj": {"lid176": ["gu"], "cld3": ["gu"], "langid": ["gu"]},
    "hin": {"lid176": ["hi"], "cld3": ["hi"], "langid": ["hi"]},
    "kan": {"lid176": ["kn"], "cld3": ["kn"], "langid": ["kn"]},
    "mal": {"lid176": ["ml"], "cld3": ["ml"], "langid": ["ml"]},
    "mar": {"lid176": ["mr"], "cld3": ["mr"], "langid": ["mr"]},
    "npi": {"lid176": ["ne"], "cld3": ["ne"], "langid": ["ne"]},
    "pan": {"lid176": ["pa"], "cld3": ["pa"], "langid": ["pa"]},
    "sin": {"lid176": ["si"], "cld3": ["si"], "langid": ["si"]},
    "snd": {"lid176": ["sd"], "cld3": ["sd"]},
    "tam": {"lid176": ["ta"], "cld3": ["ta"], "langid": ["ta"]},
    "tel": {"lid176": ["te"], "cld3": ["te"], "langid": ["te"]},
    "urd": {"lid176": ["ur"], "cld3": ["ur"], "langid": ["ur"]},
    "pbt": {"lid176": ["ps"], "cld3": ["ps"], "langid": ["ps"]},
    "pes": {"lid176": ["fa"], "cld3": ["fa"], "langid": ["fa"]},
    "ckb": {"lid176": ["ckb"], "cld3": ["ku"], "langid": ["ku"]},
    "kir": {"lid176": ["ky"], "cld3": ["ky"], "langid": ["ky"]},
    "mya": {"lid176": ["my"], "cld3": ["my"], "langid": ["my"]},
    "tha": {"lid176": ["th"], "cld3": ["th"], "langid": ["th"]},
    "vie": {"lid176": ["vi"], "cld3": ["vi"], "langid": ["vi"]},
    "ind": {"lid176": ["id"], "cld3": ["id"], "langid": ["id"]},
    "zsm": {"lid176": ["ms"], "cld3": ["ms"], "langid": ["ms"]},
    "jav": {"lid176": ["jv"], "cld3": ["jv"], "langid": ["jv"]},
    "sun": {"lid176": ["su"], "cld3": ["su"]},
    "ceb": {"lid176": ["ceb"], "cld3": ["ceb"]},
    "fil": {"lid176": ["tl"], "cld3": ["fil"], "langid": ["tl"]},
    "jpn": {"lid176": ["ja"], "cld3": ["ja"], "langid": ["ja"]},
    "kor": {"lid176": ["ko"], "cld3": ["ko"], "langid": ["ko"]},
    "zho": {"lid176": ["zh"], "cld3": ["zh"], "langid": ["zh"]},
    "cmn": {"lid176": ["zh"], "cld3": ["zh"], "langid": ["zh"]},
}

# Languages close enough that passing as each other is not a false accept of the check.
_SIBLINGS = [{"arb", "ary", "ars", "acq", "arz", "apc"}, {"ind", "zsm"}, {"zho", "cmn"}]
THRESHOLDS = (0.5, 0.4, 0.3, 0.2)
# A model reads a language well when at least this share of its texts pass the threshold ...
MIN_ACCURACY = 0.875
# ... and at most this share of unrelated languages' texts pass it too. Not zero: lid.176 reads some
# languages it lacks as a known one (Somali as Finnish, Wolof as Italian), which says nothing about
# how well it checks Finnish; English, the language a wrong LLM answer is usually in, never passes.
MAX_FALSE_ACCEPT = 0.02


@dataclass(frozen=True)
class Measurement:
    """One (language, model) pair: accuracy per threshold, score spread, and wrong passes."""

    code: str
    model: str
    labels: list[str]
    accuracy: dict[str, float]
    false_accept: dict[str, float]
    english_max: float
    min_score: float
    median_score: float
    top_labels: dict[str, int]


def _siblings(code: str) -> set[str]:
    for group in _SIBLINGS:
        if code in group:
            return group
    return {code}


def measure(code: str, model: str, labels: list[str]) -> Measurement:
    """Scores of the language's own texts, and of every unrelated language's texts, for its labels."""
    own = identify(TEXTS[code], labels, model)  # type: ignore[arg-type]
    others = [text for other, texts in TEXTS.items() if other not in _siblings(code) for text in texts]
    foreign = identify(others, labels, model)  # type: ignore[arg-type]
    scores = [p.accepted_score or 0.0 for p in own]
    english = [p.accepted_score or 0.0 for p in identify(TEXTS["eng"], labels, model)]  # type: ignore[arg-type]
    foreign_scores = [p.accepted_score or 0.0 for p in foreign]
    top: dict[str, int] = {}
    for p in own:
        top[str(p.label)] = top.get(str(p.label), 0) + 1
    return Measurement(
        code=code,
        model=model,
        labels=labels,
        accuracy={f"{t}": sum(s >= t for s in scores) / len(scores) for t in THRESHOLDS},
        false_accept={f"{t}": sum(s >= t for s in foreign_scores) / len(foreign_scores) for t in THRESHOLDS},
        english_max=round(max(english), 3) if code != "eng" else 0.0,
        min_score=round(min(scores), 3),
        median_score=round(statistics.median(scores), 3),
        top_labels=dict(sorted(top.items(), key=lambda item: -item[1])),
    )


def best_threshold(m: Measurement) -> float | None:
    """The highest threshold at which the model still reads the language well and passes no stranger."""
    for t in THRESHOLDS:
        passes_english = m.english_max >= t
        if (
            m.accuracy[f"{t}"] >= MIN_ACCURACY
            and m.false_accept[f"{t}"] <= MAX_FALSE_ACCEPT
            and not passes_english
        ):
            return t
    return None


def choose(measurements: list[Measurement]) -> tuple[str, float | None]:
    """The model that reads the language well at the highest threshold; fastText first among equals.

    Ties on the threshold go to lid.176 (the design's model), then to the higher accuracy. No model
    reading the language well gives ("none", None).
    """
    usable = [(m, t) for m in measurements if (t := best_threshold(m)) is not None]
    if not usable:
        return "none", None
    m, t = max(usable, key=lambda pair: (pair[1], pair[0].model == "lid176", pair[0].accuracy[f"{pair[1]}"]))
    return m.model, t


def run() -> dict[str, dict[str, object]]:
    """Every language's measurements and the chosen model and threshold."""
    known = {model: model_labels(model) for model in OFFLINE_MODELS}
    results: dict[str, dict[str, object]] = {}
    for code in TEXTS:
        measurements = []
        for model, labels in LABELS[code].items():
            missing = [label for label in labels if label not in known[model]]
            if missing:
                raise ValueError(f"{code}: {model} has no label {missing}")
            measurements.append(measure(code, model, labels))
        model, threshold = choose(measurements)
        results[code] = {
            "chosen_model": model,
            "chosen_threshold": threshold,
            "measurements": [asdict(m) for m in measurements],
        }
    return results


def floor_evidence(results: dict[str, dict[str, object]]) -> str:
    """How high wrong-language texts score: the evidence for the schema's minimum threshold."""
    lines = [
        "| model | highest score of an English text on another language's labels | share of unrelated texts at or above 0.05 | 0.1 | 0.2 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for model in OFFLINE_MODELS:
        rows = [m for r in results.values() for m in r["measurements"] if m["model"] == model]  # type: ignore[union-attr]
        english = max(m["english_max"] for m in rows)
        own = {m["code"] for m in rows}
        foreign: list[float] = []
        for m in rows:
            others = [t for other, texts in TEXTS.items() if other not in _siblings(m["code"]) for t in texts]
            foreign += [p.accepted_score or 0.0 for p in identify(others, m["labels"], model)]
        shares = [sum(s >= t for s in foreign) / len(foreign) for t in (0.05, 0.1, 0.2)]
        lines.append(
            f"| {model} ({len(own)} languages) | {english:.3f} | "
            + " | ".join(f"{share:.2%}" for share in shares)
            + " |"
        )
    return "\n".join(lines)


def markdown(results: dict[str, dict[str, object]]) -> str:
    """The table docs/languages.md shows: accuracy at the chosen threshold per offline model."""
    lines = [
        "| code | chosen | threshold | lid176 | cld3 | langid | wrong passes at threshold |",
        "| --- | --- | ---: | --- | --- | --- | ---: |",
    ]
    for code, result in sorted(results.items()):
        chosen, threshold = result["chosen_model"], result["chosen_threshold"]
        cells = {}
        false_accept = "-"
        for m in result["measurements"]:  # type: ignore[union-attr]
            t = f"{threshold if threshold is not None else 0.5}"
            top = next(iter(m["top_labels"]))
            cells[m["model"]] = f"{m['accuracy'][t]:.0%} (median {m['median_score']:.2f}, top `{top}`)"
            if m["model"] == chosen:
                false_accept = f"{m['false_accept'][t]:.1%}"
        row = [cells.get(model, "no label") for model in OFFLINE_MODELS]
        lines.append(
            f"| {code} | {chosen} | {threshold if threshold is not None else '-'} | "
            + " | ".join(row)
            + f" | {false_accept} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every measurement to this file")
    parser.add_argument("--markdown", action="store_true", help="print the table for docs/languages.md")
    args = parser.parse_args()
    results = run()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.markdown:
        print(markdown(results) + "\n\n" + floor_evidence(results))  # noqa: T201 - reports on stdout
    else:
        for code, result in results.items():
            print(code, result["chosen_model"], result["chosen_threshold"])  # noqa: T201


if __name__ == "__main__":
    main()
