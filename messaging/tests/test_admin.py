"""The admin: pages load with many rows, and admin writes go through the services."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatproject.bus import conversation_group
from messaging.models import Message
from messaging.services import send_message
from tests.support.factories import ConversationFactory, UserFactory


@pytest.fixture
def busy_conversation(db):
    alice, bob = UserFactory(), UserFactory()
    conversation = ConversationFactory(members=[alice, bob])
    for number in range(3):
        send_message(sender=alice, conversation=conversation, text=f"hello {number}")
    return conversation, alice, bob


@pytest.mark.django_db(transaction=True)
def test_adding_a_message_in_the_admin_uses_the_send_service(admin_client, busy_conversation):
    conversation, alice, _ = busy_conversation
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(conversation_group(conversation.pk), channel)

    response = admin_client.post(
        "/admin/messaging/message/add/",
        {"conversation": conversation.pk, "sender": alice.pk, "kind": "text", "text": "From admin"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = Message.objects.get(text="From admin")
    assert (stored.seq, stored.version) == (4, 4)
    conversation.refresh_from_db()
    assert conversation.last_seq == 4
    frame = json.loads(async_to_sync(layer.receive)(channel)["frame"])
    assert frame["type"] == "message.new"
    assert frame["message"]["text"] == "From admin"


def test_deleting_in_the_admin_leaves_a_tombstone(admin_client, busy_conversation):
    conversation, _, _ = busy_conversation
    message = Message.objects.get(conversation=conversation, seq=2)
    response = admin_client.post(f"/admin/messaging/message/{message.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.deleted_at is not None and message.text == ""
    assert message.version == 4


def test_admin_message_pages_search_and_filter(
    admin_client, busy_conversation, django_assert_max_num_queries
):
    conversation, _, _ = busy_conversation
    other = ConversationFactory(members=[UserFactory()])
    send_message(sender=other.members.first(), conversation=other, text="elsewhere")
    with django_assert_max_num_queries(12):
        listing = admin_client.get("/admin/messaging/message/", {"conversation": conversation.pk})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "hello 1" in page and "elsewhere" not in page
    found = admin_client.get("/admin/messaging/message/", {"q": "elsewhere"})
    assert "elsewhere" in found.content.decode() and "hello 1" not in found.content.decode()
    assert (
        admin_client.get(
            f"/admin/messaging/message/{Message.objects.first().pk}/change/"
        ).status_code
        == 200
    )


def test_admin_conversation_and_user_pages_load(admin_client, busy_conversation):
    conversation, alice, _ = busy_conversation
    assert admin_client.get("/admin/conversations/conversation/").status_code == 200
    change = admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")
    assert change.status_code == 200
    assert alice.username in change.content.decode() or str(alice.pk) in change.content.decode()
    assert admin_client.get("/admin/users/user/").status_code == 200
    assert admin_client.get(f"/admin/users/user/{alice.pk}/change/").status_code == 200
