"""The coverage report against datasets a multi-language run actually published."""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import datasets
import polars as pl
import pytest
from typer.testing import CliRunner

import flows.coverage_flow
from flows.cli import app
from languages.schema import LanguageID, available_languages, load_language
from tasks.coverage.dashboard import attention, markdown_table, render_html
from tasks.coverage.report import build_coverage
from tasks.publish.destination import read_local_file


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture(scope="module")
def report(sample_published: tuple[Path, str]) -> tuple[Path, str]:
    """nld, jpn and spa run from the sample, then the coverage report (tests/flows/conftest.py)."""
    out, output = sample_published
    return out / "dpo-factory" / "dpo-language-coverage", output


def load(out: Path, repo: str, config: str = "default") -> pl.DataFrame:
    return datasets.load_dataset(str(out / "dpo-factory" / repo), config, split="train").to_polars()


def test_counts_match_the_published_datasets(report: tuple[Path, str]) -> None:
    folder, output = report
    out = folder.parents[1]
    coverage = load(out, "dpo-language-coverage")
    by_code = {row["language_code"]: row for row in coverage.iter_rows(named=True)}
    for code, name in (("nld", "dutch"), ("jpn", "japanese"), ("spa", "spanish")):
        raw, pairs = load(out, f"aya_{name}_dpo_raw"), load(out, f"aya_{name}_dpo")
        kto = load(out, f"aya_{name}_dpo", "kto")
        row = by_code[code]
        assert (row["raw_rows"], row["curated_pairs"], row["kto_rows"]) == (
            raw.height,
            pairs.height,
            kto.height,
        )
        assert row["status"] == "curated" and row["configured"]
        assert row["mean_margin"] == pytest.approx(
            (pairs["chosen_rating"] - pairs["rejected_rating"]).mean(), 1e-3
        )
        assert row["judged_rows"] == int((raw["status"] == "judged").sum())
        assert row["last_run"] == raw["run_at"].max()
        assert row["curated_repo"] == f"dpo-factory/aya_{name}_dpo"
    # Configured and in Aya, but not run yet: counted as zero, from the (missing) datasets.
    assert (by_code["fra"]["status"], by_code["fra"]["curated_pairs"], by_code["fra"]["aya_rows"]) == (
        "configured",
        0,
        3,
    )
    # Configured but absent from this Aya source: still listed.
    assert by_code["kor"]["aya_rows"] == 0 and by_code["kor"]["configured"]
    aya_languages = 7  # names in the shipped sample
    assert coverage.height == aya_languages + len(
        set(available_languages()) - {"nld", "jpn", "spa", "swh", "arb", "hin", "fra"}
    )
    assert "3 of 7 Aya languages have curated preference data" in output


def test_card_and_files(report: tuple[Path, str]) -> None:
    folder, _ = report
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "**3 of 7 Aya languages have curated preference data.**" in card
    assert "| Dutch | `nld` |" in card
    assert "not counted (pass --hub-search" in card
    assert (folder / "coverage.png").read_bytes().startswith(b"\x89PNG")


class _Table(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows = 0
        self.summary = ""
        self._in: str | None = None
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in = tag
        self.rows += tag == "tr"
        for name, value in attrs:
            if name in {"src", "href"} and value and "://" in value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self._in == "th":
            self.headers.append(data)
        if self._in == "h1":
            self.summary += data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_dashboard_is_a_self_contained_table(report: tuple[Path, str]) -> None:
    folder, _ = report
    page = _Table()
    page.feed((folder / "dashboard.html").read_text(encoding="utf-8"))
    (data,) = (folder / "data").glob("train-*.parquet")
    coverage = pl.read_parquet(data)
    assert page.summary == "3 of 7 Aya languages have curated preference data"
    assert page.headers[:4] == ["language", "code", "Aya rows", "status"]
    assert page.rows == coverage.height + 1  # one header row
    assert page.external == []  # nothing to fetch: it opens offline


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_dashboard_renders_in_headless_chromium(report: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = report
    shot = tmp_path / "dashboard.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600", f"--screenshot={shot}",
         (folder / "dashboard.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_prefect_shows_the_table(report: tuple[Path, str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["dpo-language-coverage"]))
        )
    assert artifacts and artifacts[0].type == "table"
    table = artifacts[0].data if isinstance(artifacts[0].data, list) else json.loads(artifacts[0].data)
    assert {row["language_code"] for row in table} >= {"nld", "jpn", "spa"}


def test_hub_search_offline_says_it_skipped(tmp_path: Path) -> None:
    code, output = invoke("coverage", "--source", "sample", "--out", str(tmp_path), "--hub-search")
    assert code == 0, output
    assert "skipped: offline" in output


def test_hub_search_counts_with_the_codes_the_hub_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Hub tags Arabic `ar` (our cards too, then `arb`): a search for `arb` alone finds almost nothing."""
    tagged = {"nl": 3, "ja": 1, "ar": 2, "arb": 1, "sw": 4}
    searched: list[str] = []

    class Api:
        def list_datasets(self, filter: list[str], limit: int):
            language = filter[0].removeprefix("language:")
            searched.append(language)
            assert filter[1] == "dpo"
            return [SimpleNamespace(id=f"someone/{language}-dpo-{i}") for i in range(tagged.get(language, 0))]

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(flows.coverage_flow, "hub_api", lambda: Api())
    code, output = invoke("coverage", "--source", "sample", "--out", str(tmp_path), "--hub-search")
    assert code == 0, output
    coverage = read_local_file(tmp_path, "dpo-factory/dpo-language-coverage", "data")
    counts = dict(coverage.select("language_code", "other_hub_datasets").iter_rows())
    assert (counts["nld"], counts["jpn"], counts["spa"]) == (3, 1, 0)
    assert counts["arb"] == 3  # two tagged `ar`, one tagged `arb`
    assert counts["swh"] == 4  # tagged `sw`
    assert {"ar", "arb", "sw", "swh", "fa", "pes", "nl", "nld"} <= set(searched)
    iso = dict(coverage.select("language_code", "iso_639_1").iter_rows())
    assert (iso["arb"], iso["swh"], iso["pes"], iso["nld"]) == ("ar", "sw", "fa", "nl")


def test_report_flags_unreviewed_prompts_and_unmatched_configs(report: tuple[Path, str]) -> None:
    folder, output = report
    (data,) = (folder / "data").glob("train-*.parquet")
    coverage = pl.read_parquet(data)
    by_code = {row["language_code"]: row for row in coverage.iter_rows(named=True)}
    assert by_code["nld"]["system_prompt_reviewed"] is False and by_code["nld"]["language_checked"] is True
    assert by_code["kor"]["note"] == "config kor: no row of this Aya source has code kor"
    assert by_code["nld"]["note"] is None
    assert by_code["nld"]["judge_error_rate"] == 0.0
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "## Needs attention" in card
    assert "System prompts awaiting a speaker's review: " in card and "`nld`" in card
    assert "Configs with Aya codes that match no row of this source: " in card and "`kor`" in card
    assert "| awaits review |" in card
    assert "attention: Configs with Aya codes that match no row of this source" in output
    page = (folder / "dashboard.html").read_text(encoding="utf-8")
    assert "judge error rate" in page and "awaits review" in page


def _raw(rows: list[tuple[str, str, str, bool | None, str | None]]) -> pl.DataFrame:
    """Raw rows: (id, Aya name, Aya code, generation_language_ok, failure_reason)."""
    return pl.DataFrame(
        [
            {"id": i, "language": name, "language_code": code, "status": "failed" if reason else "judged",
             "generation": "answer", "generation_language_ok": ok, "failure_reason": reason,
             "ratings": None if reason else [4, 2], "position_consistent": None, "run_at": "2026-08-01T00:00:00+00:00"}
            for i, name, code, ok, reason in rows
        ],
        schema_overrides={"ratings": pl.List(pl.Int64), "generation_language_ok": pl.Boolean},
    )  # fmt: skip


def test_unchecked_language_is_not_checked_and_names_split_a_shared_code() -> None:
    nld = load_language("nld")
    zho = load_language("zho")
    reason = "no offline language-ID model reads this variety"
    unchecked = nld.model_copy(update={"lid": LanguageID(model="none", reason=reason)})
    simplified = zho.model_copy(update={"aya_language_names": ["Simplified Chinese"]})
    aya = pl.DataFrame(
        {"language": ["Dutch", "Simplified Chinese", "Simplified Chinese", "Traditional Chinese"],
         "language_code": ["nld", "zho", "zho", "zho"]}
    )  # fmt: skip
    published = {
        unchecked.raw_repo: _raw([("a", "Dutch", "nld", None, None), ("b", "Dutch", "nld", None, "judge_error")]),
        simplified.raw_repo: _raw([("c", "Simplified Chinese", "zho", True, None),
                                   ("d", "Simplified Chinese", "zho", False, "judge_sections")]),
    }  # fmt: skip
    coverage = build_coverage(
        aya, [unchecked, simplified], lambda repo, path: published.get(repo) if path == "data" else None
    )
    rows = {(r["language"], r["language_code"]): r for r in coverage.iter_rows(named=True)}
    dutch = rows[("Dutch", "nld")]
    assert dutch["language_checked"] is False and dutch["wrong_language_rate"] is None
    assert dutch["judge_error_rate"] == 0.5 and dutch["judge_failure_rate"] == 0.0
    assert rows[("Simplified Chinese", "zho")]["config"] == "zho"
    assert rows[("Simplified Chinese", "zho")]["raw_rows"] == 2
    assert rows[("Simplified Chinese", "zho")]["wrong_language_rate"] == 0.5
    assert rows[("Simplified Chinese", "zho")]["judge_failure_rate"] == 0.5
    assert rows[("Traditional Chinese", "zho")]["configured"] is False  # the other name, not this config's
    assert "| not checked |" in markdown_table(coverage)
    assert "not checked" in render_html(coverage, "now")
    assert (
        "Languages whose answers are not checked by language ID (no model knows them): `nld`."
        in attention(coverage)
    )


def test_configs_matching_no_aya_row_are_flagged() -> None:
    aya = pl.DataFrame({"language": ["Dutch"], "language_code": ["nld"]})
    wrong_code = load_language("swh")  # Aya writes Swahili as `swh` here; this source has none
    configs = [load_language("nld"), wrong_code]
    coverage = build_coverage(aya, configs, lambda repo, path: None)
    flagged = coverage.filter(pl.col("note").is_not_null())
    assert flagged["language_code"].to_list() == ["swh"]
