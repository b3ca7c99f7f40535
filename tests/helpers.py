"""Small helpers shared by tests and benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

from languages.schema import config_paths


def copy_configs(folder: Path, without: tuple[str, ...] = ()) -> Path:
    """A copy of the shipped language configs in `folder`, to edit without touching the real ones.

    `without` leaves out configs by code, for tests that add those languages the contributor's way.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for path in config_paths():
        if path.stem not in without:
            shutil.copy(path, folder / path.name)
    return folder
