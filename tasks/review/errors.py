"""The one error a review sync raises: a line that names the server and what went wrong."""


class ReviewError(RuntimeError):
    """The annotation server could not be used; published LLM results are untouched, the next sync retries."""
