"""Hostile input that used to be a 500: JSON nested deeper than the parser
can recurse (issue 10 item 8)."""

import logging

import pytest

DEEPLY_NESTED = "[" * 100_000 + "]" * 100_000


def assert_parse_error_logged_quietly(response, caplog) -> None:
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert error["requestId"] == response["X-Request-ID"]
    assert len(caplog.records) <= 1, [record.getMessage() for record in caplog.records]
    assert not any(record.exc_info for record in caplog.records)
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("body", [DEEPLY_NESTED, '{"a":' * 20_000 + "1" + "}" * 20_000])
def test_deeply_nested_json_on_an_anonymous_endpoint_is_a_400(api_client, db, caplog, body):
    with caplog.at_level(logging.DEBUG):
        response = api_client.post("/api/auth/token", body, content_type="application/json")
    assert_parse_error_logged_quietly(response, caplog)


@pytest.mark.parametrize("path", ["/api/messages", "/api/conversations"])
def test_deeply_nested_json_on_an_authenticated_endpoint_is_a_400(user_client, caplog, path):
    with caplog.at_level(logging.DEBUG):
        response = user_client.post(path, DEEPLY_NESTED, content_type="application/json")
    assert_parse_error_logged_quietly(response, caplog)
