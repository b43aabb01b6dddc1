"""GET /api/conversations runs a fixed number of queries, however many
conversations (each with messages) the user has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, Membership
from messaging.models import Message
from messaging.services import send_message
from tests.support.api import client_for
from tests.support.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

# The conversations, their memberships (prefetched), their last messages
# (with their mentions, reactions and attachments) and the unread mentions.
LIST_QUERIES = 7


def add_conversations(user, count: int) -> list[Conversation]:
    """`count` conversations of `user` (alternately direct and three-person
    groups), each with two messages from the other side and one of theirs."""
    made = []
    for index in range(count):
        if index % 2 == 0:
            others = [UserFactory()]
            conversation = ConversationFactory(members=[user, *others])
        else:
            others = [UserFactory(), UserFactory()]
            conversation = ConversationFactory(
                kind=Conversation.Kind.GROUP, direct_key=None, members=[user, *others]
            )
        send_message(sender=others[0], conversation=conversation, text=f"hello {index}")
        send_message(sender=user, conversation=conversation, text=f"reply {index}")
        send_message(sender=others[-1], conversation=conversation, text=f"last {index}")
        made.append(conversation)
    return made


def count_queries(client, url: str) -> tuple[int, list]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(context.captured_queries), response.json()


def check_listing(body: list, conversations: list[Conversation]) -> None:
    assert sorted(item["id"] for item in body) == sorted(str(c.pk) for c in conversations)
    for item in body:
        assert item["lastSeq"] == 3
        assert item["lastReadSeq"] == 2
        assert item["unreadCount"] == 1
        assert item["lastMessage"]["seq"] == 3
        assert item["lastMessage"]["text"].startswith("last ")
        assert len(item["users"]) in (2, 3)


@pytest.mark.parametrize("path", ["/api/conversations", "/api/conversations/{user_id}"])
def test_listing_conversations_takes_the_same_queries_for_1_and_50(
    user, path, django_assert_max_num_queries
):
    client = client_for(user)
    url = path.format(user_id=user.pk)
    conversations = add_conversations(user, 1)
    with django_assert_max_num_queries(LIST_QUERIES):
        one, body = count_queries(client, url)
    check_listing(body, conversations)

    conversations += add_conversations(user, 49)
    with django_assert_max_num_queries(LIST_QUERIES):
        fifty, body = count_queries(client, url)
    check_listing(body, conversations)
    assert len(body) == 50
    assert one == fifty == LIST_QUERIES


def test_listing_with_no_conversations_is_cheaper_still(user, django_assert_num_queries):
    client = client_for(user)
    with django_assert_num_queries(1):
        response = client.get("/api/conversations")
    assert response.json() == []


def test_listing_a_thousand_conversations_with_messages_works(user):
    """On SQLite one OR term per conversation once exceeded its expression
    depth limit (1000): the listing failed for a user with 1000+ conversations."""
    count = 1100
    now = timezone.now()
    conversations = Conversation.objects.bulk_create(
        Conversation(
            kind=Conversation.Kind.GROUP,
            title=f"Room {index}",
            last_seq=1,
            last_version=1,
            last_message_at=now,
        )
        for index in range(count)
    )
    Membership.objects.bulk_create(
        Membership(conversation=conversation, user=user) for conversation in conversations
    )
    Message.objects.bulk_create(
        Message(conversation=conversation, sender=user, seq=1, version=1, text=conversation.title)
        for conversation in conversations
    )
    with CaptureQueriesContext(connection) as context:
        response = client_for(user).get("/api/conversations")
    assert response.status_code == 200
    body = response.json()
    assert len(body) == count
    assert all(item["lastMessage"]["text"] == item["title"] for item in body)
    # Still a handful of queries, not one per conversation.
    assert len(context.captured_queries) <= LIST_QUERIES + 2
