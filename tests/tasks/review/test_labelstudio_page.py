"""The labelling page in a real browser: a pair's text shows as text, never runs, and gives nothing away.

A Label Studio server from `.venv-labelstudio`, a project made by the project's own client, one task
made by `review_task` whose prompt and answers carry HTML and JavaScript, and Debian's Chromium
logged in as the admin on the task's labelling page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from languages.review import Review
from languages.schema import load_language
from tasks.review.labelstudio import LabelStudio
from tasks.review.pairs import SIDES, pair_key, review_task
from tests.labelstudio_server import ADMIN, LabelStudioServer, running

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; a browser is never downloaded
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE_TIMEOUT_MS = 180_000  # a ceiling for a busy machine, not a measurement

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
LINK = '<a href="javascript:window.__xss=3">open me</a>'
PROMPT = f"PROMPT-TEXT {IMG} then {SCRIPT} then {LINK}"
HUMAN = f"ANSWER-ONE {LINK} and {IMG}"
LLM = f"ANSWER-TWO {SCRIPT} and {IMG}"
RATIONALES = ["RATIONALE-FOR-ONE is well argued", "RATIONALE-FOR-TWO misses the point"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} is not installed")


@pytest.fixture(scope="module")
def label_studio() -> Iterator[LabelStudioServer]:
    with running("label-studio-page-") as server:
        yield server


def _session_cookies(server: LabelStudioServer) -> list[dict[str, str]]:
    """The admin logs in through the web form (CSRF cookie, then the form); the browser gets the session."""
    with httpx.Client(base_url=server.url, timeout=60, follow_redirects=False) as form:
        form.get("/user/login/")
        answer = form.post(
            "/user/login/",
            data={
                "email": ADMIN,
                "password": server.password,
                "csrfmiddlewaretoken": form.cookies["csrftoken"],
            },
            headers={"Referer": f"{server.url}/user/login/"},
        )
        assert answer.status_code == 302, answer.text[:300]
        assert "sessionid" in form.cookies
        return [
            {"name": name, "value": value, "url": server.url}
            for name, value in form.cookies.items()
            if name in ("sessionid", "csrftoken")
        ]


def _server_data(server: LabelStudioServer, task_id: str) -> dict:
    """The task's data as the server holds it: all that any page can show."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.token}"}) as api:
        return api.get(f"/api/tasks/{task_id}").raise_for_status().json()["data"]


def test_labelling_page_shows_text_and_runs_none_of_it(
    label_studio: LabelStudioServer, tmp_path: Path
) -> None:
    config = load_language("nld").model_copy(
        update={"review": Review(backend="labelstudio", url=label_studio.url)}
    )
    # A raw-like row: what a page must not show (models, ratings, rationales) is in it too.
    row = {
        "id": "nld-page-check",
        "instruction": PROMPT,
        "generations": [HUMAN, LLM],
        "generation_models": ["human", config.generation.model],
        "model_name": config.judge.model,
        "ratings": [5, 2],
        "rationales": RATIONALES,
    }
    task = review_task(row, pair_key(row["id"], HUMAN, LLM))
    client = LabelStudio(label_studio.url, label_studio.token)
    try:
        project = client.project(config)
        assert client.send(project, [task]) == 1
        (sent,) = client.tasks(project)
    finally:
        client.close()

    dialogs: list[str] = []
    page_errors: list[str] = []
    fetched_x: list[str] = []  # an <img src=x> that became an element would fetch .../x
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_cookies(_session_cookies(label_studio))
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.on("pageerror", lambda error: page_errors.append(str(error)[:300]))
            page.on(
                "request",
                lambda request: fetched_x.append(request.url) if request.url.endswith("/x") else None,
            )

            page.goto(
                f"{label_studio.url}/projects/{project}/data?task={sent.id}", wait_until="domcontentloaded"
            )
            # Each <Text> renders as .lsf-richtext__container; the Data Manager's table cells, which
            # hold the same text, are not these.
            texts = page.locator(".lsf-richtext__container")
            prompt = texts.filter(has_text="PROMPT-TEXT")
            answers = {side: texts.filter(has_text=task["data"][side].split()[0]) for side in SIDES}
            for shown in (prompt, *answers.values()):
                shown.wait_for(state="visible")
            page.wait_for_load_state("networkidle")  # images the page asked for have loaded or failed
            page.screenshot(path=tmp_path / "labelling_page.png", full_page=True)  # kept when a check fails

            # The payloads are on the page as text, in the labelling panel's three texts.
            assert texts.count() == 3
            assert prompt.inner_text().strip() == PROMPT
            for side, shown in answers.items():
                assert shown.inner_text().strip() == task["data"][side]
            body = page.inner_text("body")
            for payload in (IMG, SCRIPT, LINK):
                assert payload in body

            # ... and none of them became markup or ran.
            def dom_count(selector: str) -> int:
                return page.evaluate("(selector) => document.querySelectorAll(selector).length", selector)

            assert dom_count('img[src="x"]') == 0, page_errors
            assert dom_count('a[href^="javascript:"]') == 0, page_errors
            assert page.evaluate("() => [...document.scripts].some(s => s.text.includes('__xss'))") is False
            prompt.get_by_text("open me").click()  # the link's words, clicked: text, not a link
            assert page.evaluate("() => typeof window.__xss") == "undefined", page_errors
            assert dialogs == []
            assert fetched_x == []  # no <img src=x> was ever made, not even for a moment

            # Nothing tells which answer is whose, or what the judge thought.
            lowered = body.lower()
            for secret in (
                config.generation.model,
                config.judge.model,
                config.generation.model.split("/")[-1],
                *RATIONALES,
                "human_answer",
                "first_answer",
                "human",
                "rating",
                "rationale",
            ):
                assert secret.lower() not in lowered, secret
            assert set(_server_data(label_studio, sent.id)) == {"id", "prompt", *SIDES}
        finally:
            browser.close()
    assert (tmp_path / "labelling_page.png").stat().st_size > 0
