"""Real responses of every operation of /api/schema/, checked against the
schema by a strict OpenAPI 3.0 validator (openapi-schema-validator's
OAS30StrictValidator: `nullable` counts only beside a `type` in the same
schema object, as OAS 3.0.3 says). schemathesis (test_fuzz_api.py) reads
`nullable` loosely, so a null where the schema had `nullable` without a
`type` passed it (issue 10 item 20); the data here has those nulls: a
conversation without messages, a seed 002 conversation without a visitor,
users without an avatar."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from openapi_schema_validator import OAS30StrictValidator
from openapi_schema_validator._format import oas30_strict_format_checker
from rest_framework.test import APIClient

from conversations.models import Membership
from conversations.services import set_member_role
from messaging.services import add_reaction, send_message, upload_attachment
from tests.support.api import client_for
from tests.support.factories import ConversationFactory, UserFactory
from tests.support.files import image_bytes, upload
from users.services import issue_token
from workspaces.models import Workspace
from workspaces.services import create_api_key

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


@dataclass
class World:
    """The rows every request names: alice (the caller) talks with bob
    (messages) and is in a group with carol that has no messages yet; an API
    key of their workspace reads them through the seed endpoints."""

    alice: object
    bob: object
    carol: object
    direct: object
    empty_group: object
    message: object
    image: object
    document: object
    token_key: str
    token_id: int
    spare_token_id: int
    key_id: str
    key_secret: str


@pytest.fixture
def world() -> World:
    alice, bob, carol = (UserFactory() for _ in range(3))
    direct = ConversationFactory(members=[alice, bob])
    empty_group = ConversationFactory(members=[alice, carol], kind="group")
    message = send_message(sender=bob, conversation=direct, text="hello")[0]
    # A reply with a mention: replyTo and mentions are not empty.
    send_message(
        sender=alice, conversation=direct, text=f"hi @{bob.username}", reply_to_id=message.pk
    )
    add_reaction(user=bob, message=message, emoji="👍")  # reactions are not empty
    # Attachments are not empty: an image (with a thumbnail) and a file.
    image = upload_attachment(
        uploader=bob, conversation_id=direct.pk, name="a.png", content=image_bytes()
    )
    document = upload_attachment(
        uploader=bob, conversation_id=direct.pk, name="notes.txt", content=b"notes"
    )
    send_message(sender=bob, conversation=direct, text="", attachment_ids=[image.pk, document.pk])
    token, key = issue_token(alice, name="schema")
    spare, _ = issue_token(alice, name="spare")
    api_key, secret = create_api_key(workspace=Workspace.objects.default(), name="schema")
    return World(
        alice, bob, carol, direct, empty_group, message, image, document, key, token.pk, spare.pk,
        api_key.key_id, secret,
    )  # fmt: skip


@dataclass
class Call:
    """One request of an operation, and the status it answers."""

    status: int
    send: Callable[[World], object]


def member(w: World) -> APIClient:
    return client_for(w.alice)


def with_token(w: World) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {w.token_key}")
    return client


def with_customer(w: World):
    """The direct conversation with bob as its customer (seed 002's visitor)."""
    set_member_role(Membership.objects.get(conversation=w.direct, user=w.bob), "customer")
    return w.direct


def reactions(w: World) -> str:
    return f"/api/messages/{w.direct.pk}/{w.message.pk}/reactions"


def bearer_key(w: World) -> dict:
    return {"Authorization": f"Bearer {w.key_secret}"}


# Every operation of the schema, with the requests that exercise it (2xx, and
# errors in each operation's documented error shape).
CALLS: dict[tuple[str, str], list[Call]] = {
    ("post", "/api/auth/signup"): [
        Call(
            201,
            lambda w: APIClient().post(
                "/api/auth/signup",
                {"username": "newcomer", "password": "a-long-password-1"},
                format="json",
            ),
        ),
        Call(400, lambda w: APIClient().post("/api/auth/signup", {}, format="json")),
    ],
    ("post", "/api/auth/token"): [
        Call(
            200,
            lambda w: APIClient().post(
                "/api/auth/token",
                {"username": w.alice.username, "password": "correct-horse-battery-staple"},
                format="json",
            ),
        ),
        Call(
            401,
            lambda w: APIClient().post(
                "/api/auth/token",
                {"username": w.alice.username, "password": "wrong"},
                format="json",
            ),
        ),
    ],
    ("post", "/api/auth/token/rotate"): [
        Call(200, lambda w: with_token(w).post("/api/auth/token/rotate")),
        Call(400, lambda w: member(w).post("/api/auth/token/rotate")),
    ],
    ("get", "/api/auth/tokens"): [Call(200, lambda w: member(w).get("/api/auth/tokens"))],
    ("delete", "/api/auth/tokens/{id}"): [
        Call(200, lambda w: member(w).delete(f"/api/auth/tokens/{w.spare_token_id}")),
        Call(404, lambda w: member(w).delete("/api/auth/tokens/999999")),
    ],
    ("get", "/api/users"): [
        Call(200, lambda w: member(w).get("/api/users")),
        Call(200, lambda w: member(w).get("/api/users", {"search": w.bob.username})),
    ],
    ("get", "/api/users/{id}"): [
        Call(200, lambda w: member(w).get(f"/api/users/{w.bob.pk}")),
        Call(404, lambda w: member(w).get("/api/users/999999")),
    ],
    ("get", "/api/users/me"): [
        Call(200, lambda w: member(w).get("/api/users/me")),
        Call(401, lambda w: APIClient().get("/api/users/me")),
    ],
    ("patch", "/api/users/me"): [
        Call(200, lambda w: member(w).patch("/api/users/me", {"theme": "dark"}, format="json")),
        Call(400, lambda w: member(w).patch("/api/users/me", {"theme": "neon"}, format="json")),
        Call(401, lambda w: APIClient().patch("/api/users/me", {}, format="json")),
    ],
    ("get", "/api/conversations"): [Call(200, lambda w: member(w).get("/api/conversations"))],
    ("post", "/api/conversations"): [
        Call(
            201,
            lambda w: member(w).post(
                "/api/conversations", {"users": [str(w.carol.pk)]}, format="json"
            ),
        ),
        Call(
            200,
            lambda w: member(w).post(
                "/api/conversations", {"users": [str(w.bob.pk)]}, format="json"
            ),
        ),
    ],
    ("get", "/api/conversations/{userId}"): [
        Call(200, lambda w: member(w).get(f"/api/conversations/{w.alice.pk}")),
    ],
    ("get", "/api/conversations/find/{firstUserId}/{secondUserId}"): [
        Call(200, lambda w: member(w).get(f"/api/conversations/find/{w.alice.pk}/{w.bob.pk}")),
        Call(404, lambda w: member(w).get(f"/api/conversations/find/{w.alice.pk}/{w.carol.pk}")),
    ],
    ("post", "/api/conversations/{conversationId}/read"): [
        Call(
            200,
            lambda w: member(w).post(f"/api/conversations/{w.direct.pk}/read", {}, format="json"),
        ),
    ],
    ("post", "/api/conversations/{conversationId}/close"): [
        Call(200, lambda w: member(w).post(f"/api/conversations/{w.empty_group.pk}/close")),
    ],
    ("post", "/api/conversations/{conversationId}/reopen"): [
        Call(200, lambda w: member(w).post(f"/api/conversations/{w.empty_group.pk}/reopen")),
    ],
    ("get", "/api/conversations/{conversationId}/details"): [
        Call(200, lambda w: member(w).get(f"/api/conversations/{w.direct.pk}/details")),
        Call(403, lambda w: client_for(w.carol).get(f"/api/conversations/{w.direct.pk}/details")),
        Call(404, lambda w: member(w).get("/api/conversations/999999/details")),
    ],
    ("patch", "/api/conversations/{conversationId}/details"): [
        Call(
            200,
            lambda w: member(w).patch(
                f"/api/conversations/{w.empty_group.pk}/details", {"title": "New"}, format="json"
            ),
        ),
        Call(
            400,
            lambda w: member(w).patch(
                f"/api/conversations/{w.direct.pk}/details", {"title": "New"}, format="json"
            ),
        ),
    ],
    ("post", "/api/conversations/{conversationId}/members"): [
        Call(
            200,
            lambda w: member(w).post(
                f"/api/conversations/{w.empty_group.pk}/members",
                {"users": [str(w.bob.pk)]},
                format="json",
            ),
        ),
        Call(
            400,
            lambda w: member(w).post(
                f"/api/conversations/{w.direct.pk}/members", {"users": ["x"]}, format="json"
            ),
        ),
    ],
    ("delete", "/api/conversations/{conversationId}/members/{userId}"): [
        Call(
            403,
            lambda w: member(w).delete(
                f"/api/conversations/{w.empty_group.pk}/members/{w.carol.pk}"
            ),
        ),
        Call(
            400,
            lambda w: member(w).delete(f"/api/conversations/{w.direct.pk}/members/{w.alice.pk}"),
        ),
        Call(
            204,
            lambda w: member(w).delete(
                f"/api/conversations/{w.empty_group.pk}/members/{w.alice.pk}"
            ),
        ),
    ],
    ("patch", "/api/conversations/{conversationId}/membership"): [
        Call(
            200,
            lambda w: member(w).patch(
                f"/api/conversations/{w.direct.pk}/membership", {"muted": True}, format="json"
            ),
        ),
        Call(
            400,
            lambda w: member(w).patch(
                f"/api/conversations/{w.direct.pk}/membership", {}, format="json"
            ),
        ),
    ],
    ("post", "/api/messages"): [
        Call(
            200,
            lambda w: member(w).post(
                "/api/messages",
                {"conversationId": str(w.direct.pk), "sender": str(w.alice.pk), "text": "again"},
                format="json",
            ),
        ),
        Call(400, lambda w: member(w).post("/api/messages", {}, format="json")),
    ],
    ("get", "/api/messages/{conversationId}"): [
        Call(200, lambda w: member(w).get(f"/api/messages/{w.direct.pk}")),
        Call(200, lambda w: member(w).get(f"/api/messages/{w.empty_group.pk}")),
    ],
    ("post", "/api/conversations/{conversationId}/attachments"): [
        Call(
            201,
            lambda w: member(w).post(
                f"/api/conversations/{w.direct.pk}/attachments",
                {"file": upload("b.png", image_bytes())},
                format="multipart",
            ),
        ),
        Call(
            400,
            lambda w: member(w).post(
                f"/api/conversations/{w.direct.pk}/attachments", {}, format="multipart"
            ),
        ),
        Call(
            403,
            lambda w: client_for(w.carol).post(
                f"/api/conversations/{w.direct.pk}/attachments",
                {"file": upload("c.txt", b"c")},
                format="multipart",
            ),
        ),
    ],
    ("get", "/api/attachments/{attachmentId}"): [
        Call(200, lambda w: member(w).get(f"/api/attachments/{w.image.pk}")),
        Call(200, lambda w: member(w).get(f"/api/attachments/{w.document.pk}")),
        Call(404, lambda w: client_for(w.carol).get(f"/api/attachments/{w.image.pk}")),
    ],
    ("get", "/api/attachments/{attachmentId}/thumbnail"): [
        Call(200, lambda w: member(w).get(f"/api/attachments/{w.image.pk}/thumbnail")),
        Call(404, lambda w: member(w).get(f"/api/attachments/{w.document.pk}/thumbnail")),
    ],
    ("get", "/api/search/messages"): [
        # A hit with reactions, one with a reply's quote and mentions.
        Call(200, lambda w: member(w).get("/api/search/messages", {"q": "hello or hi"})),
        Call(400, lambda w: member(w).get("/api/search/messages", {"q": " "})),
        Call(
            403,
            lambda w: client_for(w.carol).get(
                "/api/search/messages", {"q": "hello", "conversationId": w.direct.pk}
            ),
        ),
        Call(
            404,
            lambda w: member(w).get("/api/search/messages", {"q": "a", "conversationId": 999999}),
        ),
    ],
    ("get", "/api/messages/{conversationId}/{messageId}/history"): [
        Call(200, lambda w: member(w).get(f"/api/messages/{w.direct.pk}/{w.message.pk}/history")),
        Call(404, lambda w: member(w).get(f"/api/messages/{w.direct.pk}/0/history")),
    ],
    ("post", "/api/messages/{conversationId}/{messageId}/reactions"): [
        Call(201, lambda w: member(w).post(reactions(w), {"emoji": "👍"}, format="json")),
        Call(200, lambda w: client_for(w.bob).post(reactions(w), {"emoji": "👍"}, format="json")),
        Call(400, lambda w: member(w).post(reactions(w), {"emoji": "ab"}, format="json")),
        Call(403, lambda w: client_for(w.carol).post(reactions(w), {"emoji": "👍"}, format="json")),
    ],
    ("delete", "/api/messages/{conversationId}/{messageId}/reactions/{emoji}"): [
        Call(200, lambda w: client_for(w.bob).delete(f"{reactions(w)}/%F0%9F%91%8D")),
        Call(404, lambda w: member(w).delete(f"/api/messages/{w.direct.pk}/0/reactions/x")),
    ],
    ("patch", "/api/messages/{conversationId}/{messageId}"): [
        Call(
            403,
            lambda w: member(w).patch(
                f"/api/messages/{w.direct.pk}/{w.message.pk}", {"text": "edited"}, format="json"
            ),
        ),
        Call(
            200,
            lambda w: client_for(w.bob).patch(
                f"/api/messages/{w.direct.pk}/{w.message.pk}", {"text": "edited"}, format="json"
            ),
        ),
    ],
    ("delete", "/api/messages/{conversationId}/{messageId}"): [
        Call(
            200, lambda w: client_for(w.bob).delete(f"/api/messages/{w.direct.pk}/{w.message.pk}")
        ),
    ],
    ("get", "/conversation/v1/conversations/{conversationId}/messages"): [
        Call(
            200,
            lambda w: APIClient().get(
                f"/conversation/v1/conversations/{w.direct.pk}/messages",
                headers={"asapp-api-id": w.key_id, "asapp-api-secret": w.key_secret},
            ),
        ),
        Call(
            401, lambda w: APIClient().get(f"/conversation/v1/conversations/{w.direct.pk}/messages")
        ),
    ],
    ("get", "/conversations/{token}/messages"): [
        # No customer: the visitor is null; no user has an avatar.
        Call(
            200,
            lambda w: APIClient().get(
                f"/conversations/{w.empty_group.access_token}/messages", headers=bearer_key(w)
            ),
        ),
        Call(
            200,
            lambda w: APIClient().get(
                f"/conversations/{with_customer(w).access_token}/messages", headers=bearer_key(w)
            ),
        ),
        Call(404, lambda w: APIClient().get("/conversations/nope/messages", headers=bearer_key(w))),
    ],
    ("get", "/v1/api/conversation-messages/{id}"): [
        Call(
            200,
            lambda w: APIClient().get(
                f"/v1/api/conversation-messages/{w.direct.pk}", headers=bearer_key(w)
            ),
        ),
    ],
    ("get", "/api/chat/messages"): [
        Call(
            200,
            lambda w: APIClient().get(
                "/api/chat/messages",
                {"workspaceId": w.direct.workspace_id, "conversationId": w.direct.pk},
                headers={"x-api-key": w.key_secret, "userId": str(w.alice.pk)},
            ),
        ),
        Call(
            400,
            lambda w: APIClient().get(
                "/api/chat/messages", headers={"x-api-key": w.key_secret, "userId": "x"}
            ),
        ),
        Call(
            404,
            lambda w: APIClient().get(
                "/api/chat/messages",
                {"workspaceId": w.direct.workspace_id, "conversationId": 999999},
                headers={"x-api-key": w.key_secret, "userId": str(w.alice.pk)},
            ),
        ),
    ],
}


@pytest.fixture
def document(db) -> dict:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def response_schema(document: dict, method: str, path: str, status: int) -> dict:
    documented = document["paths"][path][method]["responses"]
    assert str(status) in documented, f"{method} {path} answered an undocumented {status}"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    # "#/components/..." references resolve inside the validated schema.
    return {**schema, "components": document["components"]}


def test_every_operation_of_the_schema_is_exercised(document):
    assert operations(document) == set(CALLS)


def test_a_strict_validator_rejects_a_nullable_without_a_type():
    """The validator below is the strict one: the old shape of a nullable
    reference (`allOf` + `nullable`, no `type`) does not let null through."""
    components = {"schemas": {"Thing": {"type": "object"}}}
    loose = {"allOf": [{"$ref": "#/components/schemas/Thing"}], "nullable": True}
    validator = OAS30StrictValidator(
        {**loose, "components": components}, format_checker=oas30_strict_format_checker
    )
    assert not validator.is_valid(None)


@pytest.mark.parametrize("operation", sorted(CALLS), ids=" ".join)
def test_real_responses_match_the_schema(document, world, operation):
    method, path = operation
    for call in CALLS[operation]:
        response = call.send(world)
        assert response.status_code == call.status, (method, path, response.content[:300])
        if call.status == 204:
            assert not response.content
            assert "204" in document["paths"][path][method]["responses"]
            continue
        if not response["Content-Type"].startswith("application/json"):  # a file
            content = document["paths"][path][method]["responses"][str(call.status)]["content"]
            assert content.keys() & {"application/octet-stream", "image/webp"}
            assert content[next(iter(content))]["schema"] == {"type": "string", "format": "binary"}
            continue
        validator = OAS30StrictValidator(
            response_schema(document, method, path, call.status),
            format_checker=oas30_strict_format_checker,
        )
        errors = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator.iter_errors(response.json())
        ]
        assert not errors, (method, path, call.status, errors)


def test_the_responses_above_have_the_nulls_the_schema_allows(world):
    """The nulls that the old schema could not describe are really there."""
    inbox = client_for(world.alice).get("/api/conversations").json()
    assert any(item["lastMessage"] is None for item in inbox)
    seed = (
        APIClient()
        .get(f"/conversations/{world.empty_group.access_token}/messages", headers=bearer_key(world))
        .json()
    )
    assert seed["visitor"] is None
    assert seed["users"] and all(user["avatar"] is None for user in seed["users"])
