"""Seed 002 (5chat List messages), its contract: the documented example's
keys and types, tags localised by `lang`, live typing state, 401 and 404."""

import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Membership, Tag, TagTranslation
from conversations.services import (
    add_member,
    save_tag,
    save_tag_translation,
    set_conversation_tags,
    update_conversation,
)
from messaging.services import close_conversation, delete_message, import_messages
from messaging.typing_state import record_typing
from tests.support.api import assert_error
from tests.support.compat import assert_shape, conversation_of, parse_time, say
from tests.support.factories import UserFactory
from users.models import SocketConnection
from users.services import issue_token
from workspaces.services import revoke_api_key

pytestmark = pytest.mark.django_db

# The seed's documented example, verbatim (its placeholder values included:
# they give the JSON types; "messages" is documented as an array of objects).
EXAMPLE = {
    "conversation": {
        "id": "abc123def456",
        "websiteId": "abc123def456",
        "token": "sk-abc123def456ghi789",
        "rating": 42,
        "assigneeId": "abc123def456",
        "visitorId": "abc123def456",
        "visitorTyping": True,
        "userTyping": True,
        "createdAt": "2024-03-15T14:30:00Z",
        "status": "active",
        "firstMessageAt": "Hello, this is a test message",
        "closedAt": "sample_closedAt",
        "summary": "Customer needs help with billing issue and refund processing",
        "tags": ["Billing Issue", "Refund Request"],
    },
    "messages": "Hello, this is a test message",
    "visitor": {
        "id": "abc123def456",
        "name": "John Doe",
        "token": "sk-abc123def456ghi789",
        "ip": "sample_ip",
        "context": "Sample text content",
        "websiteId": "abc123def456",
        "country": 10,
        "city": "New York",
        "online": True,
        "createdAt": "2024-03-15T14:30:00Z",
        "updatedAt": "2024-03-15",
    },
    "users": [
        {
            "id": "abc123def456",
            "name": "John Doe",
            "email": "[email protected]",
            "theme": "sample_theme",
            "language": "sample_language",
            "createdAt": "2024-03-15T14:30:00Z",
            "updatedAt": "2024-03-15",
            "avatar": {
                "id": "abc123def456",
                "token": "sk-abc123def456ghi789",
                "url": "https://example.com",
                "name": "John Doe",
                "mimeType": "application/pdf",
                "userId": "abc123def456",
                "websiteId": "abc123def456",
                "createdAt": "2024-03-15T14:30:00Z",
                "updatedAt": "2024-03-15",
            },
            "fileId": "abc123def456",
            "activated": True,
            "fcmTokens": "sk-abc123def456ghi789",
            "selectedWebsiteId": "abc123def456",
            "lastVisitAt": "sample_lastVisitAt",
            "googleId": "abc123def456",
            "gitHubId": "abc123def456",
            "authProvider": "LOCAL",
            "emailVerified": True,
        }
    ],
}
# The 12 message properties the seed counts but does not list (this server's).
MESSAGE_EXAMPLE = {
    "id": "1",
    "conversationId": "1",
    "websiteId": "1",
    "type": "text",
    "content": "Hello",
    "visitorId": "1",
    "userId": "1",
    "fileId": "1",
    "seen": True,
    "clientTimestamp": "2024-03-15T14:30:00Z",
    "createdAt": "2024-03-15T14:30:00Z",
    "updatedAt": "2024-03-15T14:30:00Z",
}
# What this server has no data for, or has not always.
NULLABLE = {
    *(
        f"conversation.{key}"
        for key in ("rating", "assigneeId", "visitorId", "firstMessageAt", "closedAt", "summary")
    ),
    *(f"visitor.{key}" for key in ("token", "ip", "context", "country", "city", "updatedAt")),
    *(
        f"users[].{key}"
        for key in (
            "email",
            "theme",
            "language",
            "updatedAt",
            "avatar",
            "fileId",
            "fcmTokens",
            "selectedWebsiteId",
            "lastVisitAt",
            "googleId",
            "gitHubId",
            "emailVerified",
        )
    ),
    *(
        f"messages[].{key}"
        for key in ("visitorId", "userId", "fileId", "clientTimestamp", "updatedAt")
    ),
}


def url(conversation, lang: str | None = None) -> str:
    token = conversation if isinstance(conversation, str) else conversation.access_token
    return f"/conversations/{token}/messages" + (f"?lang={lang}" if lang else "")


def bearer(key) -> dict:
    return {"Authorization": f"Bearer {key.secret}"}


def assert_shape_of_example(body: dict) -> None:
    assert_shape(body, {**EXAMPLE, "messages": [MESSAGE_EXAMPLE]}, NULLABLE)


@pytest.fixture
def billing(workspace):
    """The example's conversation: John Doe (a visitor) with a billing issue
    and a refund request, an agent assigned, a bot, rated, summarised, tagged
    (with Polish names), closed."""
    visitor = UserFactory(display_name="John Doe", external_id="visitor-42")
    agent = UserFactory(display_name="Agata Agent", email="agata@example.com")
    bot = UserFactory(display_name="Helpbot", is_bot=True)
    conversation = conversation_of(
        {
            visitor: Membership.Role.CUSTOMER,
            agent: Membership.Role.AGENT,
            bot: Membership.Role.MEMBER,
        },
    )
    billing_tag = save_tag(Tag(workspace=workspace, name="Billing Issue"))
    refund_tag = save_tag(Tag(workspace=workspace, name="Refund Request"))
    save_tag_translation(
        TagTranslation(tag=billing_tag, language="pl", name="Problem z płatnością")
    )
    save_tag_translation(TagTranslation(tag=refund_tag, language="PT", name="Reembolso"))
    set_conversation_tags(conversation, [billing_tag, refund_tag])
    update_conversation(
        conversation,
        assignee=agent,
        rating=4,
        summary="Customer needs help with billing issue and refund processing",
    )
    first = say(visitor, conversation, "Hello, this is a test message")
    oops = say(visitor, conversation, "wrong window")
    delete_message(actor=visitor, message=oops)
    say(bot, conversation, "An agent will be with you shortly.")
    say(agent, conversation, "Refund on its way.")
    close_conversation(conversation, actor=agent)
    conversation.refresh_from_db()
    return conversation, visitor, agent, bot, first


def test_the_conversation_as_the_example_shows(api_client, key, billing):
    conversation, visitor, agent, bot, first = billing

    response = api_client.get(url(conversation), headers=bearer(key))

    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape_of_example(body)
    assert len(body["conversation"]) == 14
    assert len(body["visitor"]) == 11
    assert all(len(user) == 17 for user in body["users"])
    assert all(len(message) == 12 for message in body["messages"])
    info = body["conversation"]
    assert info["id"] == str(conversation.pk)
    assert info["websiteId"] == str(conversation.workspace_id)
    assert info["token"] == conversation.access_token
    assert (info["rating"], info["summary"]) == (4, conversation.summary)
    assert (info["assigneeId"], info["visitorId"]) == (str(agent.pk), "visitor-42")
    assert (info["visitorTyping"], info["userTyping"]) == (False, False)
    assert info["status"] == "closed"
    assert parse_time(info["closedAt"]) == conversation.closed_at
    assert parse_time(info["firstMessageAt"]) == first.created_at
    assert parse_time(info["createdAt"]) == conversation.created_at
    assert info["tags"] == ["Billing Issue", "Refund Request"]

    messages = body["messages"]
    assert [m["content"] for m in messages] == [
        "Hello, this is a test message",
        "An agent will be with you shortly.",
        "Refund on its way.",
        f"Conversation closed by {agent.name}.",
    ]
    assert [m["type"] for m in messages] == ["text", "text", "text", "system"]
    assert [(m["visitorId"], m["userId"]) for m in messages] == [
        ("visitor-42", None),
        (None, str(bot.pk)),
        (None, str(agent.pk)),
        (None, None),
    ]
    # Senders have read up to their own messages: the agent and the bot have
    # read the visitor's; the visitor has read none of theirs.
    assert [m["seen"] for m in messages] == [True, False, False, False]

    assert body["visitor"]["id"] == "visitor-42"
    assert body["visitor"]["name"] == "John Doe"
    assert body["visitor"]["online"] is False
    assert body["visitor"]["websiteId"] == str(conversation.workspace_id)
    assert parse_time(body["visitor"]["createdAt"]) == visitor.date_joined
    assert [user["id"] for user in body["users"]] == [str(agent.pk), str(bot.pk)]
    agata = body["users"][0]
    assert (agata["name"], agata["email"], agata["activated"]) == (
        "Agata Agent",
        "agata@example.com",
        True,
    )
    assert agata["avatar"] is None and agata["googleId"] is None


def test_an_open_conversation_without_a_customer(api_client, key, workspace):
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_of({alice: Membership.Role.OWNER, bob: Membership.Role.MEMBER})
    message = say(alice, conversation, "hi")
    Membership.objects.filter(conversation=conversation, user=bob).update(last_read_seq=1)

    body = api_client.get(url(conversation), headers=bearer(key)).json()

    assert_shape(body, {**EXAMPLE, "messages": [MESSAGE_EXAMPLE]}, {*NULLABLE, "visitor"})
    info = body["conversation"]
    assert info["status"] == "active"
    assert info["closedAt"] is None and info["rating"] is None and info["summary"] is None
    assert info["assigneeId"] is None and info["visitorId"] is None
    assert info["tags"] == []
    assert body["visitor"] is None
    assert {user["id"] for user in body["users"]} == {str(alice.pk), str(bob.pk)}
    assert body["messages"][0]["id"] == str(message.pk)
    assert body["messages"][0]["seen"] is True  # bob read it


@pytest.mark.parametrize(
    ("lang", "tags"),
    [
        ("pl", ["Problem z płatnością", "Refund Request"]),
        ("PL", ["Problem z płatnością", "Refund Request"]),
        ("pt-BR", ["Billing Issue", "Reembolso"]),
        ("de", ["Billing Issue", "Refund Request"]),
        ("x" * 100, ["Billing Issue", "Refund Request"]),
    ],
    ids=["pl", "upper case", "primary language", "no translation", "too long"],
)
def test_tags_are_localised_by_lang(api_client, key, billing, lang, tags):
    response = api_client.get(url(billing[0], lang), headers=bearer(key))
    assert response.json()["conversation"]["tags"] == tags


def test_typing_and_presence_are_live(api_client, key, billing):
    conversation, visitor, agent, _, _ = billing
    async_to_sync(record_typing)(conversation.pk, visitor.pk, active=True)
    SocketConnection.objects.create(user=visitor, channel_name="test!visitor", server="test:1")

    body = api_client.get(url(conversation), headers=bearer(key)).json()
    assert (body["conversation"]["visitorTyping"], body["conversation"]["userTyping"]) == (
        True,
        False,
    )
    assert body["visitor"]["online"] is True

    async_to_sync(record_typing)(conversation.pk, visitor.pk, active=False)
    async_to_sync(record_typing)(conversation.pk, agent.pk, active=True)
    body = api_client.get(url(conversation), headers=bearer(key)).json()
    assert (body["conversation"]["visitorTyping"], body["conversation"]["userTyping"]) == (
        False,
        True,
    )


def test_typing_state_expires_after_the_typing_ttl(api_client, key, billing, settings):
    """A typist counts for CHAT_TYPING_TTL seconds, then not at all. Whole
    seconds: Redis truncates a fraction, and 0 stores nothing, so a TTL of
    0.01 would read "not typing" without ever having been typing. Expiry
    comes TTL seconds after the record, never sooner (every delay of this
    test only makes it later, so TTL - 0.5 is a safe floor), and within a
    margin of 5 s after."""
    conversation, visitor, *_ = billing
    settings.CHAT_TYPING_TTL = 2

    def visitor_typing() -> bool:
        body = api_client.get(url(conversation), headers=bearer(key)).json()
        return body["conversation"]["visitorTyping"]

    recorded = time.monotonic()
    async_to_sync(record_typing)(conversation.pk, visitor.pk, active=True)
    assert visitor_typing() is True  # one local request, well within the 2 s
    while visitor_typing():
        assert time.monotonic() - recorded < settings.CHAT_TYPING_TTL + 5, "typing never expired"
        time.sleep(0.1)
    assert time.monotonic() - recorded > settings.CHAT_TYPING_TTL - 0.5


# Errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-key", "Token SECRET", "Basic SECRET"],
    ids=["none", "no key", "wrong key", "token keyword", "basic"],
)
def test_a_missing_or_invalid_token_is_401(api_client, key, billing, authorization):
    headers = {}
    if authorization:
        headers["Authorization"] = authorization.replace("SECRET", key.secret)
    assert_error(api_client.get(url(billing[0]), headers=headers), 401)


def test_revoked_keys_and_user_tokens_are_401(api_client, key, billing):
    _, user_token = issue_token(billing[1])
    assert_error(
        api_client.get(url(billing[0]), headers={"Authorization": f"Bearer {user_token}"}), 401
    )
    revoke_api_key(key.api_key)
    assert_error(api_client.get(url(billing[0]), headers=bearer(key)), 401)


def test_unknown_and_other_workspaces_conversations_are_404(api_client, key, other_key, billing):
    assert_error(api_client.get(url(billing[0]), headers=bearer(other_key)), 404, "not_found")
    assert_error(api_client.get(url("no-such-token"), headers=bearer(key)), 404, "not_found")
    assert_error(api_client.get(url(str(billing[0].pk)), headers=bearer(key)), 404)


def test_a_conversation_too_long_to_return_whole_is_422(api_client, key, billing, settings):
    settings.CHAT_COMPAT_MAX_MESSAGES = 3
    error = assert_error(api_client.get(url(billing[0]), headers=bearer(key)), 422)
    assert error["code"] == "conversation_too_large"
    assert error["details"] == {"maxMessages": 3}


def test_queries_do_not_grow_with_the_conversation(
    api_client, key, billing, django_assert_max_num_queries
):
    conversation, visitor, agent, bot, _ = billing
    api_client.get(url(conversation), headers=bearer(key))  # stamps last_used_at

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get(url(conversation), headers=bearer(key)).status_code == 200
        return len(queries.captured_queries)

    few = count()
    import_messages(conversation=conversation, senders=[visitor, agent, bot], texts=["x"] * 200)
    add_member(conversation, UserFactory(), Membership.Role.AGENT)
    assert count() == few
    # The key; the conversation and its members; the messages and their
    # attachments; the first message's time; the tags; the visitor's presence.
    with django_assert_max_num_queries(8):
        api_client.get(url(conversation), headers=bearer(key))


def test_a_cache_that_is_down_makes_typing_unknown_not_an_error(
    api_client, key, billing, monkeypatch
):
    from messaging import typing_state

    class DownCache:
        def get_many(self, keys):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(typing_state, "cache", DownCache())
    response = api_client.get(url(billing[0]), headers=bearer(key))
    assert response.status_code == 200
    info = response.json()["conversation"]
    assert (info["visitorTyping"], info["userTyping"]) == (None, None)
