"""The python code of a dataset card, made to run against a local copy of the repo.

Imported by tests/trl/train.py (in .venv-trl) and by the project's tests, so it needs nothing beyond
the standard library. A card's snippets are what a user runs; the only changes are the two ids: the
Hub repo id becomes the local folder, and the card's `model_id` a local model folder.
"""

from __future__ import annotations

import json
import re

MODEL_ID = re.compile(r'^model_id = "([^"]+)"', flags=re.MULTILINE)


def python_blocks(card: str) -> list[str]:
    """The fenced python blocks of a card, in order."""
    return re.findall(r"^```python\n(.*?)^```$", card, flags=re.DOTALL | re.MULTILINE)


def localized(block: str, hub_id: str, folder: str, model_dir: str | None = None) -> str:
    """`block` with the quoted Hub id replaced by `folder` and, given `model_dir`, the quoted model id by it.

    Raises ValueError when the block does not name the Hub id, or names a model id that `model_dir`
    should replace but does not get: a card whose snippets drifted from the data must fail the test.
    """
    if f'"{hub_id}"' not in block:
        raise ValueError(f"the snippet does not load {hub_id!r}:\n{block}")
    code = block.replace(f'"{hub_id}"', json.dumps(folder))
    found = MODEL_ID.search(block)
    if found:
        if model_dir is None:
            raise ValueError(f"the snippet names model {found.group(1)!r} and no local model was given")
        code = code.replace(f'"{found.group(1)}"', json.dumps(model_dir))
    return code
