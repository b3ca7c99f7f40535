"""CONTRIBUTING.md, followed to the letter and offline, for three languages lid.176 cannot check well.

Yoruba, Kinyarwanda and Norwegian Bokmål are scaffolded with `new-language` into a copy of the
configs, given a system prompt written in the language, validated, scheduled, and run on rows written
in the language against the local OpenAI-compatible server. Each must end with curated pairs.
The prompts, rows and answers are written for this project.
"""

from __future__ import annotations

import json
import re
import traceback
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from flows.cli import app
from languages.schema import load_language
from tests.helpers import copy_configs
from tests.openai_server import OpenAIServer

runner = CliRunner()

YORUBA_PROMPT = (
    "Olùrànlọ́wọ́ tó wúlò ni ọ́. Máa dáhùn gbogbo ìbéèrè ní èdè Yorùbá nìkan, kódà tí ìbéèrè bá mẹ́nu ba "
    "èdè mìíràn. Fún wa ní ìdáhùn tó ṣe kedere, tó tọ̀nà, tó sì péye."
)
KINYARWANDA_PROMPT = (
    "Uri umufasha w'ingirakamaro. Subiza buri kibazo mu Kinyarwanda gusa, n'iyo ikibazo kivuga izindi "
    "ndimi. Tanga igisubizo gisobanutse, gikwiye kandi cyuzuye."
)
BOKMAL_PROMPT = (
    "Du er en hjelpsom assistent. Svar alltid på norsk bokmål, også når spørsmålet nevner andre språk. "
    "Gi et klart, riktig og fullstendig svar."
)

# (what a contributor types, config code, Aya's `language` name, system prompt, rows)
LANGUAGES = [
    ("yo", "yor", "Yoruba", YORUBA_PROMPT, [
        ("Kí ni olú-ìlú orílẹ̀-èdè Nàìjíríà?",
         "Olú-ìlú orílẹ̀-èdè Nàìjíríà ni Àbújá. Wọ́n gbé e kúrò ní Èkó lọ sí Àbújá ní ọdún 1991."),
        ("Ṣàlàyé ìdí tí ó fi yẹ kí a máa mu omi púpọ̀ lójoojúmọ́.",
         "Omi ṣe pàtàkì fún ara ènìyàn. Ó ń ran ẹ̀jẹ̀ lọ́wọ́ láti gbé oúnjẹ káàkiri ara, ó sì ń mú kí ara "
         "wa tutù nígbà tí ooru bá mú."),
        ("Báwo ni a ṣe ń kí àgbàlagbà ní ilẹ̀ Yorùbá ní òwúrọ̀?",
         'Ní òwúrọ̀, ọmọdé máa ń kúnlẹ̀ tàbí dọ̀bálẹ̀, á sì sọ pé "Ẹ káàárọ̀ o." Èyí fi ìbọ̀wọ̀ hàn fún '
         "àgbàlagbà."),
        ("Kọ ìtumọ̀ òwe yìí: Àgbájọ ọwọ́ la fi ń sọ̀yà.",
         "Òwe yìí kọ́ wa pé ìṣọ̀kan ni agbára. Bí ènìyàn bá dá nìkan ṣe iṣẹ́, kò ní lágbára tó ìgbà tí "
         "gbogbo wa bá jọ ṣe é pọ̀."),
        ("Dárúkọ oúnjẹ mẹ́ta tí àwọn Yorùbá fẹ́ràn.",
         "Àwọn Yorùbá fẹ́ràn àmàlà pẹ̀lú ọbẹ̀ ewédú, ìyán pẹ̀lú ọbẹ̀ ẹ̀gúsí, àti ẹ̀wà pẹ̀lú dòdò."),
    ]),
    ("rw", "kin", "Kinyarwanda", KINYARWANDA_PROMPT, [
        ("Umurwa mukuru w'u Rwanda ni uwuhe?",
         "Umurwa mukuru w'u Rwanda ni Kigali. Ni wo mujyi munini kurusha iyindi mu gihugu."),
        ("Sobanura impamvu ari ngombwa kunywa amazi menshi buri munsi.",
         "Amazi ni ingenzi ku buzima bw'umuntu. Afasha umubiri gukora neza, agatuma amaraso atembera neza "
         "kandi akagabanya umunaniro."),
        ("Ni gute wateka ibishyimbo biryoshye?",
         "Banza ushyire ibishyimbo mu mazi ijoro ryose. Bukeye ubiteke ku muriro muke kugeza bihiye, "
         "hanyuma wongeremo igitunguru, inyanya n'umunyu."),
        ("Umuganda ni iki mu Rwanda?",
         "Umuganda ni igikorwa rusange kiba ku wa gatandatu wa nyuma wa buri kwezi. Abaturage bahurira "
         "hamwe bagakora imirimo ifitiye igihugu akamaro, nko gusana imihanda."),
        ("Vuga inyamaswa eshatu ziboneka muri Pariki y'Akagera.",
         "Muri Pariki y'Akagera haboneka intare, inzovu n'imparage. Hari kandi n'imbogo nyinshi."),
    ]),
    ("nb", "nob", "Norwegian Bokmål", BOKMAL_PROMPT, [
        ("Hva er hovedstaden i Norge?",
         "Hovedstaden i Norge er Oslo. Byen ligger innerst i Oslofjorden og er landets største by."),
        ("Hvordan kan jeg lære meg å gå på ski som voksen?",
         "Start med et kurs i langrenn eller alpint, gjerne i en slakk bakke. Øv litt hver helg, og ikke "
         "vær redd for å falle. Det hører med når man lærer."),
        ("Forklar forskjellen mellom bokmål og nynorsk.",
         "Bokmål og nynorsk er de to offisielle skriftformene av norsk. Bokmål bygger på dansk "
         "skriftspråk, mens nynorsk ble laget av Ivar Aasen ut fra norske dialekter."),
        ("Gi meg tre tips for å spare strøm hjemme om vinteren.",
         "Senk temperaturen om natten, tett vinduer og dører som trekker, og slå av lys og apparater du "
         "ikke bruker."),
        ("Hva betyr uttrykket «å ta seg vann over hodet»?",
         "Det betyr å påta seg mer enn man klarer. Hvis du tar deg vann over hodet, har du sagt ja til en "
         "oppgave som er for stor for deg."),
    ]),
]  # fmt: skip
CODES = [code for _, code, *_ in LANGUAGES]


def invoke(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(arg) for arg in args])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    crash = "".join(traceback.format_exception(result.exception)) if crashed else ""
    return result.exit_code, result.stdout + result.stderr + crash


def write_prompt(path: Path, prompt: str) -> None:
    """What a contributor does in step 2: replace the TODO with the prompt, in double quotes."""
    text = path.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^(  system_prompt: ).*$", lambda m: f'{m.group(1)}"{prompt}"', text)
    assert count == 1
    path.write_text(text, encoding="utf-8")


def write_rows(path: Path) -> Path:
    """An Aya-shaped jsonl file with the rows of the three languages."""
    with path.open("w", encoding="utf-8") as file:
        for _, code, aya_name, _, rows in LANGUAGES:
            for i, (prompt, answer) in enumerate(rows):
                row = {
                    "inputs": prompt,
                    "targets": answer,
                    "language": aya_name,
                    "language_code": code,
                    "annotation_type": "original-annotations",
                    "user_id": f"{code}-contributor-{i}",
                }
                file.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def contributed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Steps 1-3 and 5 of CONTRIBUTING.md for the three languages, in a copy of the configs folder."""
    # Yoruba ships a config now; the test adds it again from scratch, as a contributor would.
    configs = copy_configs(tmp_path_factory.mktemp("contrib") / "languages", without=("yor",))
    for query, code, _, prompt, _ in LANGUAGES:
        status, output = invoke("new-language", query, "--languages-dir", configs)
        assert status == 0, output
        path = configs / f"{code}.yaml"
        # Until the prompt is written, validate says exactly that and nothing else.
        status, output = invoke("validate", path)
        assert status == 1 and output.strip().endswith(
            "still a TODO; write it in " + load_language(code, configs).name
        ), output
        write_prompt(path, prompt)
        status, output = invoke("validate", path)
        assert (status, output.strip()) == (0, "1 language config(s) valid"), output
    status, output = invoke("validate", "--languages-dir", configs)
    assert status == 0, output
    status, output = invoke(
        "deployments",
        "--write",
        "--languages-dir",
        configs,
        "--prefect-file",
        configs.parent / "prefect.yaml",
    )
    assert status == 0, output
    return configs


def test_scaffolded_configs_use_offline_models_that_read_the_language(contributed: Path) -> None:
    chosen = {code: load_language(code, contributed).lid for code in CODES}
    assert {code: (lid.model, lid.labels) for code, lid in chosen.items()} == {
        "yor": ("langid", ["yo"]),
        "kin": ("langid", ["rw"]),
        "nob": ("cld3", ["no"]),
    }
    # The repo ids are ASCII, so the Hub takes them.
    assert load_language("nob", contributed).curated_repo == "dpo-factory/aya_norwegian_bokmal_dpo"
    schedule = (contributed.parent / "prefect.yaml").read_text(encoding="utf-8")
    assert all(f"language: {code}" in schedule for code in CODES)


def test_each_language_gives_curated_pairs_offline(contributed: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "rows.jsonl")
    out = tmp_path / "out"
    with OpenAIServer() as server:
        status, output = invoke(
            "run", *CODES, "--source", rows, "--out", out, "--languages-dir", contributed,
            "--llm-base-url", server.base_url, "--llm-model", "test-model", "--summary-json", out / "summary.json",
        )  # fmt: skip
    assert status == 0, output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["failed"] == []
    for report in summary["languages"]:
        assert report["filter"]["rows_in"] == 15
        assert report["filter"]["kept"] >= 4, report["filter"]
        assert report["datasets"]["curated_pairs"] >= 1, report
        assert report["quality"]["wrong_language_rate"] == 0.0
        repo = out / report["repos"]["curated"]
        pairs = datasets.load_dataset(str(repo), "default", split="train")
        assert pairs.num_rows == report["datasets"]["curated_pairs"]


def test_a_failing_language_is_named(contributed: Path, tmp_path: Path) -> None:
    """`run nob kin` with Kinyarwanda on GlotLID, offline: the error line starts with `kin:`."""
    configs = copy_configs(tmp_path / "languages")
    for code in ("nob", "kin"):
        (configs / f"{code}.yaml").write_bytes((contributed / f"{code}.yaml").read_bytes())
    kin = configs / "kin.yaml"
    text = kin.read_text(encoding="utf-8").replace("model: langid", "model: glotlid")
    kin.write_text(text.replace('labels: ["rw"]', 'labels: ["kin_Latn"]'), encoding="utf-8")
    rows = write_rows(tmp_path / "rows.jsonl")
    with OpenAIServer() as server:
        status, output = invoke(
            "run", "nob", "kin", "--source", rows, "--out", tmp_path / "out", "--languages-dir", configs,
            "--llm-base-url", server.base_url, "--llm-model", "test-model",
        )  # fmt: skip
    assert status == 1
    (line,) = [line for line in output.splitlines() if line.startswith("error:")]
    assert line.startswith("error: kin: GlotLID not available offline"), line


def test_a_yml_config_is_refused_by_run_with_the_reason(contributed: Path, tmp_path: Path) -> None:
    configs = copy_configs(tmp_path / "languages")
    (configs / "kin.yml").write_bytes((contributed / "kin.yaml").read_bytes())
    status, output = invoke("run", "kin", "--source", "sample", "--offline", "--languages-dir", configs)
    assert status == 2
    assert f"{configs / 'kin.yml'} is not read: config files end in .yaml; rename it to kin.yaml" in output
