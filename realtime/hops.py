"""The socket's database work: each function is one hop to the process's
sync thread (every hop queues behind every other socket's database work, so
a frame costs one), and calls the same services and selectors as the REST
API. Every hop a frame makes first re-reads the socket's credential."""

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from chatproject import bus, throttling
from chatproject.errors import Unavailable
from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import Conversation
from messaging import events, selectors, services
from users.credentials import SocketCredential

SYNC_PAGE = 100


class CredentialGone(Exception):
    """The socket's credential no longer holds: it closes with 4401."""


class Overloaded(Unavailable):
    code = "overloaded"
    default_message = (
        "The server is too busy to take this message now: send it again "
        "(with the same clientMessageId) after retryAfterSeconds."
    )


@dataclass
class SendQueue:
    """The sends of this process waiting for (or on) its one sync thread, and
    how long one takes there (a moving average). A send that would be
    answered later than CHAT_SEND_MAX_WAIT_SECONDS after it arrived is
    refused at once with `overloaded` instead of joining the queue: past the
    process's capacity every send would otherwise wait behind all the
    earlier ones, for seconds (docs/performance.md "Socket send path"). The
    wait counts the time the frame has waited already (`waited`: behind its
    socket's earlier frames, or in a busy event loop) and the sends queued
    for the thread before it; other hops (reads, syncs) share the thread
    uncounted."""

    waiting: int = 0
    seconds_per_send: float = 0.005
    threads: int = 1

    def expected_wait(self) -> float:
        return self.waiting * self.seconds_per_send / self.threads

    @contextlib.asynccontextmanager
    async def turn(self, *, waited: float = 0.0) -> AsyncIterator[None]:
        if waited + self.expected_wait() > settings.CHAT_SEND_MAX_WAIT_SECONDS:
            raise Overloaded(details={"retryAfterSeconds": 1})
        self.waiting += 1
        try:
            yield
        finally:
            self.waiting -= 1

    def took(self, seconds: float) -> None:
        self.seconds_per_send += 0.1 * (seconds - self.seconds_per_send)


send_queue = SendQueue(threads=max(1, settings.CHAT_SEND_THREADS))

# CHAT_SEND_THREADS threads for sends, each with its own database connection
# (closed back to the pool after each send, as on the sync thread). A send's
# time there is mostly waiting for PostgreSQL (three round trips, the commit),
# and on the one sync thread those waits queued: the send path's ceiling
# (docs/performance.md "Socket send path"). One socket's sends stay in order
# (its consumer waits for each ack before it reads the next frame); sends of
# different sockets into one conversation are ordered by the conversation's
# row lock, and their events by realtime.ordering.
send_threads = (
    ThreadPoolExecutor(settings.CHAT_SEND_THREADS, thread_name_prefix="send")
    if settings.CHAT_SEND_THREADS
    else None
)


def close_send_thread_connections() -> None:
    """Close the database connection of every send thread (before a test
    database is dropped: PostgreSQL refuses while a session is on it). Each
    thread takes one of the tasks, since each waits for all of them."""
    if send_threads is None:
        return
    everyone = threading.Barrier(settings.CHAT_SEND_THREADS)

    def close() -> None:
        everyone.wait(timeout=10)
        connections.close_all()

    for task in [send_threads.submit(close) for _ in range(settings.CHAT_SEND_THREADS)]:
        task.result()


def send_hop(function: Callable) -> Callable:
    """A hop to the send threads (to the one sync thread without them)."""
    if send_threads is None:
        return database_sync_to_async(function)
    return database_sync_to_async(function, thread_sensitive=False, executor=send_threads)


def require_credential(credential: SocketCredential) -> None:
    """Every frame's database hop starts here: no frame is served once the
    credential is gone, even before its `credential.revoked` event arrives."""
    if not credential.is_valid():
        raise CredentialGone


@database_sync_to_async
def missed_frames(
    user, credential: SocketCredential, conversation_id: int, since_version: int, limit: int
) -> list[dict]:
    """Message frames after `since_version`, from the database (ordering.InOrder)."""
    require_credential(credential)
    conversation_selectors.membership_for(user, conversation_id)
    changed, _ = selectors.changes_since(conversation_id, since_version, limit=limit)
    return [events.message_frame(events.change_type(m), m) for m in changed]


@send_hop
def send_from_socket(
    user, credential: SocketCredential, data: dict, *, joined: bool, origin: str
) -> dict:
    """`joined`: the conversation is one of the socket's. Such a send goes
    straight to the service, which checks the membership inside its
    transaction (no query of its own); any other id is answered from the
    membership lookup (403 or 404) without taking the conversation's lock.
    `origin`: the sending socket's channel, named on the events (its own
    `message.new` is not sent back to it). Returns the `message.ack` frame."""
    started = time.perf_counter()
    require_credential(credential)
    # The budget of POST /api/messages: one per user, whatever the transport.
    throttling.limit_message_send(user.pk)
    conversation_id = data["conversationId"]
    if not joined:
        conversation_selectors.membership_for(user, conversation_id)
    with bus.published_by(origin):
        message, _ = services.send_message(
            sender=user,
            conversation=Conversation.reference(conversation_id),
            text=data["text"],
            client_message_id=data.get("clientMessageId") or None,
            client_timestamp=data.get("clientTimestamp"),
            require_membership=True,
            reply_to_id=data.get("replyTo"),
            attachment_ids=data["attachments"],
        )
    ack = events.ack_frame(message, data.get("clientMessageId"))
    send_queue.took(time.perf_counter() - started)
    return ack


@database_sync_to_async
def react_from_socket(user, credential: SocketCredential, data: dict, *, add: bool) -> None:
    """reaction.add (`add`) or reaction.remove: the services of the REST
    endpoints, with their membership check and (adds) the user's budget. The
    change reaches the socket as `message.updated`, so nothing is returned."""
    require_credential(credential)
    message = selectors.message_of_member(user, data["conversationId"], data["messageId"])
    if add:
        throttling.limit_reaction_add(user.pk)
        services.add_reaction(user=user, message=message, emoji=data["emoji"])
    else:
        services.remove_reaction(user=user, message=message, emoji=data["emoji"])


@database_sync_to_async
def read_from_socket(user, credential: SocketCredential, data: dict) -> None:
    require_credential(credential)
    membership = conversation_selectors.membership_for(user, data["conversationId"])
    conversation_services.mark_read(membership=membership, seq=data["seq"])


database_check_credential = database_sync_to_async(require_credential)


@database_sync_to_async
def changes_page(
    user, credential: SocketCredential, conversation_id: int, since_version: int
) -> tuple[list[dict], bool]:
    """One page (SYNC_PAGE) of the changes after `since_version`, and whether
    there are more: a sync is sent page by page, so that a long one holds
    neither the sync thread nor the process's memory."""
    require_credential(credential)
    conversation_selectors.membership_for(user, conversation_id)
    changed, more = selectors.changes_since(conversation_id, since_version, limit=SYNC_PAGE)
    return [events.message_frame(events.change_type(m), m) for m in changed], more
