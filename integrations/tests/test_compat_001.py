"""Seed 001 (ASAPP List messages), its contract: built from the seed's own
example, every documented status in its error shape, and bounded queries."""

import logging

import pytest
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import ParseError
from rest_framework.throttling import BaseThrottle

from chatproject.errors import ApiError
from conversations.models import Membership
from integrations import seed001
from messaging.models import Message
from messaging.services import close_conversation, delete_message, import_messages
from tests.support.compat import assert_shape, conversation_of, parse_time, say
from tests.support.factories import UserFactory
from users.services import issue_token
from workspaces.services import revoke_api_key

pytestmark = pytest.mark.django_db

# The seed's documented example, verbatim.
EXAMPLE = {
    "items": [
        {
            "text": "Hello, I would like to upgrade my internet plan to GOLD.",
            "sender": {"role": "customer", "externalId": "123456"},
            "messageId": "01GMXE90AEV7H3J4DPBDKB1R79",
            "createdTimestamp": "2021-11-23T12:13:16.853Z",
            "clientTimestamp": "2021-11-23T12:13:14.555Z",
        }
    ]
}
# Documented as nullable, or absent from the data of some senders.
NULLABLE = {"items[].sender.externalId", "items[].clientTimestamp"}
ERROR_EXAMPLE = {
    "error": {
        "requestId": "8e033668-9f1a-11ec-b909-0242ac120002",
        "code": "400-01",
        "message": "Bad request",
    }
}


def url(conversation_id) -> str:
    return f"/conversation/v1/conversations/{conversation_id}/messages"


def asapp_headers(key) -> dict:
    return {"asapp-api-id": key.key_id, "asapp-api-secret": key.secret}


def assert_asapp_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert_shape(body, ERROR_EXAMPLE)
    assert body["error"]["code"] == f"{status}-01"
    assert body["error"]["message"]
    assert body["error"]["requestId"] == response["X-Request-ID"]
    assert "Traceback" not in response.content.decode()
    return body["error"]


@pytest.fixture
def upgrade(workspace):
    """The seed's example conversation: customer 123456 asks, an agent
    answers, and the conversation is closed (a system message)."""
    customer = UserFactory(external_id="123456")
    agent = UserFactory(external_id="agent-7")
    conversation = conversation_of(
        {customer: Membership.Role.CUSTOMER, agent: Membership.Role.AGENT}
    )
    first = say(
        customer,
        conversation,
        EXAMPLE["items"][0]["text"],
        client_timestamp=parse_time(EXAMPLE["items"][0]["clientTimestamp"]),
    )
    oops = say(customer, conversation, "Sent by mistake")
    delete_message(actor=customer, message=oops)
    say(agent, conversation, "Sure, GOLD it is.")
    close_conversation(conversation, actor=agent)
    return conversation, customer, agent, first


def test_lists_the_conversation_as_the_example_shows(anonymous, key, upgrade):
    conversation, _, agent, first = upgrade

    response = anonymous.get(url(conversation.pk), headers=asapp_headers(key))

    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, EXAMPLE, NULLABLE)
    items = body["items"]
    # Chronological, the deleted message left out, the close a system message.
    assert [item["text"] for item in items] == [
        EXAMPLE["items"][0]["text"],
        "Sure, GOLD it is.",
        f"Conversation closed by {agent.name}.",
    ]
    assert [item["sender"] for item in items] == [
        {"role": "customer", "externalId": "123456"},
        {"role": "agent", "externalId": "agent-7"},
        {"role": "system", "externalId": None},
    ]
    assert items[0]["messageId"] == str(first.pk)
    assert parse_time(items[0]["clientTimestamp"]) == parse_time(
        EXAMPLE["items"][0]["clientTimestamp"]
    )
    assert parse_time(items[0]["createdTimestamp"]) == first.created_at
    # No client timestamp was sent with the others: null, not made up.
    assert items[1]["clientTimestamp"] is None
    created = [parse_time(item["createdTimestamp"]) for item in items]
    assert created == sorted(created)


def test_members_of_an_ordinary_conversation_are_agents(anonymous, key):
    owner, member = UserFactory(), UserFactory()
    conversation = conversation_of({owner: Membership.Role.OWNER, member: Membership.Role.MEMBER})
    say(owner, conversation, "hi")
    say(member, conversation, "hello")
    items = anonymous.get(url(conversation.pk), headers=asapp_headers(key)).json()["items"]
    assert [item["sender"] for item in items] == [
        {"role": "agent", "externalId": None},
        {"role": "agent", "externalId": None},
    ]


def test_an_empty_conversation_has_no_items(anonymous, key):
    conversation = conversation_of({UserFactory(): Membership.Role.CUSTOMER})
    response = anonymous.get(url(conversation.pk), headers=asapp_headers(key))
    assert response.json() == {"items": []}


# Authentication and authorisation ------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"asapp-api-id": "KEY_ID"},
        {"asapp-api-secret": "SECRET"},
        {"asapp-api-id": "KEY_ID", "asapp-api-secret": "wrong"},
        {"asapp-api-id": "nope", "asapp-api-secret": "SECRET"},
    ],
    ids=["none", "id only", "secret only", "wrong secret", "unknown id"],
)
def test_missing_or_wrong_credentials_are_401_01(anonymous, key, upgrade, headers):
    filled = {
        name: value.replace("KEY_ID", key.key_id).replace("SECRET", key.secret)
        for name, value in headers.items()
    }
    response = anonymous.get(url(upgrade[0].pk), headers=filled)
    assert_asapp_error(response, 401)
    assert "asapp-api-id" in response["WWW-Authenticate"]


def test_a_revoked_key_is_401_01(anonymous, key, upgrade):
    revoke_api_key(key.api_key)
    assert_asapp_error(anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key)), 401)


def test_a_user_token_is_not_an_api_key(anonymous, upgrade):
    _, token = issue_token(upgrade[1])
    response = anonymous.get(url(upgrade[0].pk), headers={"Authorization": f"Bearer {token}"})
    assert_asapp_error(response, 401)


def test_another_workspaces_conversation_is_403_01(anonymous, other_key, upgrade):
    response = anonymous.get(url(upgrade[0].pk), headers=asapp_headers(other_key))
    assert_asapp_error(response, 403)


@pytest.mark.parametrize(
    "conversation_id", ["999999", "abc", "01GMXE90AEV7H3J4DPBDKB1R79", "1%2F2"]
)
def test_unknown_conversations_are_404_01(anonymous, key, upgrade, conversation_id):
    response = anonymous.get(url(conversation_id), headers=asapp_headers(key))
    assert_asapp_error(response, 404)


def test_another_method_is_an_error_in_the_seeds_shape(anonymous, key, upgrade):
    response = anonymous.post(url(upgrade[0].pk), {}, format="json", headers=asapp_headers(key))
    assert_asapp_error(response, 405)


# Every documented status, in the seed's shape -------------------------------------


def test_a_conversation_too_long_to_return_whole_is_422_01(anonymous, key, upgrade, settings):
    settings.CHAT_COMPAT_MAX_MESSAGES = 2
    response = anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key))
    assert_asapp_error(response, 422)


class AlwaysThrottled(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        return False

    def wait(self) -> float:
        return 7


def test_throttling_is_429_01_with_retry_after(anonymous, key, upgrade, monkeypatch):
    monkeypatch.setattr(seed001.AsappMessagesView, "throttle_classes", [AlwaysThrottled])
    response = anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key))
    assert_asapp_error(response, 429)
    assert response["Retry-After"] == "7"


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (ParseError("Bad request"), 400),
        (ApiError(409, "conflict", "Conflict"), 409),
        (RequestDataTooBig("too big"), 413),
        (OperationalError("the database is down"), 503),
    ],
    ids=["400", "409", "413", "503"],
)
def test_every_documented_status_has_the_seeds_shape(
    anonymous, key, upgrade, monkeypatch, raised, status
):
    def fail(conversation_id):
        raise raised

    monkeypatch.setattr(seed001, "whole_conversation", fail)
    assert_asapp_error(anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key)), status)


def test_an_unexpected_exception_is_500_01_logged_without_traceback(
    anonymous, key, upgrade, monkeypatch, caplog
):
    def explode(message, roles):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(seed001, "render_message", explode)
    with caplog.at_level(logging.ERROR, logger="integrations"):
        response = anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key))
    error = assert_asapp_error(response, 500)
    assert error["message"] == "Internal server error"
    assert "secret internals" not in response.content.decode()
    assert any(record.exc_info for record in caplog.records), caplog.records


# Queries -------------------------------------------------------------------------------


def test_queries_do_not_grow_with_the_conversation(
    anonymous, key, upgrade, django_assert_max_num_queries
):
    conversation, customer, agent, _ = upgrade
    anonymous.get(url(conversation.pk), headers=asapp_headers(key))  # stamps last_used_at

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = anonymous.get(url(conversation.pk), headers=asapp_headers(key))
        return len(queries.captured_queries), len(response.json()["items"])

    few, three = count()
    import_messages(conversation=conversation, senders=[customer, agent], texts=["x"] * 300)
    many, more = count()
    assert (three, more) == (3, 303)
    assert few == many
    # The key, the conversation, its messages (with senders) and their
    # attachments, the members' roles.
    with django_assert_max_num_queries(5):
        anonymous.get(url(conversation.pk), headers=asapp_headers(key))


def test_the_key_records_its_last_use(anonymous, key, upgrade):
    assert key.api_key.last_used_at is None
    anonymous.get(url(upgrade[0].pk), headers=asapp_headers(key))
    key.api_key.refresh_from_db()
    assert key.api_key.last_used_at is not None
    assert Message.objects.filter(conversation=upgrade[0]).count() == 4
