"""The access log: one logfmt line per request on `chatproject.access`, with
method, path, status, duration, user id and the request id of X-Request-ID."""

import json
import logging
import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from chatproject.middleware import logfmt_value
from users.services import issue_token

LINE = re.compile(
    r"^method=(?P<method>\S+) path=(?P<path>\S+|\"(?:[^\"\\]|\\.)*\") status=(?P<status>\d{3}) "
    r"duration_ms=(?P<duration_ms>\d+\.\d) user_id=(?P<user_id>\d+|-) "
    r"request_id=(?P<request_id>[A-Za-z0-9._-]+)$"
)


@pytest.fixture
def access_log(caplog):
    caplog.set_level(logging.INFO, logger="chatproject.access")

    def lines() -> list[dict]:
        records = [r for r in caplog.records if r.name == "chatproject.access"]
        parsed = []
        for record in records:
            match = LINE.match(record.getMessage())
            assert match, record.getMessage()
            fields = match.groupdict()
            assert record.access == {
                **fields,
                "path": json.loads(fields["path"])
                if fields["path"].startswith('"')
                else fields["path"],
                "status": int(fields["status"]),
                "duration_ms": float(fields["duration_ms"]),
            }
            parsed.append(fields)
        return parsed

    return lines


def test_one_line_per_api_request_with_the_user_and_request_id(user, access_log):
    _, key = issue_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    first = client.get("/api/users/me")
    second = client.get("/api/users", {"search": "x"})
    lines = access_log()
    assert len(lines) == 2
    assert lines[0] == {
        "method": "GET",
        "path": "/api/users/me",
        "status": "200",
        "duration_ms": lines[0]["duration_ms"],
        "user_id": str(user.pk),
        "request_id": first["X-Request-ID"],
    }
    assert float(lines[0]["duration_ms"]) >= 0
    assert lines[1]["path"] == "/api/users"  # no query string: it may carry secrets
    assert lines[1]["request_id"] == second["X-Request-ID"]


def test_a_failed_request_logs_its_status_and_no_user(db, access_log):
    response = APIClient().post("/api/messages", {}, format="json")
    [line] = access_log()
    assert (line["method"], line["status"], line["user_id"]) == ("POST", "401", "-")
    assert line["request_id"] == response.json()["error"]["requestId"]


def test_the_clients_request_id_is_logged(user_client, access_log):
    user_client.get("/api/users/me", headers={"X-Request-ID": "client-chosen-id-1"})
    [line] = access_log()
    assert line["request_id"] == "client-chosen-id-1"


def test_a_page_request_logs_the_session_user(user, access_log):
    client = Client()
    client.force_login(user)
    response = client.get("/")
    [line] = access_log()
    assert (line["path"], line["status"], line["user_id"]) == ("/", "200", str(user.pk))
    assert line["request_id"] == response["X-Request-ID"]


def test_an_unexpected_exception_is_logged_as_a_500(user_client, access_log, monkeypatch):
    from users import api

    def explode(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.CurrentUserView, "get", explode)
    response = user_client.get("/api/users/me")
    assert response.status_code == 500
    [line] = [line for line in access_log() if line["path"] == "/api/users/me"]
    assert line["status"] == "500"
    assert line["request_id"] == response["X-Request-ID"]


def test_a_hostile_path_cannot_forge_fields_or_lines(db, access_log):
    Client().get("/api/no%20such%22%20status=200%20user_id=1%0Aforged=1")
    [line] = access_log()
    assert line["status"] == "404" and line["user_id"] == "-"
    assert json.loads(line["path"]) == '/api/no such" status=200 user_id=1\nforged=1'


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("/api/users/me", "/api/users/me"),
        ("/a b", '"/a b"'),
        ("/a=b", '"/a=b"'),
        ('/a"b', '"/a\\"b"'),
        ("/a\nb", '"/a\\nb"'),
        ("", '""'),
    ],
)
def test_logfmt_values(value, logged):
    assert logfmt_value(value) == logged
