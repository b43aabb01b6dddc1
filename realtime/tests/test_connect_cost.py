"""What opening a socket costs the database: the handshake's credential,
then the socket's row, the user's conversations and who of them is online,
written and read for every socket that connects at once together
(realtime.presence.Batched; docs/performance.md "Reconnect storm")."""

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from conversations.models import Conversation
from realtime.presence import Batched
from tests.support.sockets import barrier, connect_raw, make_conversation, make_user, token_headers
from users.models import SocketConnection

pytestmark = pytest.mark.django_db(transaction=True)

# The handshakes of a batch: their tokens and users in one SELECT, and their
# last-used times (written at most once a minute: a new token's first use).
HANDSHAKE = 2
# A batch of sockets opening: BEGIN, lock the users, count their live sockets,
# insert the rows, COMMIT; their conversations; the online members of those.
OPEN_BATCH = 7


@contextlib.asynccontextmanager
async def at_most_queries(assert_max_num_queries, count: int):
    """django_assert_max_num_queries on the connection of the sync thread the
    socket's database hops run on (the test's own thread has another one),
    entered and left there."""
    connection = await database_sync_to_async(lambda: connections["default"])()
    counting = assert_max_num_queries(count, connection=connection)
    captured = await database_sync_to_async(counting.__enter__)()
    try:
        yield captured
    finally:
        await database_sync_to_async(counting.__exit__)(None, None, None)


async def test_one_socket_costs_the_handshake_and_one_batch(sockets, django_assert_max_num_queries):
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    await make_conversation(alice, bob)
    await make_conversation(alice, bob, carol, kind=Conversation.Kind.GROUP)
    headers = await token_headers(alice)
    async with at_most_queries(django_assert_max_num_queries, HANDSHAKE + OPEN_BATCH):
        communicator, connected = await connect_raw(sockets, headers)
    assert connected
    frames = await barrier(communicator)
    assert {frame["userId"] for frame in frames} == {str(alice.pk)}


async def test_sockets_opening_together_share_their_statements(
    sockets, django_assert_max_num_queries
):
    """Ten users connecting at once: far fewer statements than a handshake
    and an opening each (a batch is whatever queued meanwhile: a few here)."""
    users = [await make_user() for _ in range(10)]
    for first, second in zip(users[::2], users[1::2], strict=True):
        await make_conversation(first, second)
    headers = [await token_headers(user) for user in users]
    async with at_most_queries(django_assert_max_num_queries, 3 * (HANDSHAKE + OPEN_BATCH)):
        opened = await asyncio.gather(*(connect_raw(sockets, h) for h in headers))
    assert all(connected for _, connected in opened)
    count = database_sync_to_async(SocketConnection.objects.filter(user__in=users).count)
    assert await count() == len(users)


async def test_a_batch_answers_each_caller_with_its_own_result_or_the_failure():
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(items)
        if 13 in items:
            raise OSError("the database went away")
        return [item * 2 for item in items]

    batched = Batched(double, limit=3)
    assert await asyncio.gather(*(batched(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert calls == [[0, 1, 2], [3, 4]]  # one hop per batch, in the order awaited
    failed = await asyncio.gather(batched(12), batched(13), return_exceptions=True)
    assert [type(outcome) for outcome in failed] == [OSError, OSError]
    assert await batched(1) == 2  # the next batch is served as before
