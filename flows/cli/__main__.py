"""`python -m flows.cli`: the same as `dpo-factory`."""

from flows.cli import app

app()
