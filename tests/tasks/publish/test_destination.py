from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from languages.schema import Curation, LanguageConfig
from tasks.format.kto import build_kto
from tasks.format.views import build_dpo, build_raw
from tasks.publish.cards import build_curated_repo, build_raw_repo
from tasks.publish.destination import local_path, read_local_raw, write_local
from tasks.publish.errors import PublishError
from tests.tasks.format.test_views import RESULTS

REPORT = {
    "source": "the sample",
    "generation_model": "gen-model",
    "judge_model": "judge-model",
    "filter": {"rows_in": 20, "kept": 7, "dropped": {"empty_prompt": 13}},
}


def _repos(config: LanguageConfig):
    raw = build_raw(RESULTS, "r1")
    dpo, drops = build_dpo(raw, Curation())
    return (
        raw,
        dpo,
        [build_raw_repo(config, raw, REPORT), build_curated_repo(config, dpo, build_kto(dpo), drops, REPORT)],
    )


def test_local_repos_load_with_datasets(tmp_path: Path, dutch: LanguageConfig) -> None:
    raw, dpo, repos = _repos(dutch)
    raw_dir, curated_dir = write_local(repos, tmp_path)
    assert raw_dir == tmp_path.resolve() / "dpo-factory" / "aya_dutch_dpo_raw"

    pairs = datasets.load_dataset(str(curated_dir), "default", split="train")
    kto = datasets.load_dataset(str(curated_dir), "kto", split="train")
    loaded_raw = datasets.load_dataset(str(raw_dir), split="train")
    assert pairs.num_rows == dpo.height
    assert kto.num_rows == 2 * dpo.height
    assert loaded_raw.num_rows == raw.height
    assert set(pairs.column_names) >= {"prompt", "chosen", "rejected", "chosen_rating", "rejected_rating"}
    assert pairs[0]["prompt"][0]["role"] == "user" and pairs[0]["chosen"][0]["role"] == "assistant"
    assert kto.features["label"].dtype == "bool"
    assert read_local_raw(tmp_path, dutch.raw_repo).height == raw.height


def test_rewrite_replaces_the_old_version_whole(tmp_path: Path, dutch: LanguageConfig) -> None:
    _, _, repos = _repos(dutch)
    write_local(repos, tmp_path)
    write_local(repos, tmp_path)
    leftovers = [p.name for p in (tmp_path / "dpo-factory").iterdir()]
    assert sorted(leftovers) == ["aya_dutch_dpo", "aya_dutch_dpo_raw"]


def test_failed_write_leaves_the_previous_version(tmp_path: Path, dutch: LanguageConfig) -> None:
    _, _, repos = _repos(dutch)
    write_local(repos, tmp_path)
    before = (tmp_path / "dpo-factory" / "aya_dutch_dpo" / "README.md").read_text(encoding="utf-8")
    repos[1].files["default"] = b"x"  # a file where the folder `default/` already stands: cannot be staged
    repos[1].card = "changed"
    with pytest.raises(PublishError, match="cannot write under"):
        write_local(repos, tmp_path)
    after = (tmp_path / "dpo-factory" / "aya_dutch_dpo" / "README.md").read_text(encoding="utf-8")
    assert after == before
    assert sorted(p.name for p in (tmp_path / "dpo-factory").iterdir()) == [
        "aya_dutch_dpo",
        "aya_dutch_dpo_raw",
    ]


@pytest.mark.parametrize("repo_id", ["../outside", "ns/../../outside", "/abs/path", "ns/./x"])
def test_repo_ids_cannot_leave_the_output_folder(tmp_path: Path, repo_id: str) -> None:
    with pytest.raises(PublishError, match="would write outside"):
        local_path(tmp_path, repo_id)


def test_a_write_killed_mid_swap_is_recovered(tmp_path: Path, dutch: LanguageConfig) -> None:
    _, _, repos = _repos(dutch)
    raw_dir, _ = write_local(repos, tmp_path)
    # What a kill between the two renames of a swap leaves: the old version aside, a staging folder.
    raw_dir.rename(raw_dir.with_name(f".{raw_dir.name}.old"))
    (raw_dir.parent / f".{raw_dir.name}.staging-abc123").mkdir()
    assert read_local_raw(tmp_path, dutch.raw_repo).height == 7  # the previous version is back
    write_local(repos, tmp_path)
    assert sorted(p.name for p in (tmp_path / "dpo-factory").iterdir()) == [
        "aya_dutch_dpo",
        "aya_dutch_dpo_raw",
    ]
