"""Row statuses in the raw dataset, shared by the LLM stage, formatting and incremental runs."""

STATUS_JUDGED = "judged"
STATUS_FAILED = "failed"
# Failed `max_attempts` times over several runs: not tried again unless a run asks (`--retry-failed`).
STATUS_GAVE_UP = "gave_up"
