"""A send moves the sender's read mark; when it jumps over messages of others
(a reply to unread ones) the members are told with `read`, as when the mark
is moved by `read`, so "Seen" shows without a reload."""

import pytest

from conversations.models import Membership
from messaging.services import send_message
from tests.support.api import post_message
from tests.support.events import frames, listen

pytestmark = pytest.mark.django_db


def test_a_reply_over_rest_publishes_read_after_the_message(
    direct_conversation, user, other_user, other_client, django_capture_on_commit_callbacks
):
    for text in ("one", "two"):
        send_message(sender=user, conversation=direct_conversation, text=text)
    channel = listen(f"conversation.{direct_conversation.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_message(other_client, direct_conversation, other_user, "a reply")

    assert response.status_code == 200, response.content.decode()
    new, read = frames(channel)
    assert (new["type"], new["seq"]) == ("message.new", 3)
    assert read == {
        "type": "read",
        "conversationId": str(direct_conversation.pk),
        "userId": str(other_user.pk),
        "seq": 3,
    }
    assert Membership.objects.get(user=other_user).last_read_seq == 3


def test_a_send_by_one_who_had_read_everything_publishes_only_the_message(
    direct_conversation, user, django_capture_on_commit_callbacks
):
    send_message(sender=user, conversation=direct_conversation, text="first")
    channel = listen(f"conversation.{direct_conversation.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        send_message(sender=user, conversation=direct_conversation, text="second")

    assert [frame["type"] for frame in frames(channel)] == ["message.new"]


def test_a_non_member_send_publishes_no_read(
    direct_conversation, user, outsider, django_capture_on_commit_callbacks
):
    send_message(sender=user, conversation=direct_conversation, text="first")
    channel = listen(f"conversation.{direct_conversation.pk}")

    with django_capture_on_commit_callbacks(execute=True):
        send_message(sender=outsider, conversation=direct_conversation, text="from the admin")

    assert [frame["type"] for frame in frames(channel)] == ["message.new"]
