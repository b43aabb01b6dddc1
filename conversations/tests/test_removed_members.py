"""A member removed from a direct conversation (the admin's inline delete):
they no longer see it, their sockets are told, and starting the direct
conversation again re-adds them to the same one (history kept)."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from conversations import services
from conversations.models import Conversation, Membership
from messaging.services import send_message
from tests.support.admin import change_form
from tests.support.api import assert_error
from tests.support.events import listen_as_user as listen

pytestmark = pytest.mark.django_db


def received(channel: str) -> dict:
    return json.loads(async_to_sync(get_channel_layer().receive)(channel)["frame"])


@pytest.fixture
def direct(user, other_user) -> Conversation:
    conversation, _ = services.create_conversation(creator=user, member_ids=[other_user.pk])
    send_message(sender=user, conversation=conversation, text="before the removal")
    return conversation


def remove_in_admin(admin_client, conversation: Conversation, removed) -> None:
    memberships = list(conversation.memberships.order_by("pk"))
    index = next(i for i, m in enumerate(memberships) if m.user_id == removed.pk)
    data = change_form(conversation, memberships, **{f"memberships-{index}-DELETE": "on"})
    response = admin_client.post(
        f"/admin/conversations/conversation/{conversation.pk}/change/", data
    )
    assert response.status_code == 302, response.content.decode()[:3000]


def test_the_admin_inline_delete_tells_the_removed_users_sockets(
    admin_client, direct, other_user, django_capture_on_commit_callbacks
):
    channel = listen(other_user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        remove_in_admin(admin_client, direct, other_user)

    assert not Membership.objects.filter(conversation=direct, user=other_user).exists()
    assert received(channel) == {"type": "conversation.removed", "conversationId": str(direct.pk)}


def test_a_removed_member_cannot_find_the_direct_conversation(
    admin_client, user_client, other_client, direct, user, other_user
):
    remove_in_admin(admin_client, direct, other_user)
    send_message(sender=user, conversation=direct, text="after the removal")

    response = other_client.get(f"/api/conversations/find/{other_user.pk}/{user.pk}")

    assert_error(response, 404, "not_found")
    assert "after the removal" not in response.content.decode()
    # The member who stayed still finds it.
    mine = user_client.get(f"/api/conversations/find/{user.pk}/{other_user.pk}")
    assert mine.status_code == 200
    assert mine.json()["users"] == [str(user.pk)]


def test_starting_the_pair_again_re_adds_the_removed_member(
    admin_client, other_client, direct, user, other_user, django_capture_on_commit_callbacks
):
    remove_in_admin(admin_client, direct, other_user)
    channel = listen(other_user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = other_client.post("/api/conversations", {"users": [str(user.pk)]}, format="json")

    assert response.status_code == 200, response.content.decode()
    body = response.json()
    assert body["id"] == str(direct.pk)
    assert sorted(body["users"]) == sorted([str(user.pk), str(other_user.pk)])
    assert body["lastMessage"]["text"] == "before the removal"
    frame = received(channel)
    assert (frame["type"], frame["conversation"]["id"]) == ("conversation.new", str(direct.pk))
    assert Conversation.objects.filter(kind="direct").count() == 1


def test_the_remaining_member_starting_the_pair_re_adds_the_other(
    admin_client, user_client, direct, user, other_user
):
    remove_in_admin(admin_client, direct, other_user)

    response = user_client.post(
        "/api/conversations", {"users": [str(other_user.pk)]}, format="json"
    )

    assert response.status_code == 200
    assert sorted(response.json()["users"]) == sorted([str(user.pk), str(other_user.pk)])


def test_re_adding_keeps_the_owner_role_of_the_creator(user, other_user, direct):
    services.remove_member(Membership.objects.get(conversation=direct, user=user))

    again, created = services.create_conversation(creator=user, member_ids=[other_user.pk])

    assert (again.pk, created) == (direct.pk, False)
    assert Membership.objects.get(conversation=direct, user=user).role == "owner"
