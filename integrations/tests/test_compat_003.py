"""Seed 003 (botuj Conversation Messages), its contract: the documented
message structure, page/per_page paging and its bad values, 401/403/404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Membership
from messaging.models import Message
from messaging.services import close_conversation, delete_message, import_messages
from tests.support.api import assert_error
from tests.support.compat import assert_shape, conversation_of, parse_time, say
from tests.support.factories import UserFactory
from users.services import issue_token
from workspaces.services import revoke_api_key

pytestmark = pytest.mark.django_db

# The seed's documented message, verbatim.
EXAMPLE = {
    "id": 10906,
    "message": "Who are you",
    "userId": "781a207d-8ca7-44e5-9939-03d18e9a99a8",
    "isUser": True,
    "type": "freeshot",
    "createdOn": "2024-06-23T11:58:10.169778Z",
}
NULLABLE = {"[].userId"}  # system messages have no sender


def url(conversation_id, **query) -> str:
    params = "&".join(f"{name}={value}" for name, value in query.items())
    return f"/v1/api/conversation-messages/{conversation_id}" + (f"?{params}" if params else "")


def bearer(key) -> dict:
    return {"Authorization": f"Bearer {key.secret}"}


@pytest.fixture
def chat(workspace):
    """The example's conversation: a user asks the bot who it is."""
    person = UserFactory(external_id=EXAMPLE["userId"])
    bot = UserFactory(is_bot=True, display_name="Botuj")
    conversation = conversation_of({person: Membership.Role.CUSTOMER, bot: Membership.Role.AGENT})
    question = say(person, conversation, EXAMPLE["message"])
    say(bot, conversation, "I am a bot.")
    return conversation, person, bot, question


def test_messages_as_the_example_shows(api_client, key, chat):
    conversation, person, bot, question = chat
    deleted = say(person, conversation, "never mind")
    delete_message(actor=person, message=deleted)
    close_conversation(conversation)

    response = api_client.get(url(conversation.pk), headers=bearer(key))

    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, [EXAMPLE], NULLABLE)
    assert body[0] == {
        "id": question.pk,
        "message": "Who are you",
        "userId": "781a207d-8ca7-44e5-9939-03d18e9a99a8",
        "isUser": True,
        "type": "text",
        "createdOn": body[0]["createdOn"],
    }
    assert parse_time(body[0]["createdOn"]) == question.created_at
    assert [(m["message"], m["userId"], m["isUser"], m["type"]) for m in body[1:]] == [
        ("I am a bot.", str(bot.pk), False, "text"),
        ("Conversation closed.", None, False, "system"),
    ]
    assert "Link" not in response


@pytest.fixture
def long_chat(chat):
    conversation, person, bot, _ = chat
    import_messages(
        conversation=conversation,
        senders=[person, bot],
        texts=(f"message {n}" for n in range(3, 46)),
    )
    return conversation


@pytest.mark.parametrize(
    ("query", "expected", "links"),
    [
        ({}, range(1, 21), {"next": "page=2&per_page=20"}),
        ({"page": 2}, range(21, 41), {"next": "page=3&per_page=20", "prev": "page=1&per_page=20"}),
        ({"page": 3}, range(41, 46), {"prev": "page=2&per_page=20"}),
        ({"page": 4}, range(0), {"prev": "page=3&per_page=20"}),
        ({"page": 2, "per_page": 40}, range(41, 46), {"prev": "page=1&per_page=40"}),
        ({"per_page": 100}, range(1, 46), {}),
        ({"per_page": 1, "page": 45}, range(45, 46), {"prev": "page=44&per_page=1"}),
    ],
    ids=["default", "page 2", "last page", "past the end", "per_page 40", "max", "one per page"],
)
def test_paging(api_client, key, long_chat, query, expected, links):
    response = api_client.get(url(long_chat.pk, **query), headers=bearer(key))
    assert response.status_code == 200, response.content
    seqs = list(
        Message.objects.filter(pk__in=[m["id"] for m in response.json()]).values_list(
            "seq", flat=True
        )
    )
    assert [m["id"] for m in response.json()] == sorted(m["id"] for m in response.json())
    assert sorted(seqs) == list(expected)
    found = {
        part.split('rel="')[1].rstrip('"'): part.split("?")[1].split(">")[0]
        for part in response.get("Link", "").split(", ")
        if part
    }
    assert found == links


@pytest.mark.parametrize(
    "query",
    [
        {"page": 0},
        {"page": -1},
        {"page": "abc"},
        {"page": 10**12},
        {"per_page": 0},
        {"per_page": 101},
        {"per_page": "x"},
        {"per_page": 1.5},
    ],
    ids=str,
)
def test_bad_paging_values_are_400(api_client, key, chat, query):
    response = api_client.get(url(chat[0].pk, **query), headers=bearer(key))
    error = assert_error(response, 400, "validation_error")
    assert set(error["details"]["fields"]) == set(query)


def test_pages_take_the_same_queries(api_client, key, long_chat, django_assert_max_num_queries):
    api_client.get(url(long_chat.pk), headers=bearer(key))  # stamps last_used_at
    counts = set()
    for query in ({}, {"page": 3}, {"per_page": 100}):
        with CaptureQueriesContext(connection) as queries:
            api_client.get(url(long_chat.pk, **query), headers=bearer(key))
        counts.add(len(queries.captured_queries))
    assert len(counts) == 1
    # The key, the conversation, the page (with senders), its attachments.
    with django_assert_max_num_queries(4):
        api_client.get(url(long_chat.pk, page=2, per_page=7), headers=bearer(key))


def test_credentials(api_client, key, chat):
    conversation, person, _, _ = chat
    assert_error(api_client.get(url(conversation.pk)), 401)
    assert_error(
        api_client.get(url(conversation.pk), headers={"Authorization": "Bearer nope"}), 401
    )
    _, user_token = issue_token(person)
    assert_error(
        api_client.get(url(conversation.pk), headers={"Authorization": f"Bearer {user_token}"}),
        401,
    )
    revoke_api_key(key.api_key)
    assert_error(api_client.get(url(conversation.pk), headers=bearer(key)), 401)


def test_another_workspaces_conversation_is_403(api_client, other_key, chat):
    assert_error(
        api_client.get(url(chat[0].pk), headers=bearer(other_key)), 403, "permission_denied"
    )


@pytest.mark.parametrize("conversation_id", ["999999", "1234abc", "x", "9" * 30])
def test_unknown_conversations_are_404(api_client, key, chat, conversation_id):
    assert_error(api_client.get(url(conversation_id), headers=bearer(key)), 404, "not_found")
