"""Deleting a user nulls the sender of their messages. Whether a message is a
system message is its `kind`, so their messages stay text messages from a
"Deleted user": in the page, the REST shape and the seed 001-004 endpoints."""

import pytest
from django.test import Client

from messaging.models import Message
from messaging.services import close_conversation
from tests.support.compat import Key, conversation_of, say
from tests.support.factories import UserFactory
from users.services import delete_user
from workspaces.models import Workspace
from workspaces.services import create_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def key() -> Key:
    return Key(*create_api_key(workspace=Workspace.objects.default(), name="deleted senders"))


@pytest.fixture
def chat(user, other_user):
    """user (an agent) and other_user (a customer): a message each, a system
    message, then other_user's account is deleted."""
    conversation = conversation_of({user: "agent", other_user: "customer"})
    say(user, conversation, "How can I help?")
    say(other_user, conversation, "Please delete my account.")
    close_conversation(conversation, actor=user)
    delete_user(user=other_user)
    return conversation


def by_text(items: list[dict], field: str, text: str) -> dict:
    return next(item for item in items if item[field] == text)


def test_the_rest_shape_keeps_kind_text_with_a_null_sender(user_client, chat):
    response = user_client.get(f"/api/messages/{chat.pk}")

    assert response.status_code == 200
    orphan = by_text(response.json(), "text", "Please delete my account.")
    assert (orphan["kind"], orphan["sender"]) == ("text", None)
    notice = next(m for m in response.json() if m["kind"] == "system")
    assert notice["sender"] is None


def test_the_page_shows_deleted_user_not_system(user, chat):
    client = Client()
    client.force_login(user)

    html = client.get(f"/c/{chat.pk}/").content.decode()

    senders = [chunk.split("</span>")[0] for chunk in html.split('<span class="sender">')[1:]]
    assert senders == [user.name, "Deleted user", "System"]


def test_seed_001_a_deleted_sender_is_a_customer_without_external_id(api_client, key, chat):
    response = api_client.get(
        f"/conversation/v1/conversations/{chat.pk}/messages",
        headers={"asapp-api-id": key.key_id, "asapp-api-secret": key.secret},
    )

    items = response.json()["items"]
    orphan = by_text(items, "text", "Please delete my account.")
    assert orphan["sender"] == {"role": "customer", "externalId": None}
    notice = next(item for item in items if item["text"].startswith("Conversation closed"))
    assert notice["sender"] == {"role": "system", "externalId": None}


def test_seed_002_a_deleted_sender_is_a_text_message_of_nobody(api_client, key, chat):
    response = api_client.get(
        f"/conversations/{chat.access_token}/messages",
        headers={"Authorization": f"Bearer {key.secret}"},
    )

    orphan = by_text(response.json()["messages"], "content", "Please delete my account.")
    assert (orphan["type"], orphan["visitorId"], orphan["userId"]) == ("text", None, None)


def test_seed_003_a_deleted_sender_is_a_person(api_client, key, chat):
    response = api_client.get(
        f"/v1/api/conversation-messages/{chat.pk}",
        headers={"Authorization": f"Bearer {key.secret}"},
    )

    orphan = by_text(response.json(), "message", "Please delete my account.")
    assert (orphan["isUser"], orphan["type"], orphan["userId"]) == (True, "text", None)
    notice = next(m for m in response.json() if m["type"] == "system")
    assert notice["isUser"] is False


def test_seed_004_a_deleted_senders_message_is_a_query(api_client, key, user, chat):
    response = api_client.get(
        "/api/chat/messages",
        {"workspaceId": str(chat.workspace_id), "conversationId": str(chat.pk)},
        headers={"x-api-key": key.secret, "userId": str(user.pk)},
    )

    data = response.json()["data"]
    assert by_text(data, "query", "Please delete my account.")["type"] == "query"
    notice = next(m for m in data if m["query"].startswith("Conversation closed"))
    assert notice["type"] == "response"


def test_a_bots_message_stays_a_response_and_not_a_person(api_client, key, user):
    bot = UserFactory(is_bot=True)
    conversation = conversation_of({user: "customer", bot: "agent"})
    say(bot, conversation, "Beep.")

    botuj = api_client.get(
        f"/v1/api/conversation-messages/{conversation.pk}",
        headers={"Authorization": f"Bearer {key.secret}"},
    ).json()
    odyssey = api_client.get(
        "/api/chat/messages",
        {"workspaceId": str(conversation.workspace_id), "conversationId": str(conversation.pk)},
        headers={"x-api-key": key.secret, "userId": str(user.pk)},
    ).json()

    assert botuj[0]["isUser"] is False
    assert odyssey["data"][0]["type"] == "response"
    assert Message.objects.get().sender == bot
