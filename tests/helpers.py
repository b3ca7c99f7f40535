"""Small helpers shared by tests and benchmarks."""

from __future__ import annotations

import shutil
from pathlib import Path

from languages.schema import config_paths


def copy_configs(folder: Path) -> Path:
    """A copy of the shipped language configs in `folder`, to edit without touching the real ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in config_paths():
        shutil.copy(path, folder / path.name)
    return folder
