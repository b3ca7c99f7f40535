"""`dpo-factory`: run per-language flows and check language configs from the command line."""

from __future__ import annotations

import typer

from flows.cli import configs, review, run

app = typer.Typer(
    help="Turn the Aya dataset into per-language DPO, ORPO and KTO preference data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command()(run.run)
app.command()(run.coverage)
app.command()(run.dispatch)
app.command()(review.review)
app.command()(configs.validate)
app.command("new-language")(configs.new_language)
app.command()(configs.deployments)
app.command("languages")(configs.list_languages)
