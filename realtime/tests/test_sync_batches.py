"""Sync pages asked for together are read in one hop (realtime.hops.changes_pages),
each with its own outcome: one socket's refusal does not fail the others."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from chatproject.errors import PermissionDenied
from conversations.models import Conversation
from messaging import services
from realtime import hops
from tests.support.factories import ConversationFactory, UserFactory
from users.credentials import SocketCredential
from users.services import issue_token

pytestmark = pytest.mark.django_db(transaction=True)


def member_with_token():
    user = UserFactory()
    token, _ = issue_token(user)
    return user, SocketCredential(user_id=user.pk, token_id=token.pk)


def conversation_with_messages(*members, count: int):
    conversation = ConversationFactory(members=list(members), kind=Conversation.Kind.GROUP)
    for index in range(count):
        services.send_message(sender=members[0], conversation=conversation, text=f"m{index}")
    return conversation


def test_each_page_has_its_own_outcome():
    (alice, alices), (bob, bobs), (eve, eves) = (member_with_token() for _ in range(3))
    first = conversation_with_messages(alice, bob, count=3)
    second = conversation_with_messages(bob, alice, count=2)

    outcomes = hops.read_changes_pages(
        [(alice, alices, first.pk, 0), (eve, eves, first.pk, 0), (bob, bobs, second.pk, 1)]
    )

    frames, more = outcomes[0]
    assert [frame["message"]["text"] for frame in frames] == ["m0", "m1", "m2"] and not more
    assert isinstance(outcomes[1], PermissionDenied)
    frames, more = outcomes[2]
    assert [frame["message"]["text"] for frame in frames] == ["m1"] and not more


async def test_pages_asked_for_together_are_read_in_one_hop(monkeypatch):
    users = [await database_sync_to_async(member_with_token)() for _ in range(4)]
    conversation = await database_sync_to_async(conversation_with_messages)(
        *(user for user, _ in users), count=2
    )
    hops_made: list[int] = []
    read = hops.changes_pages.hop

    async def counting_hop(requests):
        hops_made.append(len(requests))
        return await read(requests)

    monkeypatch.setattr(hops.changes_pages, "hop", counting_hop)
    pages = await asyncio.gather(
        *(hops.changes_page(user, credential, conversation.pk, 0) for user, credential in users)
    )
    assert [len(frames) for frames, _ in pages] == [2, 2, 2, 2]
    assert sum(hops_made) == 4 and len(hops_made) <= 2
    with pytest.raises(PermissionDenied):
        stranger = await database_sync_to_async(member_with_token)()
        await hops.changes_page(*stranger, conversation.pk, 0)
