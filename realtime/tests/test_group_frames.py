"""The live side of group management on real sockets: members see the group
change (conversation.updated), a removed member's sockets drop it
(conversation.removed) and hear nothing of it after, and a mute reaches
only the muting user's own sockets (membership.updated)."""

import pytest
from channels.db import database_sync_to_async

from conversations.models import Conversation, Membership
from conversations.services import create_conversation, set_muted
from messaging import services
from tests.support.sockets import (
    assert_silent,
    make_user,
    open_socket,
    receive_until,
    send_frame,
    settle,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_group(creator, *members) -> Conversation:
    group, _ = create_conversation(
        creator=creator, member_ids=[member.pk for member in members], kind="group"
    )
    return group


async def test_members_see_a_rename_and_an_addition(sockets):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    group = await make_group(alice, bob)
    bob_socket = await open_socket(sockets, bob)
    carol_socket = await open_socket(sockets, carol)

    await database_sync_to_async(services.rename_group)(
        actor=alice, conversation=group, title="Lunch"
    )
    renamed, before = await receive_until(bob_socket, "conversation.updated")
    assert [frame["type"] for frame in before] == ["message.new"]
    assert renamed["conversation"]["title"] == "Lunch"

    await database_sync_to_async(services.add_group_members)(
        actor=alice, conversation=group, user_ids=[carol.pk]
    )
    added, _ = await receive_until(bob_socket, "conversation.updated")
    assert [m["id"] for m in added["conversation"]["members"]] == [
        str(alice.pk),
        str(bob.pk),
        str(carol.pk),
    ]
    new, _ = await receive_until(carol_socket, "conversation.new")
    assert new["conversation"]["title"] == "Lunch"
    assert len(new["conversation"]["members"]) == 3


async def test_a_removed_member_drops_the_group_and_hears_nothing_more(sockets):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    group = await make_group(alice, bob, carol)
    alice_socket = await open_socket(sockets, alice)
    carol_socket = await open_socket(sockets, carol)
    carol_second = await open_socket(sockets, carol)

    await database_sync_to_async(services.remove_group_member)(
        actor=alice, conversation=group, user_id=carol.pk
    )

    for socket in (carol_socket, carol_second):
        removed, before = await receive_until(socket, "conversation.removed")
        assert removed == {"type": "conversation.removed", "conversationId": str(group.pk)}
        # Its last frame of the group is the removal.
        assert [frame["type"] for frame in before] == ["message.new", "conversation.updated"]
    updated, _ = await receive_until(alice_socket, "conversation.updated")
    assert str(carol.pk) not in updated["conversation"]["users"]

    await alice_socket.send_json_to(send_frame(group, "after carol left", "a-1"))
    await receive_until(alice_socket, "message.ack")
    await settle(carol_socket, carol_second)
    await assert_silent(carol_socket, carol_second)


async def test_a_member_who_leaves_drops_the_group_and_cannot_send_to_it(sockets):
    alice, bob = await make_user(), await make_user()
    group = await make_group(alice, bob)
    bob_socket = await open_socket(sockets, bob)

    await database_sync_to_async(services.remove_group_member)(
        actor=bob, conversation=group, user_id=bob.pk
    )

    removed, _ = await receive_until(bob_socket, "conversation.removed")
    assert removed["conversationId"] == str(group.pk)
    await bob_socket.send_json_to(send_frame(group, "still here?", "b-1"))
    error, _ = await receive_until(bob_socket, "error")
    assert (error["status"], error["clientMessageId"]) == (403, "b-1")


async def test_a_mute_reaches_my_sockets_only(sockets):
    alice, bob = await make_user(), await make_user()
    group = await make_group(alice, bob)
    alice_socket = await open_socket(sockets, alice)
    alice_phone = await open_socket(sockets, alice)
    bob_socket = await open_socket(sockets, bob)
    membership = await database_sync_to_async(Membership.objects.get)(
        conversation=group, user=alice
    )

    await database_sync_to_async(set_muted)(membership=membership, muted=True)

    for socket in (alice_socket, alice_phone):
        frame, _ = await receive_until(socket, "membership.updated")
        assert frame == {
            "type": "membership.updated",
            "conversationId": str(group.pk),
            "muted": True,
        }
    await settle(bob_socket)
    await assert_silent(bob_socket)
