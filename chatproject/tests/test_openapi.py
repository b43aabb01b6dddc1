import pytest
import yaml
from django.core.management import call_command

SEED_PATHS = {
    ("get", "/api/users"),
    ("get", "/api/users/{id}"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations/{userId}"),
    ("get", "/api/conversations/find/{firstUserId}/{secondUserId}"),
    ("post", "/api/messages"),
    ("get", "/api/messages/{conversationId}"),
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker):
    """The schema as `manage.py spectacular` writes it; any generation warning fails."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def test_schema_documents_every_seed_endpoint_at_its_path(schema):
    documented = {(method, path) for method, path, _ in operations(schema)}
    assert documented >= SEED_PATHS


def test_every_operation_documents_its_errors_with_the_envelope(schema):
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (method, path)
        for code in ("500", "503"):
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorEnvelope"), (method, path, code)
        if operation.get("security"):
            assert "401" in responses, (method, path)


def test_only_sign_up_and_token_are_open(schema):
    open_operations = {(m, p) for m, p, op in operations(schema) if not op.get("security")}
    assert open_operations == {("post", "/api/auth/signup"), ("post", "/api/auth/token")}


def test_protected_operations_name_the_token_and_session_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"]["scheme"] == "bearer"
    assert "cookieAuth" in schemes
    send = schema["paths"]["/api/messages"]["post"]
    assert {"tokenAuth": []} in send["security"]


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema_response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema_response.status_code == 200
    assert "/api/messages" in schema_response.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
