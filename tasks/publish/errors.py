"""The one error every publishing step raises, so the local and the Hub side need not import each other."""


class PublishError(RuntimeError):
    """The datasets cannot be written or pushed; nothing was changed."""


# The offline placeholder's rows hold no model's answer: they may be written to a folder for a dry run,
# never published on the Hub.
OFFLINE_PUSH = (
    "--offline writes placeholder text, not model answers: it is never pushed to the Hub "
    "(use --out DIR for a dry run, or a real LLM with --push)"
)
