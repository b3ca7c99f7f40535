"""The one error every publishing step raises, so the local and the Hub side need not import each other."""


class PublishError(RuntimeError):
    """The datasets cannot be written or pushed; nothing was changed."""
