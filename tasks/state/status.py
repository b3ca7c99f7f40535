"""Row statuses in the raw dataset, shared by the LLM stage, formatting and incremental runs."""

STATUS_JUDGED = "judged"
STATUS_FAILED = "failed"
# Failed `max_attempts` times over several runs: not tried again unless a run asks (`--retry-failed`).
STATUS_GAVE_UP = "gave_up"

# The name the offline placeholder LLM (`--offline`) writes as generation and judge model. Its rows hold
# no model's answer or rating: for a run with a real generator they are not done work.
PLACEHOLDER_MODEL = "offline-placeholder"
