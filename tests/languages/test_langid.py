from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from benchmarks.langid_accuracy import measure
from benchmarks.langid_texts import TEXTS
from languages.langid import (
    CLD3_LABELS,
    NOT_CHECKED,
    OFFLINE_MODELS,
    LanguageModelError,
    Prediction,
    identify,
    model_labels,
)
from languages.schema import MIN_CHECKED_THRESHOLD, LanguageID, config_paths, load_config_file

TEXTS_LID176 = {
    "nl": "Het regent vandaag al de hele ochtend, dus we blijven binnen en lezen een boek.",
    "es": "Hoy llueve desde la mañana, así que nos quedamos en casa leyendo un libro.",
    "ar": "تمطر منذ الصباح، لذلك سنبقى في البيت ونقرأ كتابًا.",
    "hi": "आज सुबह से बारिश हो रही है, इसलिए हम घर पर रहकर किताब पढ़ेंगे।",
    "ja": "今朝からずっと雨が降っているので、家で本を読みます。",
}
# Languages lid.176 lacks or reads badly, each with a model that knows it.
OTHER_BACKENDS = [
    ("cld3", "sw", "Mvua imenyesha tangu asubuhi, kwa hiyo tutabaki nyumbani na kusoma kitabu."),
    ("cld3", "ha", "Ruwan sama yana ta sauka tun safe, don haka za mu zauna a gida mu karanta littafi."),
    ("cld3", "zu", "Bekuna imvula kusukela ekuseni, ngakho sizohlala ekhaya sifunde incwadi."),
    ("langid", "yo", "Òjò ti ń rọ̀ láti àárọ̀, nítorí náà a ó dúró sílé láti ka ìwé."),
    ("langid", "rw", "Imvura yaguye kuva mu gitondo, bityo turaguma mu rugo dusome igitabo."),
    ("langid", "nso", "Pula e be e na go tloga mesong, ka fao re tla dula ka gae re bala puku."),
]


@pytest.mark.parametrize(("label", "text"), TEXTS_LID176.items())
def test_lid176_identifies_each_language(label: str, text: str) -> None:
    (prediction,) = identify([text], [label])
    assert prediction.label == label
    assert prediction.accepted_score > 0.8


@pytest.mark.parametrize(("model", "label", "text"), OTHER_BACKENDS, ids=lambda v: str(v)[:12])
def test_offline_backends_identify_languages_lid176_lacks(model: str, label: str, text: str) -> None:
    (prediction,) = identify([text], [label], model)  # type: ignore[arg-type]
    assert prediction.label == label
    assert prediction.accepted_score is not None and prediction.accepted_score > 0.8
    assert label in model_labels(model)  # type: ignore[arg-type]


def test_tone_marked_yoruba_needs_langid() -> None:
    """The issue's finding: lid.176 reads correct Yoruba at ~0 for `yo`; CLD3 takes it for Vietnamese."""
    yoruba = TEXTS["yor"]
    assert max(p.accepted_score or 0 for p in identify(yoruba, ["yo"], "lid176")) < 0.2
    assert identify([yoruba[2]], ["yo"], "cld3")[0].label == "vi"
    assert all((p.accepted_score or 0) > 0.9 for p in identify(yoruba, ["yo"], "langid"))


def test_accepted_score_is_low_for_another_language() -> None:
    for model in OFFLINE_MODELS:
        (prediction,) = identify([TEXTS_LID176["es"]], ["nl"], model)
        assert prediction.label == "es", model
        assert prediction.accepted_score is not None and prediction.accepted_score < 0.1, model


def test_accepted_score_sums_the_mass_on_every_accepted_label() -> None:
    text = TEXTS["srp"][0]  # Serbian Cyrillic: langid.py spreads mass over sr, bs, hr, ru...
    (alone,) = identify([text], ["sr"], "langid")
    (family,) = identify([text], ["sr", "hr", "bs", "mk"], "langid")
    assert family.accepted_score is not None and alone.accepted_score is not None
    assert alone.accepted_score <= family.accepted_score <= 1.0


def test_cld3_splits_mass_between_runs_of_two_languages() -> None:
    # CLD3 finds runs where the script changes: a Russian prompt quoting an English sentence.
    mixed = "С утра идёт дождь, поэтому мы сидим дома и читаем книги. The rain has not stopped at all."
    (russian,) = identify([mixed], ["ru"], "cld3")
    (both,) = identify([mixed], ["ru", "en"], "cld3")
    assert russian.label == "ru"
    assert russian.accepted_score is not None and both.accepted_score is not None
    assert 0.2 < russian.accepted_score < 0.9  # neither all nor nothing
    assert both.accepted_score > 0.95


@pytest.mark.parametrize("model", OFFLINE_MODELS)
def test_line_breaks_and_empty_text_do_not_break_prediction(model: str) -> None:
    one_line = "Mvua imenyesha tangu asubuhi, kwa hiyo tutabaki nyumbani na kusoma kitabu."
    multi_line = "Mvua imenyesha tangu asubuhi,\nkwa hiyo tutabaki\r\nnyumbani na\u2028kusoma kitabu."
    predictions = identify([multi_line, one_line, "", None], ["sw"], model)  # type: ignore[arg-type]
    assert len(predictions) == 4
    assert predictions[0] == predictions[1]  # folded before prediction
    if model != "lid176":  # fastText predicts something for empty text; the others say unknown
        assert predictions[2] == predictions[3] == Prediction("und", 0.0, 0.0)


def test_none_model_checks_nothing() -> None:
    predictions = identify(["Jërëjëf, naka nga def?", None, ""], ["wo"], "none")
    assert predictions == [NOT_CHECKED] * 3
    assert Prediction(None, None, None) == NOT_CHECKED
    assert model_labels("none") == set()


def test_model_labels() -> None:
    lid176 = model_labels()
    assert len(lid176) == 176 and {"nl", "sw", "ar", "hi", "ja", "yo"} <= lid176
    assert {"ha", "ig", "zu", "xh", "sn", "ny", "nso", "rw", "wo"}.isdisjoint(lid176)
    assert model_labels("cld3") == CLD3_LABELS and len(CLD3_LABELS) == 109
    assert {"ha", "ig", "yo", "sn", "ny", "so", "xh", "zu", "fil"} <= model_labels("cld3")
    assert {"rw", "nso", "yo", "ary", "arz"} <= model_labels("langid")
    assert all("wo" not in model_labels(model) for model in OFFLINE_MODELS)  # hence wol.yaml: none


def test_cld3_predicts_only_labels_we_list() -> None:
    texts = [text for texts in TEXTS.values() for text in texts]
    predicted = {p.label for p in identify(texts, [], "cld3")}
    assert predicted <= CLD3_LABELS | {"und"}
    assert len(predicted) > 40


def test_glotlid_offline_is_a_clear_error() -> None:
    try:
        model_labels("glotlid")
    except LanguageModelError as exc:
        assert "GlotLID not available offline" in str(exc)
    else:
        pytest.skip("GlotLID is in the local Hugging Face cache")


@pytest.mark.parametrize("threshold", [0.0, 0.05, MIN_CHECKED_THRESHOLD - 0.01])
def test_threshold_that_switches_the_check_off_is_refused(threshold: float) -> None:
    with pytest.raises(ValidationError, match="switches the language check off"):
        LanguageID(model="lid176", labels=["sw"], threshold=threshold)


def test_language_id_rules() -> None:
    assert LanguageID(model="cld3", labels=["sw"], threshold=MIN_CHECKED_THRESHOLD).checked
    unchecked = LanguageID(model="none", reason="No offline model knows Wolof.", threshold=0.0)
    assert not unchecked.checked and unchecked.labels == []
    with pytest.raises(ValidationError, match="needs a reason"):
        LanguageID(model="none")
    with pytest.raises(ValidationError, match="at least one label"):
        LanguageID(model="langid", labels=[])


def test_minimum_threshold_is_above_what_wrong_language_text_scores() -> None:
    """English, the usual wrong answer, never comes near the minimum on any shipped language."""
    english = TEXTS["eng"]
    for path in config_paths():
        config = load_config_file(path)
        if not config.lid.checked or config.code == "eng":
            continue
        scores = [p.accepted_score or 0.0 for p in identify(english, config.lid.labels, config.lid.model)]
        assert max(scores) < MIN_CHECKED_THRESHOLD / 4, path.name


def test_shipped_configs_follow_the_measurements() -> None:
    """Each config's model and threshold are the ones benchmarks/langid_accuracy.py chose."""
    recorded = json.loads(Path("benchmarks/langid_accuracy.json").read_text(encoding="utf-8"))
    overridden = {"ceb"}  # lid.176 reads the Cebuano system prompt at 0.31: see ceb.yaml
    for path in config_paths():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.stem in overridden:
            continue
        choice = recorded[path.stem]
        assert data["lid"]["model"] == choice["chosen_model"], path.name
        assert data["lid"].get("threshold") == choice["chosen_threshold"], path.name
    assert set(recorded) == {path.stem for path in config_paths()}


def test_benchmark_measures_a_language_with_real_models() -> None:
    assert measure("yor", "langid", ["yo"]).accuracy["0.5"] == 1.0
    assert measure("yor", "lid176", ["yo"]).accuracy["0.5"] == 0.0
