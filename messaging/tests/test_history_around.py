"""GET /api/messages/{id}?around=S: the page around a message (a message
link opens it), with Link headers to its neighbours, by keyset in the same
queries as every other page."""

from urllib.parse import parse_qs, urlparse

import pytest
from requests.utils import parse_header_links

from messaging.models import Message
from messaging.services import delete_message, import_messages
from messaging.tests.test_query_counts import PAGE_QUERIES
from tests.support.api import assert_error, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def hundred(direct_conversation, user, other_user):
    import_messages(
        conversation=direct_conversation,
        senders=[user, other_user],
        texts=(f"message {number}" for number in range(1, 101)),
    )
    return direct_conversation


def around(client, conversation, **query):
    return client.get(f"/api/messages/{conversation.pk}", query)


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [message["seq"] for message in response.json()]


def links(response) -> dict[str, dict[str, list[str]]]:
    """Each Link's query by its rel."""
    return {
        link["rel"]: parse_qs(urlparse(link["url"]).query)
        for link in parse_header_links(response.get("Link", ""))
    }


def test_the_page_is_half_before_and_half_from_the_seq(user, hundred):
    response = around(client_for(user), hundred, around=50, limit=10)

    assert seqs(response) == list(range(45, 55))
    assert links(response) == {
        "prev": {"before": ["45"], "limit": ["10"]},
        "next": {"after": ["54"], "limit": ["10"]},
    }


def test_the_neighbouring_pages_join_up(user, hundred):
    client = client_for(user)
    page = around(client, hundred, around=50, limit=10)

    older = around(client, hundred, **{k: v[0] for k, v in links(page)["prev"].items()})
    newer = around(client, hundred, **{k: v[0] for k, v in links(page)["next"].items()})

    assert seqs(older) == list(range(35, 45))
    assert seqs(newer) == list(range(55, 65))


def test_near_the_start_the_page_starts_at_the_first_message(user, hundred):
    response = around(client_for(user), hundred, around=2, limit=10)

    assert seqs(response) == list(range(1, 11))
    assert set(links(response)) == {"next"}


def test_near_the_end_the_page_ends_at_the_newest_message(user, hundred):
    response = around(client_for(user), hundred, around=99, limit=10)

    assert seqs(response) == list(range(94, 101))
    assert set(links(response)) == {"prev"}


def test_deleted_messages_are_tombstones_in_the_page(user, hundred):
    delete_message(actor=user, message=Message.objects.get(conversation=hundred, seq=49))

    response = around(client_for(user), hundred, around=50, limit=4)

    assert seqs(response) == [48, 49, 50, 51]
    assert response.json()[1]["deletedAt"] is not None


@pytest.mark.parametrize("other", ["before", "after", "sinceVersion"])
def test_around_excludes_the_other_cursors(user, hundred, other):
    response = around(client_for(user), hundred, around=50, **{other: 10})

    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("seq", ["0", "-1", "x"])
def test_around_is_a_seq(user, hundred, seq):
    assert_error(around(client_for(user), hundred, around=seq), 400, "validation_error")


def test_around_is_for_members_only(outsider_client, hundred):
    assert_error(around(outsider_client, hundred, around=50), 403, "permission_denied")


def test_around_takes_the_queries_of_any_page(user, hundred, django_assert_num_queries):
    with django_assert_num_queries(PAGE_QUERIES):
        assert len(seqs(around(client_for(user), hundred, around=80, limit=100))) == 71
