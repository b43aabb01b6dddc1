"""Live events: published to the channel layer after commit, never before,
never for a rolled-back write, and never at the cost of the write itself."""

import asyncio
import json
import logging
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer
from django.db import transaction

from chatproject.bus import EVENT_HANDLER
from conversations.models import Membership
from conversations.services import create_conversation, mark_read
from messaging.models import Message
from messaging.services import delete_message, edit_message, send_message
from tests.support.events import frames, listen
from tests.support.factories import UserFactory


def receive_one(channel: str, layer, wait: float) -> dict:
    async def receive() -> dict:
        return await asyncio.wait_for(layer.receive(channel), wait)

    return async_to_sync(receive)()


def test_send_publishes_message_new_to_the_conversation_group(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, _ = send_message(sender=user, conversation=direct_conversation, text="hi there")
    assert len(callbacks) == 1

    [frame] = frames(channel)
    assert frame["type"] == "message.new"
    assert frame["conversationId"] == str(direct_conversation.pk)
    assert frame["seq"] == message.seq == 1
    assert frame["version"] == message.version == 1
    assert frame["message"]["id"] == str(message.pk)
    assert frame["message"]["text"] == "hi there"
    assert frame["message"]["sender"] == str(user.pk)
    assert frame["message"]["conversationId"] == str(direct_conversation.pk)
    assert frame["message"]["seq"] == 1


def test_other_conversations_do_not_receive_the_event(
    direct_conversation, user, outsider, django_capture_on_commit_callbacks
):
    elsewhere, _ = create_conversation(creator=user, member_ids=[outsider.pk])
    channel = listen(f"conversation.{elsewhere.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        send_message(sender=user, conversation=direct_conversation, text="not for you")
    assert frames(channel) == []


def test_rolled_back_send_publishes_nothing(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{direct_conversation.pk}")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        send_message(sender=user, conversation=direct_conversation, text="never stored")
        raise RuntimeError("roll back")
    assert callbacks == []
    assert not Message.objects.exists()
    assert frames(channel) == []


def test_callbacks_do_not_run_before_commit(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send_message(sender=user, conversation=direct_conversation, text="pending")
    assert len(callbacks) == 1
    assert frames(channel) == []
    # Running the captured callback (what commit does) delivers the frame.
    callbacks[0]()
    assert [frame["type"] for frame in frames(channel)] == ["message.new"]


@pytest.mark.django_db(transaction=True)
def test_real_commit_publishes_after_the_outer_transaction_only(user, other_user):
    conversation, _ = create_conversation(creator=user, member_ids=[other_user.pk])
    channel = listen(f"conversation.{conversation.pk}")
    with transaction.atomic():
        message, _ = send_message(sender=user, conversation=conversation, text="on commit")
        assert frames(channel) == []
    [frame] = frames(channel)
    assert frame["type"] == "message.new"
    assert frame["message"]["id"] == str(message.pk)


@pytest.mark.django_db(transaction=True)
def test_real_rollback_publishes_nothing(user, other_user):
    conversation, _ = create_conversation(creator=user, member_ids=[other_user.pk])
    channel = listen(f"conversation.{conversation.pk}")
    with pytest.raises(RuntimeError), transaction.atomic():
        send_message(sender=user, conversation=conversation, text="rolled back")
        raise RuntimeError("roll back")
    assert not Message.objects.exists()
    assert frames(channel) == []


def test_edit_publishes_message_updated(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="first")
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        edit_message(actor=user, message=message, text="second")
    [frame] = frames(channel)
    assert frame["type"] == "message.updated"
    assert frame["seq"] == 1
    assert frame["version"] == 2
    assert frame["message"]["text"] == "second"
    assert frame["message"]["editedAt"] is not None
    assert frame["message"]["deletedAt"] is None


def test_delete_publishes_message_deleted_tombstone(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="regret")
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        delete_message(actor=user, message=message)
    [frame] = frames(channel)
    assert frame["type"] == "message.deleted"
    assert frame["seq"] == 1
    assert frame["version"] == 2
    assert frame["message"]["id"] == str(message.pk)
    assert frame["message"]["text"] == ""
    assert frame["message"]["deletedAt"] is not None


def test_create_conversation_publishes_conversation_new_to_each_member(
    user, other_user, outsider, django_capture_on_commit_callbacks
):
    third = UserFactory()
    channels = {member.pk: listen(f"user.{member.pk}") for member in (user, other_user, third)}
    not_member = listen(f"user.{outsider.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        conversation, created = create_conversation(
            creator=user, member_ids=[other_user.pk, third.pk], title="Trio"
        )
    assert created
    for channel in channels.values():
        [frame] = frames(channel)
        assert frame["type"] == "conversation.new"
        assert frame["conversation"]["id"] == str(conversation.pk)
        assert frame["conversation"]["kind"] == "group"
        assert frame["conversation"]["title"] == "Trio"
        assert sorted(frame["conversation"]["users"]) == sorted(
            str(pk) for pk in (user.pk, other_user.pk, third.pk)
        )
    assert frames(not_member) == []


def test_finding_an_existing_direct_conversation_publishes_nothing(
    user, other_user, django_capture_on_commit_callbacks
):
    create_conversation(creator=user, member_ids=[other_user.pk])
    channel = listen(f"user.{other_user.pk}")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _, created = create_conversation(creator=other_user, member_ids=[user.pk])
    assert not created
    assert callbacks == []
    assert frames(channel) == []


def test_mark_read_publishes_read(
    direct_conversation, user, other_user, django_capture_on_commit_callbacks
):
    for text in ("one", "two", "three"):
        send_message(sender=user, conversation=direct_conversation, text=text)
    membership = Membership.objects.get(conversation=direct_conversation, user=other_user)
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        mark_read(membership=membership, seq=2)
    [frame] = frames(channel)
    assert frame == {
        "type": "read",
        "conversationId": str(direct_conversation.pk),
        "userId": str(other_user.pk),
        "seq": 2,
    }
    # A marker that does not move is not announced.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        mark_read(membership=membership, seq=1)
    assert callbacks == []
    assert frames(channel) == []


def test_a_failing_layer_does_not_fail_the_send(
    direct_conversation, user, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()

    async def broken_group_send(group, event):
        raise ConnectionError("layer is down")

    monkeypatch.setattr(layer, "group_send", broken_group_send)
    with (
        caplog.at_level(logging.ERROR, logger="chatproject.bus"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        message, created = send_message(
            sender=user, conversation=direct_conversation, text="still stored"
        )
    assert len(callbacks) == 1
    assert created
    assert Message.objects.get(pk=message.pk).text == "still stored"
    failures = [r for r in caplog.records if r.name == "chatproject.bus"]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR
    assert "message.new" in failures[0].getMessage()
    assert f"conversation.{direct_conversation.pk}" in failures[0].getMessage()
    # The layer being down is one line with the error, not a traceback per message.
    assert "layer is down" in failures[0].getMessage()
    assert failures[0].exc_info is None
    assert "ConnectionError" in failures[0].getMessage()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_send_is_delivered_through_the_redis_layer(redis_url, settings, user, other_user):
    prefix = f"chat-test-{uuid.uuid4().hex}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_timeout": None}],
                "prefix": prefix,
                "expiry": 10,
                "group_expiry": 60,
            },
        }
    }
    channel_layers.backends.clear()
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    conversation, _ = create_conversation(creator=user, member_ids=[other_user.pk])
    channel = listen(f"conversation.{conversation.pk}", layer)
    try:
        message, _ = send_message(sender=user, conversation=conversation, text="via redis")
        event = receive_one(channel, layer, wait=10)
        assert event["type"] == EVENT_HANDLER
        frame = json.loads(event["frame"])
        assert frame["type"] == "message.new"
        assert frame["conversationId"] == str(conversation.pk)
        assert frame["seq"] == message.seq == 1
        assert frame["version"] == message.version == 1
        assert frame["message"]["text"] == "via redis"
    finally:
        async_to_sync(layer.group_discard)(f"conversation.{conversation.pk}", channel)
