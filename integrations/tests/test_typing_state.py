"""Seed 002's visitorTyping/userTyping come from the socket's typing frames,
through the cache (messaging/typing_state.py): driven end to end here, a
real socket typing and the HTTP endpoint reading it."""

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatproject.asgi import application
from conversations.models import Membership
from conversations.services import set_member_role
from tests.support.factories import ConversationFactory, UserFactory
from users.services import issue_token
from workspaces.models import Workspace
from workspaces.services import create_api_key

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2


@database_sync_to_async
def support_chat():
    visitor, agent = UserFactory(), UserFactory()
    conversation = ConversationFactory(members=[visitor, agent])
    for user, role in ((visitor, "customer"), (agent, "agent")):
        set_member_role(Membership.objects.get(conversation=conversation, user=user), role)
    _, secret = create_api_key(workspace=Workspace.objects.default(), name="typing")
    keys = {user: issue_token(user)[1] for user in (visitor, agent)}
    return conversation, visitor, agent, secret, keys


@database_sync_to_async
def typing_flags(conversation, secret) -> tuple[bool, bool]:
    response = Client().get(
        f"/conversations/{conversation.access_token}/messages",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.content
    info = response.json()["conversation"]
    return info["visitorTyping"], info["userTyping"]


async def wait_for(communicator: WebsocketCommunicator, frame_type: str) -> dict:
    while True:
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == frame_type:
            return frame


async def test_typing_on_a_socket_shows_in_seed_002():
    conversation, visitor, agent, secret, keys = await support_chat()
    sockets = []
    try:
        for user in (visitor, agent):
            headers = [(b"authorization", f"Bearer {keys[user]}".encode())]
            communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
            connected, _ = await communicator.connect(timeout=TIMEOUT)
            assert connected
            sockets.append(communicator)
        visitor_socket, agent_socket = sockets
        assert await typing_flags(conversation, secret) == (False, False)

        typing = {"type": "typing", "conversationId": str(conversation.pk), "active": True}
        await visitor_socket.send_json_to(typing)
        assert (await wait_for(agent_socket, "typing"))["active"] is True
        assert await typing_flags(conversation, secret) == (True, False)

        await visitor_socket.send_json_to({**typing, "active": False})
        assert (await wait_for(agent_socket, "typing"))["active"] is False
        await agent_socket.send_json_to(typing)
        assert (await wait_for(visitor_socket, "typing"))["active"] is True
        assert await typing_flags(conversation, secret) == (False, True)
    finally:
        for communicator in sockets:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await communicator.disconnect(timeout=TIMEOUT)
