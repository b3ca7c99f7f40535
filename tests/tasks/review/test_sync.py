"""Review credentials: a key goes only to the server the operator named."""

from __future__ import annotations

import pytest

from languages.review import Review
from tasks.review.errors import ReviewError
from tasks.review.sync import review_client


def _review(url: str) -> Review:
    return Review(backend="labelstudio", url=url)


@pytest.mark.parametrize(
    "named",
    [None, "http://127.0.0.1:9091", "https://127.0.0.1:9090", "http://127.0.0.1.evil.example:9090"],
)
def test_no_key_for_a_server_the_operator_did_not_name(monkeypatch, named: str | None) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "secret-key-123")
    if named:
        monkeypatch.setenv("LABEL_STUDIO_URL", named)
    else:
        monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    with pytest.raises(ReviewError, match="is sent only to the server LABEL_STUDIO_URL names") as caught:
        review_client(_review("http://127.0.0.1:9090"))
    assert "secret-key-123" not in str(caught.value)


def test_the_named_server_gets_the_key(monkeypatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "secret-key-123")
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9090/")
    client = review_client(_review("http://127.0.0.1:9090"))
    assert client._client.headers["Authorization"] == "Token secret-key-123"
    client.close()


def test_an_unknown_backend_is_a_config_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="backend"):
        Review(backend="doccano", url="http://127.0.0.1:9090")
