"""GET /api/messages/{id} runs a fixed number of queries, whatever the page size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation
from messaging.models import Message
from messaging.services import add_reaction, edit_message, import_messages, send_message
from tests.support.api import client_for
from tests.support.factories import ConversationFactory

pytestmark = pytest.mark.django_db

# The caller's membership (with its conversation), then the page, each
# message flagged with whether it has mentions, reactions and attachments…
PAGE_QUERIES = 2
# …and one prefetch for each of those that a message of the page has.
HISTORY_QUERIES = PAGE_QUERIES + 3


def fill(conversation, senders, count: int) -> None:
    already = Message.objects.filter(conversation=conversation).count()
    import_messages(
        conversation=conversation,
        senders=senders,
        texts=(f"message {already + index + 1}" for index in range(count)),
    )


def history(client, url: str) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(context.captured_queries), response.json()


def test_history_takes_the_same_queries_for_1_50_and_200_messages(
    direct_conversation, user, other_user, django_assert_max_num_queries
):
    client = client_for(user)
    url = f"/api/messages/{direct_conversation.pk}"
    senders = [user, other_user]

    fill(direct_conversation, senders, 1)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        one, body = history(client, url)
    assert [item["seq"] for item in body] == [1]

    fill(direct_conversation, senders, 49)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        fifty, body = history(client, url)
    assert [item["seq"] for item in body] == list(range(1, 51))
    assert {item["sender"] for item in body} == {str(user.pk), str(other_user.pk)}

    fill(direct_conversation, senders, 150)
    with django_assert_max_num_queries(HISTORY_QUERIES):
        two_hundred, body = history(client, f"{url}?limit=200")
    assert [item["seq"] for item in body] == list(range(1, 201))
    assert body[-1]["text"] == "message 200"

    assert one == fifty == two_hundred == PAGE_QUERIES


@pytest.mark.parametrize("query", ["before=150", "after=10", "sinceVersion=5"])
def test_history_cursors_take_the_same_queries(
    direct_conversation, user, other_user, query, django_assert_num_queries
):
    fill(direct_conversation, [user, other_user], 200)
    first = Message.objects.get(conversation=direct_conversation, seq=1)
    edit_message(actor=user, message=first, text="edited")
    client = client_for(user)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(f"/api/messages/{direct_conversation.pk}?{query}&limit=100")
    assert response.status_code == 200
    assert len(response.json()) == 100


def replies_with_mentions(conversation, sender, mentioned, count: int) -> None:
    """`count` messages, each a reply to the one before and mentioning `mentioned`."""
    previous = None
    for index in range(count):
        previous, _ = send_message(
            sender=sender,
            conversation=conversation,
            text=f"@{mentioned.username} reply {index}",
            reply_to_id=previous.pk if previous else None,
        )


@pytest.mark.parametrize("query", ["", "?sinceVersion=0", "?after=0"])
def test_replies_and_mentions_add_no_query_per_message(
    direct_conversation, user, other_user, query, django_assert_num_queries
):
    client = client_for(other_user)
    url = f"/api/messages/{direct_conversation.pk}{query}"
    replies_with_mentions(direct_conversation, user, other_user, 2)
    with django_assert_num_queries(PAGE_QUERIES + 1):  # the mentions
        assert len(client.get(url).json()) == 2
    replies_with_mentions(direct_conversation, user, other_user, 30)
    with django_assert_num_queries(PAGE_QUERIES + 1):
        body = client.get(url).json()
    assert len(body) == 32
    assert all(item["mentions"] == [str(other_user.pk)] for item in body)
    assert sum(item["replyTo"] is not None for item in body) == 30


def test_the_conversation_list_counts_unread_mentions_in_one_query(
    user, other_user, django_assert_num_queries
):
    """The conversations, their memberships, their last messages with their
    mentions, reactions and attachments, and the unread mentions of them all."""
    client = client_for(user)
    for count in (1, 20):
        while Conversation.objects.filter(memberships__user=user).count() < count:
            group = ConversationFactory(
                members=[user, other_user], kind=Conversation.Kind.GROUP, direct_key=None
            )
            replies_with_mentions(group, other_user, user, 2)
        with django_assert_num_queries(7):
            body = client.get("/api/conversations").json()
        assert [row["unreadMentions"] for row in body] == [2] * count
        assert all(row["lastMessage"]["mentions"] == [str(user.pk)] for row in body)


def react_to_all(conversation, users) -> None:
    """Each of `users` reacts to every message of the conversation: one
    emoji they share and one of their own."""
    for message in Message.objects.filter(conversation=conversation):
        for index, reactor in enumerate(users):
            add_reaction(user=reactor, message=message, emoji="👍")
            add_reaction(user=reactor, message=message, emoji=["😂", "🎉"][index % 2])


@pytest.mark.parametrize("query", ["", "?sinceVersion=0", "?around=10"])
def test_reactions_add_no_query_per_message(
    direct_conversation, user, other_user, query, django_assert_num_queries
):
    client = client_for(user)
    url = f"/api/messages/{direct_conversation.pk}{query}"
    fill(direct_conversation, [user, other_user], 2)
    react_to_all(direct_conversation, [user, other_user])
    with django_assert_num_queries(PAGE_QUERIES + 1):  # the reactions
        assert len(client.get(url).json()) == 2
    fill(direct_conversation, [user, other_user], 28)
    react_to_all(direct_conversation, [user, other_user])
    with django_assert_num_queries(PAGE_QUERIES + 1):
        body = client.get(url).json()
    assert len(body) == 30
    mine, theirs = str(user.pk), str(other_user.pk)
    assert all(
        item["reactions"]
        == [
            {"emoji": "👍", "count": 2, "users": [mine, theirs], "me": True},
            {"emoji": "😂", "count": 1, "users": [mine], "me": True},
            {"emoji": "🎉", "count": 1, "users": [theirs], "me": False},
        ]
        for item in body
    )


def test_the_conversation_list_reads_the_last_messages_reactions_in_one_query(
    user, other_user, django_assert_num_queries
):
    client = client_for(user)
    for count in (1, 20):
        while Conversation.objects.filter(memberships__user=user).count() < count:
            conversation = ConversationFactory(
                members=[user, other_user], kind=Conversation.Kind.GROUP, direct_key=None
            )
            send_message(sender=other_user, conversation=conversation, text="hello")
            react_to_all(conversation, [other_user])
        with django_assert_num_queries(7):
            body = client.get("/api/conversations").json()
        assert len(body) == count
        assert all(
            row["lastMessage"]["reactions"]
            == [
                {"emoji": "👍", "count": 1, "users": [str(other_user.pk)], "me": False},
                {"emoji": "😂", "count": 1, "users": [str(other_user.pk)], "me": False},
            ]
            for row in body
        )
