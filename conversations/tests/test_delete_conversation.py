"""Deleting a conversation (the admin's delete page and its bulk action) goes
through conversations.services.delete_conversations: every member's sockets
get `conversation.deleted` after the commit."""

import pytest
from django.db import transaction

from conversations import services
from conversations.models import Conversation, Membership
from messaging.models import Message
from messaging.services import send_message
from tests.support.events import frames
from tests.support.events import listen_as_user as listen
from tests.support.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def deleted_frame(conversation_id: int) -> dict:
    return {"type": "conversation.deleted", "conversationId": str(conversation_id)}


def test_the_admin_delete_page_tells_every_member(
    admin_client, user, other_user, outsider, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(members=[user, other_user])
    send_message(sender=user, conversation=conversation, text="soon gone")
    channels = {member.pk: listen(member.pk) for member in (user, other_user, outsider)}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/conversations/conversation/{conversation.pk}/delete/", {"post": "yes"}
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.exists() and not Membership.objects.exists()
    assert frames(channels[user.pk]) == [deleted_frame(conversation.pk)]
    assert frames(channels[other_user.pk]) == [deleted_frame(conversation.pk)]
    assert frames(channels[outsider.pk]) == []


def test_the_admin_bulk_delete_tells_the_members_of_each(
    admin_client, user, other_user, outsider, django_capture_on_commit_callbacks
):
    first = ConversationFactory(members=[user, other_user])
    second = ConversationFactory(members=[user, outsider], kind="group", direct_key=None)
    kept = ConversationFactory(members=[other_user, outsider])
    user_channel, outsider_channel = listen(user.pk), listen(outsider.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/conversations/conversation/",
            {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert sorted(frames(user_channel), key=lambda f: int(f["conversationId"])) == [
        deleted_frame(first.pk),
        deleted_frame(second.pk),
    ]
    assert frames(outsider_channel) == [deleted_frame(second.pk)]


def test_a_rolled_back_delete_publishes_nothing(
    user, other_user, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(members=[user, other_user])
    channel = listen(user.pk)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.delete_conversations(conversations=[conversation])
        raise RuntimeError("rolled back")

    assert callbacks == []
    assert frames(channel) == []
    assert Conversation.objects.filter(pk=conversation.pk).exists()
