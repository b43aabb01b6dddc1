"""The message services and selectors, called directly."""

from datetime import timedelta

import pytest
from django.db import connection

from chatproject.errors import DomainError, Invalid, PermissionDenied
from conversations.models import Conversation, Membership
from messaging import selectors
from messaging.models import Message
from messaging.services import (
    delete_message,
    edit_message,
    import_messages,
    send_message,
)
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def counters(conversation: Conversation) -> tuple[int, int]:
    conversation.refresh_from_db()
    return conversation.last_seq, conversation.last_version


def send_texts(conversation, sender, count: int, prefix: str = "m") -> list[Message]:
    return [
        send_message(sender=sender, conversation=conversation, text=f"{prefix}{index}")[0]
        for index in range(1, count + 1)
    ]


# Sending ------------------------------------------------------------------


def test_send_stores_the_message_and_advances_the_counters(direct_conversation, user):
    message, created = send_message(sender=user, conversation=direct_conversation, text="hello")
    assert created
    stored = Message.objects.get(pk=message.pk)
    assert (stored.seq, stored.version, stored.text) == (1, 1, "hello")
    assert stored.sender == user
    assert stored.kind == Message.Kind.TEXT
    assert counters(direct_conversation) == (1, 1)
    assert direct_conversation.last_message_at is not None
    assert abs(direct_conversation.last_message_at - stored.created_at) < timedelta(seconds=5)
    second, _ = send_message(sender=user, conversation=direct_conversation, text="again")
    assert (second.seq, second.version) == (2, 2)


@pytest.mark.parametrize("text", ["", " ", "   \n\t  "])
def test_send_rejects_empty_or_whitespace_text(direct_conversation, user, text):
    with pytest.raises(Invalid) as excinfo:
        send_message(sender=user, conversation=direct_conversation, text=text)
    assert "text" in excinfo.value.fields
    assert not Message.objects.exists()
    assert counters(direct_conversation) == (0, 0)


def test_send_rejects_too_long_text_with_422(direct_conversation, user, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 10
    with pytest.raises(DomainError) as excinfo:
        send_message(sender=user, conversation=direct_conversation, text="x" * 11)
    assert excinfo.value.status == 422
    assert excinfo.value.code == "message_too_long"
    assert excinfo.value.details == {"maxLength": 10, "length": 11}
    assert not Message.objects.exists()
    # Exactly the limit is fine.
    message, _ = send_message(sender=user, conversation=direct_conversation, text="x" * 10)
    assert message.text == "x" * 10


def test_default_maximum_length_is_4000(direct_conversation, user):
    send_message(sender=user, conversation=direct_conversation, text="y" * 4000)
    with pytest.raises(DomainError) as excinfo:
        send_message(sender=user, conversation=direct_conversation, text="y" * 4001)
    assert excinfo.value.details["maxLength"] == 4000


def test_send_moves_the_senders_read_marker_only(direct_conversation, user, other_user):
    send_texts(direct_conversation, other_user, 2)
    message, _ = send_message(sender=user, conversation=direct_conversation, text="mine")
    mine = Membership.objects.get(conversation=direct_conversation, user=user)
    theirs = Membership.objects.get(conversation=direct_conversation, user=other_user)
    assert mine.last_read_seq == message.seq == 3
    assert theirs.last_read_seq == 2


def test_retry_with_the_same_client_message_id_returns_the_first_message(direct_conversation, user):
    first, created = send_message(
        sender=user, conversation=direct_conversation, text="once", client_message_id="c-1"
    )
    again, created_again = send_message(
        sender=user, conversation=direct_conversation, text="once", client_message_id="c-1"
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert counters(direct_conversation) == (1, 1)


def test_client_message_id_is_per_sender(direct_conversation, user, other_user):
    mine, _ = send_message(
        sender=user, conversation=direct_conversation, text="same", client_message_id="c-1"
    )
    theirs, created = send_message(
        sender=other_user, conversation=direct_conversation, text="same", client_message_id="c-1"
    )
    assert created
    assert theirs.pk != mine.pk


def test_reusing_a_client_message_id_for_other_text_is_a_409(direct_conversation, user):
    first, _ = send_message(
        sender=user, conversation=direct_conversation, text="one", client_message_id="c-1"
    )
    with pytest.raises(DomainError) as excinfo:
        send_message(
            sender=user, conversation=direct_conversation, text="two", client_message_id="c-1"
        )
    assert excinfo.value.status == 409
    assert excinfo.value.details == {"clientMessageId": "c-1", "messageId": str(first.pk)}
    assert Message.objects.count() == 1


def test_send_requiring_membership_refuses_a_non_member_and_stores_nothing(
    direct_conversation, outsider
):
    before = counters(direct_conversation)
    with pytest.raises(PermissionDenied):
        send_message(
            sender=outsider,
            conversation=direct_conversation,
            text="let me in",
            client_message_id="in-1",
            require_membership=True,
        )
    assert counters(direct_conversation) == before
    assert not Message.objects.filter(conversation=direct_conversation).exists()


def test_a_first_send_is_one_statement_on_postgresql_three_in_a_transaction_elsewhere(
    direct_conversation, user, django_assert_max_num_queries
):
    """Next seq and version, the insert, the sender's read mark (which is also
    the membership check): no lookup of the client id, no membership query.
    On PostgreSQL they are one statement (send_plain_text)."""
    with django_assert_max_num_queries(3 + 2) as captured:  # + BEGIN/COMMIT or savepoints
        message, created = send_message(
            sender=user,
            conversation=Conversation.reference(direct_conversation.pk),
            text="hi",
            client_message_id="c-1",
            require_membership=True,
        )
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    expected = ["WITH"] if connection.vendor == "postgresql" else ["UPDATE", "INSERT", "UPDATE"]
    assert [s for s in statements if s not in {"SAVEPOINT", "RELEASE"}] == expected
    assert created and message.seq == 1
    stored = Message.objects.get(pk=message.pk)
    assert (stored.seq, stored.version, stored.text, stored.client_message_id) == (
        1,
        1,
        "hi",
        "c-1",
    )
    assert Membership.objects.get(conversation=direct_conversation, user=user).last_read_seq == 1


def test_system_message_has_no_sender(direct_conversation):
    message, created = send_message(
        sender=None,
        conversation=direct_conversation,
        text="Alice joined",
        kind=Message.Kind.SYSTEM,
    )
    assert created
    stored = Message.objects.get(pk=message.pk)
    assert stored.sender is None
    assert stored.kind == Message.Kind.SYSTEM
    assert (stored.seq, stored.version) == (1, 1)
    # No member's read marker moved.
    assert set(
        Membership.objects.filter(conversation=direct_conversation).values_list(
            "last_read_seq", flat=True
        )
    ) == {0}


# Editing and deleting -------------------------------------------------------


def test_edit_changes_text_and_takes_the_next_version(direct_conversation, user):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="draft")
    send_message(sender=user, conversation=direct_conversation, text="later")
    edited = edit_message(actor=user, message=message, text="final")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.seq, stored.version) == ("final", 1, 3)
    assert stored.edited_at is not None
    assert edited.version == 3
    assert counters(direct_conversation) == (2, 3)


def test_edit_validates_the_new_text(direct_conversation, user):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="draft")
    with pytest.raises(Invalid):
        edit_message(actor=user, message=message, text="  ")
    assert Message.objects.get(pk=message.pk).text == "draft"
    assert counters(direct_conversation) == (1, 1)


def test_only_the_sender_may_edit(direct_conversation, user, other_user):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="mine")
    with pytest.raises(PermissionDenied):
        edit_message(actor=other_user, message=message, text="hijacked")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.version, stored.edited_at) == ("mine", 1, None)
    assert counters(direct_conversation) == (1, 1)


def test_staff_may_delete_but_not_edit_others_messages(direct_conversation, user):
    staff = UserFactory(is_staff=True)
    message, _ = send_message(sender=user, conversation=direct_conversation, text="rude")
    with pytest.raises(PermissionDenied):
        edit_message(actor=staff, message=message, text="moderated")
    assert Message.objects.get(pk=message.pk).text == "rude"
    assert counters(direct_conversation) == (1, 1)

    deleted = delete_message(actor=staff, message=message)
    stored = Message.objects.get(pk=message.pk)
    assert stored.deleted_at is not None
    assert stored.text == ""
    assert stored.version == deleted.version == 2


def test_non_staff_non_sender_may_not_delete(direct_conversation, user, other_user):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="mine")
    with pytest.raises(PermissionDenied):
        delete_message(actor=other_user, message=message)
    assert Message.objects.get(pk=message.pk).deleted_at is None
    assert counters(direct_conversation) == (1, 1)


def test_delete_leaves_a_tombstone_keeping_seq(direct_conversation, user):
    first, second = send_texts(direct_conversation, user, 2)
    delete_message(actor=user, message=first)
    stored = Message.objects.get(pk=first.pk)
    assert (stored.seq, stored.version, stored.text) == (1, 3, "")
    assert stored.deleted_at is not None
    assert list(Message.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2]
    untouched = Message.objects.get(pk=second.pk)
    assert (untouched.text, untouched.version, untouched.deleted_at) == ("m2", 2, None)
    assert counters(direct_conversation) == (2, 3)


def test_edit_or_delete_of_a_deleted_message_is_409_and_uses_no_version(direct_conversation, user):
    message, _ = send_message(sender=user, conversation=direct_conversation, text="gone")
    delete_message(actor=user, message=message)
    # `message` is the stale object from before the delete: the service reads again.
    with pytest.raises(DomainError) as excinfo:
        edit_message(actor=user, message=message, text="back")
    assert excinfo.value.status == 409
    with pytest.raises(DomainError) as excinfo:
        delete_message(actor=user, message=message)
    assert excinfo.value.status == 409
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.version) == ("", 2)
    assert counters(direct_conversation) == (1, 2)


def test_system_messages_cannot_be_changed_even_by_staff(direct_conversation):
    staff = UserFactory(is_staff=True)
    message, _ = send_message(
        sender=None, conversation=direct_conversation, text="joined", kind=Message.Kind.SYSTEM
    )
    with pytest.raises(PermissionDenied):
        delete_message(actor=staff, message=message)
    with pytest.raises(PermissionDenied):
        edit_message(actor=staff, message=message, text="changed")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.deleted_at, stored.version) == ("joined", None, 1)
    assert counters(direct_conversation) == (1, 1)


# Bulk import -----------------------------------------------------------------


def test_import_continues_seq_and_version_after_existing_messages(
    direct_conversation, user, other_user
):
    send_texts(direct_conversation, user, 2, prefix="before")
    batches = []
    loaded = import_messages(
        conversation=direct_conversation,
        senders=[user, other_user],
        texts=(f"imported {index}" for index in range(10)),
        batch_size=3,
        on_batch=batches.append,
    )
    assert loaded == 10
    assert batches == [3, 3, 3, 1]
    last, _ = send_message(sender=other_user, conversation=direct_conversation, text="after")
    assert (last.seq, last.version) == (13, 13)

    rows = list(
        Message.objects.filter(conversation=direct_conversation)
        .order_by("seq")
        .values_list("seq", "version", "text", "sender_id")
    )
    assert [row[0] for row in rows] == list(range(1, 14))
    assert [row[1] for row in rows] == list(range(1, 14))
    assert [row[2] for row in rows[2:12]] == [f"imported {index}" for index in range(10)]
    # Senders alternate across batch boundaries.
    assert [row[3] for row in rows[2:12]] == [user.pk, other_user.pk] * 5
    assert counters(direct_conversation) == (13, 13)
    assert direct_conversation.last_message_at is not None


def test_import_of_nothing_changes_nothing(direct_conversation, user):
    assert import_messages(conversation=direct_conversation, senders=[user], texts=[]) == 0
    assert counters(direct_conversation) == (0, 0)


# Selectors ---------------------------------------------------------------------


@pytest.fixture
def ten_messages(direct_conversation, user):
    return send_texts(direct_conversation, user, 10)


def seqs(messages: list[Message]) -> list[int]:
    return [message.seq for message in messages]


def test_history_page_newest_first_page_in_ascending_order(direct_conversation, ten_messages):
    page, more = selectors.history_page(direct_conversation.pk, limit=4)
    assert seqs(page) == [7, 8, 9, 10]
    assert more is True
    page, more = selectors.history_page(direct_conversation.pk, limit=10)
    assert seqs(page) == list(range(1, 11))
    assert more is False
    page, more = selectors.history_page(direct_conversation.pk, limit=50)
    assert seqs(page) == list(range(1, 11))
    assert more is False


def test_history_page_before_pages_back(direct_conversation, ten_messages):
    page, more = selectors.history_page(direct_conversation.pk, limit=4, before=7)
    assert seqs(page) == [3, 4, 5, 6]
    assert more is True
    page, more = selectors.history_page(direct_conversation.pk, limit=4, before=3)
    assert seqs(page) == [1, 2]
    assert more is False
    page, more = selectors.history_page(direct_conversation.pk, limit=4, before=5)
    assert seqs(page) == [1, 2, 3, 4]
    assert more is False
    page, more = selectors.history_page(direct_conversation.pk, limit=4, before=1)
    assert page == []
    assert more is False


def test_history_page_after_pages_forward(direct_conversation, ten_messages):
    page, more = selectors.history_page(direct_conversation.pk, limit=4, after=0)
    assert seqs(page) == [1, 2, 3, 4]
    assert more is True
    page, more = selectors.history_page(direct_conversation.pk, limit=4, after=6)
    assert seqs(page) == [7, 8, 9, 10]
    assert more is False
    page, more = selectors.history_page(direct_conversation.pk, limit=4, after=10)
    assert page == []
    assert more is False


def test_history_page_is_per_conversation(direct_conversation, ten_messages, user, outsider):
    other = Conversation.objects.create(
        kind=Conversation.Kind.DIRECT, direct_key=Conversation.direct_key_for(user.pk, outsider.pk)
    )
    send_texts(other, user, 3, prefix="other")
    page, more = selectors.history_page(direct_conversation.pk, limit=50)
    assert more is False
    assert {message.conversation_id for message in page} == {direct_conversation.pk}
    assert len(page) == 10
    page, _ = selectors.history_page(other.pk, limit=50)
    assert [message.text for message in page] == ["other1", "other2", "other3"]


def test_changes_since_returns_each_changed_message_once_in_latest_state(
    direct_conversation, user, ten_messages
):
    # versions 1..10 are the sends.
    edit_message(actor=user, message=ten_messages[2], text="m3 edited")  # v11
    edit_message(actor=user, message=ten_messages[8], text="m9 edited")  # v12
    edit_message(actor=user, message=ten_messages[2], text="m3 again")  # v13
    delete_message(actor=user, message=ten_messages[8])  # v14
    new, _ = send_message(sender=user, conversation=direct_conversation, text="m11")  # v15

    changes, more = selectors.changes_since(direct_conversation.pk, 7, limit=50)
    assert more is False
    assert [(m.seq, m.version) for m in changes] == [(8, 8), (10, 10), (3, 13), (9, 14), (11, 15)]
    by_seq = {message.seq: message for message in changes}
    assert by_seq[3].text == "m3 again"
    assert by_seq[9].text == ""
    assert by_seq[9].deleted_at is not None
    assert by_seq[11].pk == new.pk

    changes, more = selectors.changes_since(direct_conversation.pk, 8, limit=2)
    assert [m.version for m in changes] == [10, 13]
    assert more is True
    changes, more = selectors.changes_since(direct_conversation.pk, 13, limit=2)
    assert [m.version for m in changes] == [14, 15]
    assert more is False
    assert selectors.changes_since(direct_conversation.pk, 15, limit=50) == ([], False)


def test_changes_since_zero_is_everything_in_version_order(direct_conversation, user, ten_messages):
    edit_message(actor=user, message=ten_messages[0], text="first edited")
    changes, more = selectors.changes_since(direct_conversation.pk, 0, limit=50)
    assert more is False
    assert [m.seq for m in changes] == [*range(2, 11), 1]
    assert [m.version for m in changes] == list(range(2, 12))
