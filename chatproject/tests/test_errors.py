"""The error envelope from every layer: DRF, Django's URL resolver, unexpected
exceptions and the database."""

import logging

import pytest
from django.db import OperationalError

from users.api import UserDirectoryView


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"] == response["X-Request-ID"]
    assert isinstance(error["details"], dict)
    return error


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_path_is_a_404_envelope_not_a_django_page(db, client, settings, debug):
    settings.DEBUG = debug
    assert_envelope(client.get("/api/no-such-thing"), 404, "not_found")


def test_non_digit_id_in_a_path_is_a_404_envelope(user_client):
    assert_envelope(user_client.get("/api/users/abc"), 404, "not_found")


def test_method_not_allowed_is_a_405_envelope(user_client):
    assert_envelope(user_client.delete("/api/users"), 405, "method_not_allowed")


def test_malformed_json_is_a_400_envelope(user_client):
    response = user_client.post("/api/messages", "{not json", content_type="application/json")
    assert_envelope(response, 400, "parse_error")


def test_form_encoded_body_is_a_415_envelope(user_client):
    response = user_client.post("/api/messages", {"text": "hi"}, format="multipart")
    assert_envelope(response, 415, "unsupported_media_type")


def test_oversized_body_is_a_413_envelope(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = '{"text": "' + "x" * 2048 + '"}'
    response = user_client.post("/api/messages", body, content_type="application/json")
    assert_envelope(response, 413, "payload_too_large")


@pytest.mark.parametrize("debug", [True, False])
def test_unexpected_exception_is_a_500_envelope_without_traceback(
    user_client, monkeypatch, settings, caplog, debug
):
    settings.DEBUG = debug

    def explode(self):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(UserDirectoryView, "get_queryset", explode)
    with caplog.at_level(logging.ERROR):
        response = user_client.get("/api/users")
    error = assert_envelope(response, 500, "internal_error")
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    logged = [record for record in caplog.records if record.exc_info]
    assert logged and "secret internal detail" in str(logged[0].exc_info[1])
    assert error["requestId"] == response["X-Request-ID"]


def test_database_unavailable_is_a_503_envelope(user_client, monkeypatch):
    def unavailable(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(UserDirectoryView, "get_queryset", unavailable)
    assert_envelope(user_client.get("/api/users"), 503, "service_unavailable")


def test_a_well_formed_incoming_request_id_is_kept(user_client):
    response = user_client.get("/api/no-such-thing", HTTP_X_REQUEST_ID="client-chosen-id-42")
    assert response["X-Request-ID"] == "client-chosen-id-42"
    assert response.json()["error"]["requestId"] == "client-chosen-id-42"


def test_a_malformed_incoming_request_id_is_replaced(user_client):
    response = user_client.get("/api/users", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_request_id_is_in_the_log_line(user_client, monkeypatch, caplog):
    monkeypatch.setattr(
        UserDirectoryView, "get_queryset", lambda self: (_ for _ in ()).throw(RuntimeError("x"))
    )
    from chatproject.request_context import RequestIdLogFilter

    with caplog.at_level(logging.ERROR):
        caplog.handler.addFilter(RequestIdLogFilter())
        response = user_client.get("/api/users", HTTP_X_REQUEST_ID="trace-me-123456")
    assert response.status_code == 500
    assert any(record.request_id == "trace-me-123456" for record in caplog.records)


def test_non_api_pages_keep_html_errors(db, client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
