"""The run summary's per-source lines."""

from __future__ import annotations

from flows.summary import _models_line
from tasks.format.models import model_table, panel_agreement
from tests.tasks.format.test_models import legacy_raw, pairs, panel_raw


def test_a_panel_run_prints_a_line_per_source_and_the_judges_alpha() -> None:
    raw = panel_raw()
    dpo = pairs(("model-a", "model-b"), ("model-b", "model-a"), ("human", "model-b"))
    assert _models_line(model_table(raw, dpo), panel_agreement(raw)).splitlines() == [
        "human: rating 3.50 over 2, chosen 1 of 1",
        "model-a: rating 3.00 over 2, chosen 1 of 2, wrong language 0%",
        "model-b: rating 3.25 over 2, chosen 1 of 3, wrong language 67%",
        "judges' agreement (Krippendorff's α): 0.89 (2 judges)",
    ]


def test_a_one_judge_run_prints_no_agreement() -> None:
    raw = legacy_raw()
    line = _models_line(model_table(raw, pairs(("model-a", "human"))), panel_agreement(raw))
    assert line.splitlines() == [
        "human: rating 3.50 over 2, chosen 0 of 1",
        "model-a: rating 3.50 over 2, chosen 1 of 1, wrong language 50%",
    ]
