"""`dpo-factory dispatch`: one flow run of the deployed per-language flow per language, on the work
pool, through Prefect's API. It never waits for the runs and never starts a temporary server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class DispatchError(RuntimeError):
    """No Prefect API, or no deployment to trigger on it; the message says which."""


def trigger(deployment: str, languages: list[str]) -> Iterator[tuple[str, Any]]:
    """Create a flow run of `deployment` with `language` set, for each language; yields (code, run)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

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
        try:
            client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            raise DispatchError(
                f"deployment {deployment} not found on {api}: run `prefect deploy --all` first"
            ) from None
    for language in languages:
        # timeout=0: create the run and return; a worker on the pool picks it up.
        yield language, run_deployment(deployment, parameters={"language": language}, timeout=0)
