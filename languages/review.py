"""The optional `review:` block of a language config: where people vote on judged pairs, and how many."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

REVIEW_BACKENDS = ("labelstudio", "argilla")


class Review(BaseModel):
    """Community review: judged pairs go to an annotation project, and people's votes come back.

    `url` says where the project lives; its API key is sent only when the operator names the same
    server in the environment (`LABEL_STUDIO_URL` / `ARGILLA_API_URL`), never because a config says so.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["labelstudio", "argilla"]
    url: Annotated[str, Field(pattern=r"^https?://", max_length=500)]
    # Submitted votes before a pair counts as decided (Label Studio's `maximum_annotations`,
    # Argilla's `min_submitted`).
    votes_per_pair: Annotated[int, Field(ge=1, le=15)] = 3
    # Pairs waiting for votes at once; more are sent as these are done.
    max_open_pairs: Annotated[int, Field(ge=1, le=100_000)] = 300
    # Shown to annotators above every pair; ideally written in the language.
    guidelines: Annotated[str, Field(max_length=4_000)] = ""
