"""Creating conversations is limited per user ("conversation.create"), over
REST and the new-conversation page together."""

import pytest

from conversations.models import Conversation
from tests.support.api import assert_error
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db


def create_group(client, *members) -> object:
    body = {"users": [str(member.pk) for member in members], "kind": "group"}
    return client.post("/api/conversations", body, format="json")


def test_group_creates_over_the_limit_are_429_with_retry_after(
    settings, user_client, other_user, outsider
):
    set_rates(settings, {"conversation.create": "3/min"})
    answers = [create_group(user_client, other_user, outsider) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [201, 201, 201]

    refused = create_group(user_client, other_user, outsider)

    error = assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) == error["details"]["retryAfterSeconds"] >= 1
    assert Conversation.objects.count() == 3


def test_the_limit_is_per_user(settings, user_client, other_client, user, other_user, outsider):
    set_rates(settings, {"conversation.create": "1/min"})
    assert create_group(user_client, other_user, outsider).status_code == 201
    assert create_group(other_client, user, outsider).status_code == 201
    assert_error(create_group(user_client, other_user, outsider), 429, "throttled")
