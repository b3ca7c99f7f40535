"""The coverage report against datasets a multi-language run actually published."""

from __future__ import annotations

import html.parser
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import datasets
import polars as pl
import pytest
from typer.testing import CliRunner

import flows.coverage_flow
from flows.cli import app
from languages.schema import LanguageID, available_languages, load_language
from tasks.coverage.dashboard import markdown_table
from tasks.coverage.page import render_html
from tasks.coverage.report import build_coverage
from tasks.coverage.text import attention
from tasks.publish.destination import read_local_file
from tests.flows.conftest import SAMPLE_RUN as RUN


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two reports with new data between them: after Dutch, then after Japanese and Spanish."""
    out = tmp_path_factory.mktemp("out")
    for languages in (RUN[:1], RUN[1:]):
        code, output = invoke("run", *languages, "--source", "sample", "--offline", "--out", str(out))
        assert code == 0, output
        code, output = invoke("coverage", "--source", "sample", "--out", str(out))
        assert code == 0, output
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


def test_models_config_matches_the_published_pairs(report: tuple[Path, str]) -> None:
    """Config `models`: per language, the human answer and the run's generator, each on one side of
    every curated pair; and the curated card's Models section."""
    out = report[0].parents[1]
    models = load(out, "dpo-language-coverage", "models")
    for code, name in (("nld", "dutch"), ("jpn", "japanese"), ("spa", "spanish")):
        pairs, raw = load(out, f"aya_{name}_dpo"), load(out, f"aya_{name}_dpo_raw")
        rows = models.filter(pl.col("language_code") == code).to_dicts()
        assert [r["source"] for r in rows] == ["human", *sorted(set(raw["generation_model"].drop_nulls()))]
        for r in rows:
            assert r["chosen"] + r["rejected"] == pairs.height
            assert r["chosen"] == int((pairs["chosen_model"] == r["source"]).sum())
            assert r["answers"] == int((raw["status"] == "judged").sum())
            assert r["judge_mean_ratings"] is None  # one judge
        card = (out / "dpo-factory" / f"aya_{name}_dpo" / "README.md").read_text(encoding="utf-8")
        assert "## Models" in card and "| human (Aya) |" in card
        assert "- agreement between the judges (Krippendorff's α, ordinal): one judge" in card


def test_card_and_files(report: tuple[Path, str]) -> None:
    folder, _ = report
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "**3 of 7 Aya languages have curated preference data.**" in card
    assert "| Dutch | `nld` |" in card
    assert "not counted (pass --hub-search" in card
    assert (folder / "coverage.png").read_bytes().startswith(b"\x89PNG")


class _Table(html.parser.HTMLParser):
    """The coverage table's headers and rows, the summary, and anything the page would fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows = 0
        self.summary = ""
        self._in: str | None = None
        self._table: list[str | None] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in = tag
        if tag == "table":
            self._table.append(dict(attrs).get("id"))
        in_coverage = bool(self._table) and self._table[-1] == "coverage"
        self.rows += tag == "tr" and in_coverage
        for name, value in attrs:
            if name in {"src", "href"} and value and "://" in value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self._in == "th" and self._table and self._table[-1] == "coverage":
            self.headers.append(data)
        if self._in == "h1":
            self.summary += data

    def handle_endtag(self, tag: str) -> None:
        self._in = None
        if tag == "table":
            self._table.pop()


def test_dashboard_is_a_self_contained_table(report: tuple[Path, str]) -> None:
    folder, _ = report
    page = _Table()
    page.feed((folder / "dashboard.html").read_text(encoding="utf-8"))
    (data,) = (folder / "data").glob("train-*.parquet")
    coverage = pl.read_parquet(data)
    assert page.summary == "3 of 7 Aya languages have curated preference data"
    assert page.headers[:4] == ["language", "code", "Aya rows", "status"]
    assert {"human-verified pairs", "judge–human agreement"} <= set(page.headers)
    assert page.rows == coverage.height + 1  # one header row
    assert page.external == []  # nothing to fetch, and dataset links point into --out: it opens offline


def test_history_has_a_snapshot_per_report_with_new_data(report: tuple[Path, str]) -> None:
    folder, output = report
    out = folder.parents[1]
    history = load(out, "dpo-language-coverage", "history")
    coverage = load(out, "dpo-language-coverage")
    first, second = sorted(set(history["generated_at"]))
    assert history["report_id"].n_unique() == 2
    for at in (first, second):
        assert history.filter(pl.col("generated_at") == at).height == coverage.height  # one row per language
    pairs = {
        (r["generated_at"], r["language_code"]): r["curated_pairs"]
        for r in history.filter(pl.col("language_code").is_in(RUN)).iter_rows(named=True)
    }
    assert pairs[(first, "nld")] > 0 and pairs[(first, "jpn")] == pairs[(first, "spa")] == 0
    latest = coverage.filter(pl.col("language_code").is_in(RUN)).select("language_code", "curated_pairs")
    assert all(pairs[(second, code)] == n for code, n in latest.iter_rows())
    assert {"raw_rows", "judged_rows", "human_verified_pairs", "judge_failure_rate"} <= set(history.columns)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "config_name: history" in card and "for each of the 2 reports that changed a number" in card
    assert "history: 2 snapshots (this report's added)" in output


def test_a_report_with_nothing_new_adds_no_snapshot(report: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = report
    out = tmp_path / "out"
    shutil.copytree(folder.parents[1], out)
    before = read_local_file(out, "dpo-factory/dpo-language-coverage", "history")
    code, output = invoke("coverage", "--source", "sample", "--out", str(out))
    assert code == 0, output
    after = read_local_file(out, "dpo-factory/dpo-language-coverage", "history")
    assert after.equals(before)
    assert "history: 2 snapshots (nothing changed since the last, none added)" in output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
# Measured in the page: page and table widths, each coverage row's height against its line height,
# and the history chart's snapshot markers that are drawn.
MEASURE = """() => {
  const root = document.documentElement, box = document.querySelector("#coverage").parentElement;
  const rows = Array.from(document.querySelectorAll("#coverage tbody tr")).map((row) => {
    const style = getComputedStyle(row.cells[0]);
    return {height: row.getBoundingClientRect().height, line: parseFloat(style.lineHeight),
            padding: parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + 1};
  });
  const drawn = Array.from(document.querySelectorAll("#history-languages circle.snapshot"))
    .filter((c) => c.getBoundingClientRect().width > 0).map((c) => c.getAttribute("cx"));
  return {pageWidth: root.scrollWidth, viewport: root.clientWidth, rows: rows,
          tableWidth: box.scrollWidth, boxWidth: box.clientWidth, snapshots: new Set(drawn).size,
          bars: document.querySelectorAll("#pairs-bars .bar").length,
          zero: document.querySelector("#pairs details.zero summary").textContent};
}"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize(
    ("width", "height", "phone"), [(1280, 800, False), (390, 844, True)], ids=["laptop", "phone"]
)
def test_dashboard_reads_well_in_headless_chromium(
    report: tuple[Path, str], tmp_path: Path, width: int, height: int, phone: bool
) -> None:
    """No page-wide sideways scrolling, no row taller than three lines, both snapshots on the chart,
    and not one request beyond the file itself."""
    from playwright.sync_api import Route, sync_playwright

    folder, _ = report
    page_url = (folder / "dashboard.html").as_uri()
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
            )
            page = context.new_page()

            def only_the_page(route: Route) -> None:
                requested.append(route.request.url)
                if route.request.url == page_url:
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", only_the_page)
            page.goto(page_url)
            measured = page.evaluate(MEASURE)
            page.screenshot(path=tmp_path / f"dashboard-{width}.png", full_page=True)
        finally:
            browser.close()
    assert requested == [page_url]
    assert measured["viewport"] == width
    assert measured["pageWidth"] <= width, measured["pageWidth"]  # no page-wide sideways scrolling
    if phone:
        assert measured["tableWidth"] > measured["boxWidth"]  # the wide table scrolls in its own box instead
    tallest = max(measured["rows"], key=lambda row: row["height"])
    assert tallest["height"] <= 3 * tallest["line"] + tallest["padding"], tallest
    assert measured["snapshots"] >= 2
    assert measured["bars"] == len(RUN)  # languages with pairs; the others are one line behind a toggle
    assert measured["zero"].endswith("configured languages have no pairs yet")
    shot = tmp_path / f"dashboard-{width}.png"
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
