"""A history page read with a token: the token, its user and the membership in
one query (MessageViewSet.token_annotations), the page in one more; every
answer as before (a revoked token is refused at the next request)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from conversations.models import Conversation
from messaging.services import import_messages
from tests.support.api import assert_error
from tests.support.factories import ConversationFactory
from users.services import issue_token, revoke_token

pytestmark = pytest.mark.django_db

# The token with its user and whether they are a member, then the page.
TOKEN_PAGE_QUERIES = 2


def token_client(user) -> tuple[APIClient, object]:
    token, key = issue_token(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client, token


@pytest.fixture
def conversation(user, other_user):
    conversation = ConversationFactory(members=[user, other_user])
    import_messages(
        conversation=conversation,
        senders=[user, other_user],
        texts=(f"message {number}" for number in range(1, 61)),
    )
    return conversation


def test_a_members_page_is_two_queries(conversation, user):
    client, _ = token_client(user)
    url = f"/api/messages/{conversation.pk}?limit=50"
    assert client.get(url).status_code == 200  # stamps the token's last use

    with CaptureQueriesContext(connection) as context:
        response = client.get(url)

    assert response.status_code == 200
    assert [message["seq"] for message in response.json()] == list(range(11, 61))
    assert len(context.captured_queries) == TOKEN_PAGE_QUERIES


def test_a_revoked_token_is_refused_at_the_next_request(conversation, user):
    client, token = token_client(user)
    url = f"/api/messages/{conversation.pk}"
    assert client.get(url).status_code == 200

    revoke_token(token)

    assert_error(client.get(url), 401)


def test_a_deactivated_users_token_is_refused(conversation, user):
    client, _ = token_client(user)
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert_error(client.get(f"/api/messages/{conversation.pk}"), 401)


def test_a_non_member_gets_403_and_an_unknown_conversation_404(conversation, outsider):
    client, _ = token_client(outsider)

    assert_error(client.get(f"/api/messages/{conversation.pk}"), 403)
    missing = (Conversation.objects.order_by("-pk").values_list("pk", flat=True).first()) + 1
    assert_error(client.get(f"/api/messages/{missing}"), 404)


def test_the_membership_is_checked_for_each_conversation_of_the_token(conversation, user, outsider):
    other = ConversationFactory(members=[outsider])
    client, _ = token_client(user)

    assert client.get(f"/api/messages/{conversation.pk}").status_code == 200
    assert_error(client.get(f"/api/messages/{other.pk}"), 403)


def test_a_session_still_has_its_membership_checked(conversation, user, outsider, client):
    client.force_login(outsider)

    assert_error(client.get(f"/api/messages/{conversation.pk}"), 403)
    client.force_login(user)
    assert client.get(f"/api/messages/{conversation.pk}").status_code == 200


def test_other_reads_with_a_token_are_unchanged(conversation, user, outsider):
    """Only the history page asks the token's query for the membership."""
    client, _ = token_client(outsider)
    message_id = conversation.messages.order_by("seq").first().pk

    assert_error(client.get(f"/api/messages/{conversation.pk}/{message_id}/history"), 403)
    member_client, _ = token_client(user)
    response = member_client.get(f"/api/messages/{conversation.pk}/{message_id}/history")
    assert response.status_code == 200
