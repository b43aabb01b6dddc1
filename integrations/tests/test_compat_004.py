"""Seed 004 (Odyssey Get Chat Messages), its contract: the documented keys
(followUps and sourceSnips included), the x-api-key and userId headers, and
the error bodies exactly as documented: 400 {"error": "..."}, 403 and 404
{"error": {"message": "..."}}, 500 {"message": "..."}."""

import logging

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Membership
from integrations import seed004
from messaging.services import import_messages
from tests.support.compat import assert_shape, conversation_of, parse_time, say
from tests.support.factories import UserFactory
from workspaces.services import revoke_api_key

pytestmark = pytest.mark.django_db

URL = "/api/chat/messages"
# The seed's documented example, verbatim.
EXAMPLE = {
    "data": [
        {
            "query": "string",
            "type": "string",
            "queryresponseid": "string",
            "createdat": "2024-12-12T17:23:19.621Z",
            "name": "string",
            "ownerid": "string",
            "followUps": [{"id": "string", "text": "string"}],
            "sourceSnips": [{"id": "string", "text": "string"}],
        }
    ]
}
NULLABLE = {"data[].name", "data[].ownerid"}
BAD_REQUEST = {"error": "string"}
NOT_ALLOWED = {"error": {"message": "string"}}
SERVER_ERROR = {"message": "string"}


def headers(key, user) -> dict:
    return {"x-api-key": key.secret, "userId": user if isinstance(user, str) else str(user.pk)}


def query(workspace, conversation) -> dict:
    return {"workspaceId": str(workspace.pk), "conversationId": str(conversation.pk)}


def assert_documented_error(response, status: int, example: dict) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert_shape(body, example)
    assert "Traceback" not in response.content.decode()


@pytest.fixture
def research(workspace):
    """A user's conversation with the research assistant (a bot)."""
    owner = UserFactory(external_id="odyssey-user-1")
    assistant = UserFactory(is_bot=True)
    conversation = conversation_of(
        {owner: Membership.Role.OWNER, assistant: Membership.Role.AGENT},
        title="Quarterly numbers",
        created_by=owner,
    )
    asked = say(owner, conversation, "What were Q3 sales?")
    say(assistant, conversation, "Q3 sales were 1.2M.")
    return conversation, owner, assistant, asked


def test_messages_as_the_example_shows(api_client, key, workspace, research):
    conversation, owner, _, asked = research

    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, owner))

    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, EXAMPLE, NULLABLE)
    first, second = body["data"]
    assert first == {
        "query": "What were Q3 sales?",
        "type": "query",
        "queryresponseid": str(asked.pk),
        "createdat": first["createdat"],
        "name": "Quarterly numbers",
        "ownerid": "odyssey-user-1",
        "followUps": [],
        "sourceSnips": [],
    }
    assert parse_time(first["createdat"]) == asked.created_at
    assert (second["query"], second["type"]) == ("Q3 sales were 1.2M.", "response")


@pytest.mark.parametrize("who", ["external id", "id", "the assistant"])
def test_the_user_is_named_by_external_id_or_id(api_client, key, workspace, research, who):
    conversation, owner, assistant, _ = research
    user = {"external id": "odyssey-user-1", "id": str(owner.pk), "the assistant": assistant}[who]
    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, user))
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2


def test_a_conversation_without_title_or_creator_has_nulls(api_client, key, workspace):
    person = UserFactory()
    conversation = conversation_of({person: Membership.Role.MEMBER})
    say(person, conversation, "note to self")
    body = api_client.get(URL, query(workspace, conversation), headers=headers(key, person)).json()
    assert (body["data"][0]["name"], body["data"][0]["ownerid"]) == (None, None)


# 400 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["workspaceId", "conversationId", "userId", "blank conversationId"]
)
def test_missing_parameters_are_400_with_a_string_error(
    api_client, key, workspace, research, missing
):
    conversation, owner, _, _ = research
    params = query(workspace, conversation)
    sent_headers = headers(key, owner)
    if missing == "userId":
        del sent_headers["userId"]
    elif missing == "blank conversationId":
        params["conversationId"] = " "
    else:
        del params[missing]
    response = api_client.get(URL, params, headers=sent_headers)
    assert_documented_error(response, 400, BAD_REQUEST)
    assert missing.split()[-1] in response.json()["error"]


# 403 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", [None, "", "wrong", "revoked"])
def test_a_missing_or_invalid_api_key_is_403(api_client, key, workspace, research, api_key):
    conversation, owner, _, _ = research
    sent_headers = headers(key, owner)
    if api_key is None:
        del sent_headers["x-api-key"]
    elif api_key == "revoked":
        revoke_api_key(key.api_key)
    else:
        sent_headers["x-api-key"] = api_key
    response = api_client.get(URL, query(workspace, conversation), headers=sent_headers)
    assert_documented_error(response, 403, NOT_ALLOWED)
    assert "WWW-Authenticate" not in response


def test_a_key_of_another_workspace_is_403(api_client, other_key, workspace, research):
    conversation, owner, _, _ = research
    response = api_client.get(
        URL, query(workspace, conversation), headers=headers(other_key, owner)
    )
    assert_documented_error(response, 403, NOT_ALLOWED)


# 404 ---------------------------------------------------------------------------------


def test_unknown_or_foreign_conversations_are_404(
    api_client, key, other_key, workspace, other_workspace, research
):
    conversation, owner, _, _ = research
    unknown = {"workspaceId": str(workspace.pk), "conversationId": "987654"}
    response = api_client.get(URL, unknown, headers=headers(key, owner))
    assert_documented_error(response, 404, NOT_ALLOWED)
    not_an_id = {"workspaceId": str(workspace.pk), "conversationId": "abc"}
    assert_documented_error(
        api_client.get(URL, not_an_id, headers=headers(key, owner)), 404, NOT_ALLOWED
    )
    # Named with the other workspace's key and id: not in that workspace.
    response = api_client.get(
        URL,
        {"workspaceId": str(other_workspace.pk), "conversationId": str(conversation.pk)},
        headers=headers(other_key, owner),
    )
    assert_documented_error(response, 404, NOT_ALLOWED)


@pytest.mark.parametrize("user", ["stranger", "unknown", "inactive"])
def test_a_user_who_is_not_a_member_gets_404(api_client, key, workspace, research, user):
    conversation, owner, _, _ = research
    if user == "stranger":
        user_id = str(UserFactory().pk)
    elif user == "unknown":
        user_id = "no-such-user"
    else:
        owner.is_active = False
        owner.save(update_fields=["is_active"])
        user_id = str(owner.pk)
    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, user_id))
    assert_documented_error(response, 404, NOT_ALLOWED)


# 500 ---------------------------------------------------------------------------------


def test_an_unexpected_exception_is_500_with_a_message_and_logged(
    api_client, key, workspace, research, monkeypatch, caplog
):
    conversation, owner, _, _ = research

    def explode(message, conversation):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(seed004, "render_message", explode)
    with caplog.at_level(logging.ERROR, logger="integrations"):
        response = api_client.get(URL, query(workspace, conversation), headers=headers(key, owner))
    assert_documented_error(response, 500, SERVER_ERROR)
    assert "secret internals" not in response.content.decode()
    assert any(record.exc_info for record in caplog.records)


def test_the_database_down_is_500_with_a_message(api_client, key, workspace, research, monkeypatch):
    conversation, owner, _, _ = research

    def down(conversation_id):
        raise OperationalError("connection refused")

    monkeypatch.setattr(seed004, "whole_conversation", down)
    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, owner))
    assert_documented_error(response, 500, SERVER_ERROR)


def test_too_long_a_conversation_is_400(api_client, key, workspace, research, settings):
    conversation, owner, _, _ = research
    settings.CHAT_COMPAT_MAX_MESSAGES = 1
    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, owner))
    assert_documented_error(response, 400, BAD_REQUEST)


def test_queries_do_not_grow_with_the_conversation(
    api_client, key, workspace, research, django_assert_max_num_queries
):
    conversation, owner, assistant, _ = research
    params, sent_headers = query(workspace, conversation), headers(key, owner)
    api_client.get(URL, params, headers=sent_headers)  # stamps last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get(URL, params, headers=sent_headers).status_code == 200
        return len(queries.captured_queries)

    few = count()
    import_messages(conversation=conversation, senders=[owner, assistant], texts=["x"] * 150)
    assert count() == few
    # The key; the conversation; the user and their membership; the messages;
    # their attachments.
    with django_assert_max_num_queries(6):
        api_client.get(URL, params, headers=sent_headers)


def test_the_database_down_while_checking_the_key_is_500_with_a_message(
    api_client, key, workspace, research, monkeypatch
):
    from integrations import auth

    def down(secret):
        raise OperationalError("connection refused")

    conversation, owner, _, _ = research
    monkeypatch.setattr(auth.workspace_services, "api_key_for_secret", down)
    response = api_client.get(URL, query(workspace, conversation), headers=headers(key, owner))
    assert_documented_error(response, 500, SERVER_ERROR)
