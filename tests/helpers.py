"""Small helpers shared by tests and benchmarks."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
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


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from the kernel's per-thread child lists (Linux): quick, so a
    test that kills a process right after a check does not give it time to do more work first."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = {int(child) for child in children.read_text().split()}
            except OSError:
                continue
            frontier += sorted(pids - found)
            found |= pids
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def sigkill_cli(process: subprocess.Popen, grace: float = 15.0) -> list[str]:
    """SIGKILL a CLI process alone (not its children) and return the command lines of its processes
    still running `grace` seconds later: the Prefect server it started must not outlive it."""
    below = descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + grace
    while any(alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = []
    for pid in below:
        if alive(pid):
            try:
                left.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return left
