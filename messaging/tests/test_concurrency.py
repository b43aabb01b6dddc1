"""Concurrent writers, with real threads and real transactions.

Each thread has its own database connection (Django's are per thread), so
these run the services exactly as concurrent requests would: on PostgreSQL
the conversation row lock queues them, on SQLite the IMMEDIATE transactions
do. A Barrier releases all threads at once; every wait is bounded.
"""

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connections

from chatproject.errors import Conflict
from conversations.models import Conversation, Membership
from conversations.services import create_conversation
from messaging.models import Message
from messaging.services import delete_message, edit_message, send_message
from tests.support.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREAD_TIMEOUT = 120  # seconds for the whole group of threads


def run_concurrently(work: Callable[..., Any], arguments: Sequence[tuple]) -> list[Any]:
    """Run `work(*args)` for each args tuple in its own thread, all released
    together by a barrier; return the results in order. Any exception in a
    thread fails the test; so does a thread still running after the timeout."""
    barrier = threading.Barrier(len(arguments))
    results: list[Any] = [None] * len(arguments)
    errors: list[BaseException] = []

    def runner(index: int, args: tuple) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(*args)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=runner, args=(index, args), daemon=True)
        for index, args in enumerate(arguments)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_TIMEOUT
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {THREAD_TIMEOUT}s: {stuck}"
    if errors:
        raise errors[0]
    return results


def group_with(members: list) -> Conversation:
    return ConversationFactory(kind=Conversation.Kind.GROUP, direct_key=None, members=members)


def test_concurrent_senders_get_gap_free_seq_and_version():
    senders = [UserFactory() for _ in range(8)]
    conversation = group_with(senders)
    per_sender = 50

    def send_many(sender) -> list[tuple[int, int, int, bool]]:
        own = Conversation.objects.get(pk=conversation.pk)
        sent = []
        for index in range(per_sender):
            message, created = send_message(
                sender=sender, conversation=own, text=f"{sender.pk}:{index}"
            )
            sent.append((message.pk, message.seq, message.version, created))
        return sent

    results = run_concurrently(send_many, [(sender,) for sender in senders])

    total = len(senders) * per_sender
    stored = list(
        Message.objects.filter(conversation=conversation)
        .order_by("seq")
        .values_list("seq", "version", "sender_id", "text")
    )
    assert [seq for seq, *_ in stored] == list(range(1, total + 1))
    assert sorted(version for _, version, *_ in stored) == list(range(1, total + 1))
    conversation.refresh_from_db()
    assert conversation.last_seq == total
    assert conversation.last_version == total
    assert conversation.last_message_at is not None

    by_pk = {
        pk: (seq, version)
        for pk, seq, version in Message.objects.values_list("pk", "seq", "version")
    }
    for sender, sent in zip(senders, results, strict=True):
        assert len(sent) == per_sender
        assert all(created for *_, created in sent)
        # What each call returned is what was stored.
        assert [(seq, version) for _, seq, version, _ in sent] == [by_pk[pk] for pk, *_ in sent]
        # A sender's messages are in the order that sender sent them.
        seqs = [seq for _, seq, _, _ in sent]
        assert seqs == sorted(seqs)
        texts_in_seq_order = [text for _, _, sender_id, text in stored if sender_id == sender.pk]
        assert texts_in_seq_order == [f"{sender.pk}:{index}" for index in range(per_sender)]
        # Sending marked the sender's own message read.
        membership = Membership.objects.get(conversation=conversation, user=sender)
        assert membership.last_read_seq == seqs[-1]


def test_concurrent_edits_and_deletes_keep_versions_unique_and_gap_free():
    senders = [UserFactory() for _ in range(4)]
    moderator = UserFactory(is_staff=True)
    conversation = group_with([*senders, moderator])
    seeded: dict[int, list[Message]] = {}
    for sender in senders:
        seeded[sender.pk] = [
            send_message(sender=sender, conversation=conversation, text=f"seed {sender.pk}:{i}")[0]
            for i in range(10)
        ]
    seed_versions = sorted(m.version for messages in seeded.values() for m in messages)
    assert seed_versions == list(range(1, 41))
    rounds = 10

    def sender_work(sender) -> list[tuple[str, int, int | None]]:
        """Per round: send a new message, edit it, and edit a seeded one that
        the moderator may be deleting at the same moment."""
        own = Conversation.objects.get(pk=conversation.pk)
        log = []
        for index in range(rounds):
            message, _ = send_message(sender=sender, conversation=own, text=f"new {index}")
            log.append(("send", message.pk, message.version))
            edited = edit_message(actor=sender, message=message, text=f"new {index} (edited)")
            log.append(("edit", edited.pk, edited.version))
            target = seeded[sender.pk][index]
            try:
                edited = edit_message(actor=sender, message=target, text="seed (edited)")
            except Conflict as exc:
                assert exc.status == 409
                log.append(("edit-refused", target.pk, None))
            else:
                log.append(("edit", edited.pk, edited.version))
        return log

    def moderator_work() -> list[tuple[str, int, int | None]]:
        log = []
        for index in range(rounds):
            for sender in senders:
                target = seeded[sender.pk][index]
                deleted = delete_message(actor=moderator, message=target)
                log.append(("delete", deleted.pk, deleted.version))
        return log

    def work(role, user):
        return moderator_work() if role == "moderator" else sender_work(user)

    logs = run_concurrently(
        work, [("sender", sender) for sender in senders] + [("moderator", moderator)]
    )
    operations = [entry for log in logs for entry in log]
    successful = [entry for entry in operations if entry[2] is not None]
    changes = len(seed_versions) + len(successful)
    # Every change took the next version, once: versions handed out are 1..changes.
    assert sorted(seed_versions + [version for *_, version in successful]) == list(
        range(1, changes + 1)
    )
    # The moderator deleted every seeded message; each sender's seeded edit
    # either won the race or was refused with 409.
    assert sum(1 for kind, *_ in operations if kind == "delete") == 40
    assert sum(1 for kind, *_ in operations if kind in ("edit", "edit-refused")) == 4 * rounds * 2
    conversation.refresh_from_db()
    assert conversation.last_version == changes
    assert conversation.last_seq == 40 + 4 * rounds
    stored = list(Message.objects.filter(conversation=conversation))
    versions = [message.version for message in stored]
    assert len(set(versions)) == len(versions)
    assert max(versions) == changes
    assert sorted(message.seq for message in stored) == list(range(1, 40 + 4 * rounds + 1))
    # Each message carries the version of its last successful change.
    last_change: dict[int, int] = {}
    for _, pk, version in successful:
        last_change[pk] = max(last_change.get(pk, 0), version)
    for message in stored:
        assert message.version == last_change.get(message.pk, message.version)
    seeded_pks = {m.pk for messages in seeded.values() for m in messages}
    for message in stored:
        if message.pk in seeded_pks:
            # Deleted last: an edit cannot bring a tombstone back.
            assert message.deleted_at is not None
            assert message.text == ""
        else:
            assert message.deleted_at is None
            assert message.text.endswith("(edited)")


def test_concurrent_retries_of_one_client_message_id_store_one_message(user, other_user):
    conversation = ConversationFactory(members=[user, other_user])
    attempts = 8

    def retry(_index: int) -> tuple[int, bool]:
        own = Conversation.objects.get(pk=conversation.pk)
        message, created = send_message(
            sender=user, conversation=own, text="only once", client_message_id="retry-abc"
        )
        return message.pk, created

    results = run_concurrently(retry, [(index,) for index in range(attempts)])

    assert Message.objects.count() == 1
    stored = Message.objects.get()
    assert stored.client_message_id == "retry-abc"
    assert {pk for pk, _ in results} == {stored.pk}
    assert sum(1 for _, created in results if created) == 1
    # The losing attempts rolled back: no seq or version was used up.
    conversation.refresh_from_db()
    assert (stored.seq, stored.version) == (1, 1)
    assert (conversation.last_seq, conversation.last_version) == (1, 1)


def test_concurrent_direct_creates_for_one_pair_make_one_conversation(user, other_user):
    attempts = 8

    def create(creator, member) -> tuple[int, bool]:
        conversation, created = create_conversation(creator=creator, member_ids=[member.pk])
        return conversation.pk, created

    arguments = [
        (user, other_user) if index % 2 == 0 else (other_user, user) for index in range(attempts)
    ]
    results = run_concurrently(create, arguments)

    assert Conversation.objects.count() == 1
    conversation = Conversation.objects.get()
    assert conversation.kind == Conversation.Kind.DIRECT
    assert conversation.direct_key == Conversation.direct_key_for(user.pk, other_user.pk)
    assert {pk for pk, _ in results} == {conversation.pk}
    assert sum(1 for _, created in results if created) == 1
    assert sorted(conversation.memberships.values_list("user_id", flat=True)) == sorted(
        [user.pk, other_user.pk]
    )
