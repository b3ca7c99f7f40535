from __future__ import annotations

import pytest

from tasks.langid import identify, model_labels

TEXTS = {
    "nl": "Het regent vandaag al de hele ochtend, dus we blijven binnen en lezen een boek.",
    "es": "Hoy llueve desde la mañana, así que nos quedamos en casa leyendo un libro.",
    "ar": "تمطر منذ الصباح، لذلك سنبقى في البيت ونقرأ كتابًا.",
    "hi": "आज सुबह से बारिश हो रही है, इसलिए हम घर पर रहकर किताब पढ़ेंगे।",
    "ja": "今朝からずっと雨が降っているので、家で本を読みます。",
}


@pytest.mark.parametrize(("label", "text"), TEXTS.items())
def test_lid176_identifies_each_language(label: str, text: str) -> None:
    (prediction,) = identify([text], [label])
    assert prediction.label == label
    assert prediction.accepted_score > 0.8


def test_accepted_score_is_low_for_another_language() -> None:
    (prediction,) = identify([TEXTS["es"]], ["nl"])
    assert prediction.label == "es"
    assert prediction.accepted_score < 0.1


def test_line_breaks_and_empty_text_do_not_break_prediction() -> None:
    multi_line = "Het regent vandaag.\nWe blijven binnen\r\nen lezen\u2028een boek."
    predictions = identify([multi_line, "", None], ["nl"])
    assert predictions[0].label == "nl"
    assert len(predictions) == 3


def test_model_knows_176_labels() -> None:
    labels = model_labels()
    assert len(labels) == 176
    assert {"nl", "sw", "ar", "hi", "ja"} <= labels
