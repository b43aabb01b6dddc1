"""What `redocly lint` (recommended-strict) and `asyncapi validate` found in
the two documents (issue 10 item 20), checked here without them; .ci/run
runs both tools on the documents that `manage.py spectacular` and
`manage.py asyncapi` write."""

import json

import pytest
import yaml
from django.core.management import call_command

PUBLIC_OPERATIONS = {("post", "/api/auth/signup"), ("post", "/api/auth/token")}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory, django_db_blocker) -> dict:
    path = tmp_path_factory.mktemp("schema") / "openapi.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def schema_objects(node, where="#"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from schema_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from schema_objects(value, f"{where}/{index}")


def test_no_nullable_without_a_sibling_type(openapi):
    loose = [
        where
        for where, node in schema_objects(openapi)
        if node.get("nullable") is True and "type" not in node
    ]
    assert not loose


def test_public_operations_say_they_need_no_credentials(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            assert "security" in operation, (method, path)
            assert (operation["security"] == []) == ((method, path) in PUBLIC_OPERATIONS)


def test_the_openapi_document_names_its_server(openapi):
    assert openapi["servers"] == [
        {"url": "/", "description": "The server this document is served by."}
    ]


@pytest.mark.parametrize(
    ("host", "secure", "protocol"),
    [("chat.example.com", True, "wss"), ("127.0.0.1:9000", False, "ws")],
)
def test_the_asyncapi_server_is_the_one_that_served_the_document(
    client, settings, host, secure, protocol
):
    settings.ALLOWED_HOSTS = [host.split(":")[0]]
    document = client.get("/api/asyncapi.json", HTTP_HOST=host, secure=secure).json()
    assert [(server["host"], server["protocol"]) for server in document["servers"].values()] == [
        (host, protocol)
    ]


def test_manage_asyncapi_writes_the_document(tmp_path, db):
    path = tmp_path / "asyncapi.json"
    call_command("asyncapi", "--file", str(path), "--host", "chat.example.com", "--protocol", "wss")
    document = json.loads(path.read_text())
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["chat"] == {
        "host": "chat.example.com",
        "protocol": "wss",
        "description": "The server this document is served by.",
    }
