"""GET /api/messages/{id} runs a fixed number of queries, whatever the page size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Message
from messaging.services import edit_message, import_messages
from tests.support.api import client_for

pytestmark = pytest.mark.django_db

# The caller's membership (with its conversation), then the page.
HISTORY_QUERIES = 2


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

    assert one == fifty == two_hundred == HISTORY_QUERIES


@pytest.mark.parametrize("query", ["before=150", "after=10", "sinceVersion=5"])
def test_history_cursors_take_the_same_queries(
    direct_conversation, user, other_user, query, django_assert_num_queries
):
    fill(direct_conversation, [user, other_user], 200)
    first = Message.objects.get(conversation=direct_conversation, seq=1)
    edit_message(actor=user, message=first, text="edited")
    client = client_for(user)
    with django_assert_num_queries(HISTORY_QUERIES):
        response = client.get(f"/api/messages/{direct_conversation.pk}?{query}&limit=100")
    assert response.status_code == 200
    assert len(response.json()) == 100
