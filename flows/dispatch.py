"""`dpo-factory dispatch`: one flow run of the deployed per-language flow per language, on the work
pool, through Prefect's API. It never waits for the runs and never starts a temporary server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class DispatchError(RuntimeError):
    """No Prefect API, or no deployment to trigger on it; the message says which."""


def trigger(languages: list[str]) -> Iterator[tuple[str, Any]]:
    """Create a flow run of each language's deployment (`aya-dpo-language/aya-dpo-<code>`); yields
    (code, run). Every deployment is looked up first, so a missing one creates no run at all."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from flows.deployments import FLOW_NAME, deployment_name

    api = PREFECT_API_URL.value()
    if not api:
        raise DispatchError(
            "no Prefect API to dispatch to: set PREFECT_API_URL to the server that holds the deployments "
            "(prefect config set PREFECT_API_URL=http://HOST:4200/api)"
        )
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
        if problem is not None:
            raise DispatchError(f"cannot reach the Prefect API at {api} ({type(problem).__name__})")
        names = {language: f"{FLOW_NAME}/{deployment_name(language)}" for language in languages}
        for name in names.values():
            try:
                client.read_deployment_by_name(name)
            except ObjectNotFound:
                raise DispatchError(
                    f"deployment {name} not found on {api}: run `prefect deploy --all` first"
                ) from None
    for language, name in names.items():
        # timeout=0: create the run and return; a worker on the pool picks it up. The deployment's
        # concurrency limit queues it behind a run of the same language that is still going.
        yield language, run_deployment(name, timeout=0)
