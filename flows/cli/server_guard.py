"""Stop the CLI's temporary Prefect server once the CLI process is gone, however it ended.

The CLI starts this script with a pipe on its standard input that only the CLI holds. When the CLI
exits, crashes or is killed (SIGKILL and the OOM killer included), the kernel closes that pipe,
the read below returns, and the server is stopped: no orphaned uvicorn is left on the machine.
Run by path (not `-m`), so it imports nothing of the project and starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

GRACE_SECONDS = 5.0


def _running(pid: int) -> bool:
    """True while `pid` is a live (not zombie) process that is still the Prefect server."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z" and b"uvicorn" in command


def stop(pid: int) -> None:
    """SIGTERM, then SIGKILL after a grace period: what Prefect's own `stop` does."""
    if not _running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _running(pid):
        os.kill(pid, signal.SIGKILL)


def main() -> None:
    # Ctrl-C is for the CLI, which then stops the server itself; this process must outlive it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server_pid = int(sys.argv[1])
    sys.stdin.buffer.read()  # returns at end of file: the CLI is gone
    stop(server_pid)


if __name__ == "__main__":
    main()
