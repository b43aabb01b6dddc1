"""Small helpers shared by the API tests of several apps."""

from typing import Any

from rest_framework.test import APIClient


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert that `response` is the API error envelope with `status` (and
    `code`), whose requestId is the X-Request-ID header; return the error."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert set(error) == {"code", "message", "requestId", "details"}, error
    if code is not None:
        assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], dict), error
    assert error["requestId"], error
    assert error["requestId"] == response["X-Request-ID"]
    return error


def post_message(client, conversation, sender, text: str, headers=None, **extra):
    """POST /api/messages as the documented body (ids as strings)."""
    body = {
        "conversationId": str(conversation.pk),
        "sender": str(sender.pk),
        "text": text,
        **extra,
    }
    return client.post("/api/messages", body, format="json", headers=headers)


def client_for(user) -> APIClient:
    """An API client authenticated as `user` (force_authenticate: tests of
    token and session authentication themselves live in users/tests)."""
    client = APIClient()
    client.force_authenticate(user)
    return client
