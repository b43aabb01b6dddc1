"""Writes to messages: send, edit, delete, bulk import. The REST API, the
WebSocket consumer, the admin and management commands all call these."""

import contextlib
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chatproject.errors import Conflict, DomainError, Invalid, NotFound, PermissionDenied
from chatproject.text import one_line
from conversations import events as conversation_events
from conversations import selectors as conversation_selectors
from conversations import services as conversation_services
from conversations.models import Conversation, Membership
from conversations.services import advance_counters, mark_sender_read
from messaging import events, selectors
from messaging.emoji import validate_emoji
from messaging.files import prepare_upload, safe_name
from messaging.mentions import mention_tokens, mentioned_user_ids
from messaging.models import Attachment, Mention, Message, MessageEdit, Reaction
from users.models import User


def validate_text(text: str, *, may_be_empty: bool = False) -> str:
    """`may_be_empty`: the message has attachments, which may go without words."""
    if not may_be_empty and (not text or not text.strip()):
        raise Invalid({"text": ["A message needs some text."]})
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(text) > limit:
        raise DomainError(
            f"A message has at most {limit} characters.",
            status=422,
            code="message_too_long",
            details={"maxLength": limit, "length": len(text)},
        )
    return text


def first_send(
    sender: User, client_message_id: str, conversation_id: int, text: str
) -> Message | None:
    """The message an earlier send with this client id stored, if any. A
    client id reused for a different conversation or text is a client bug,
    answered with 409 rather than silently returning an unrelated message."""
    message = (
        selectors.messages_queryset()
        .filter(sender=sender, client_message_id=client_message_id)
        .first()
    )
    if message is not None and (message.conversation_id != conversation_id or message.text != text):
        raise Conflict(
            "This clientMessageId was already used for a different message.",
            code="client_message_id_reused",
            details={"clientMessageId": client_message_id, "messageId": str(message.pk)},
        )
    return message


def store_mentions(message: Message) -> None:
    """Resolve the `@username`s of a text message to members of its
    conversation and store them as Mention rows, also set as `mention_list`
    for MessageSerializer. A text without "@" costs no query; one with, a
    read of the members and the insert. System messages mention no one."""
    user_ids: list[int] = []
    if message.kind == Message.Kind.TEXT and mention_tokens(message.text):
        members = Membership.objects.filter(conversation_id=message.conversation_id)
        user_ids = mentioned_user_ids(
            message.text, members.values_list("user_id", "user__username")
        )
    message.mention_list = Mention.objects.bulk_create(
        Mention(
            message=message,
            user_id=user_id,
            conversation_id=message.conversation_id,
            seq=message.seq,
        )
        for user_id in user_ids
    )


def send_message(
    *,
    sender: User | None,
    conversation: Conversation,
    text: str,
    client_message_id: str | None = None,
    client_timestamp: datetime | None = None,
    kind: str = Message.Kind.TEXT,
    require_membership: bool = False,
    reply_to_id: int | None = None,
    attachment_ids: Sequence[int] = (),
) -> tuple[Message, bool]:
    """Store a message and announce it after commit. Returns (message, created).

    One transaction of three statements: take the next seq and version, insert,
    mark the sender's own message read. With `require_membership` the last of
    them is also the membership check (it updates no row for a non-member, and
    the send is rolled back with 403; an unknown conversation is a 404), so
    callers (the REST API, the socket) spend no query on authorizing a send
    and may pass `Conversation.reference(id)`. Without it (the admin, system
    messages) the caller has decided who may send. A retry with the same
    `client_message_id` returns the first message and stores nothing: the
    unique (sender, client_message_id) constraint settles it, so the common
    case (a first send) costs no lookup.

    `reply_to_id` names the message this one answers: one of the same
    conversation (deleted or not), else Invalid. It is refused only after
    the membership check, so that a non-member learns nothing of another
    conversation's message ids. `@username`s of members become mentions
    (store_mentions). `attachment_ids` are the sender's unsent uploads into
    this conversation (attach_uploads), sent with it in that order; with
    them the text may be empty.
    """
    validate_text(text, may_be_empty=bool(attachment_ids))
    if (
        connection.vendor == "postgresql"
        and sender is not None
        and require_membership
        and kind == Message.Kind.TEXT
        and reply_to_id is None
        and not attachment_ids
        and not mention_tokens(text)
    ):
        return send_plain_text(
            sender=sender,
            conversation=conversation,
            text=text,
            client_message_id=client_message_id or None,
            client_timestamp=client_timestamp,
        )
    if len(attachment_ids) > settings.CHAT_ATTACHMENTS_PER_MESSAGE:
        raise Invalid(
            {"attachments": [f"At most {settings.CHAT_ATTACHMENTS_PER_MESSAGE} files a message."]}
        )
    try:
        with transaction.atomic():
            now = timezone.now()
            try:
                seq, version = advance_counters(conversation.pk, new_message=True, at=now)
            except Conversation.DoesNotExist:
                raise NotFound("No such conversation.") from None
            original = (
                None
                if reply_to_id is None
                else Message.objects.filter(pk=reply_to_id, conversation_id=conversation.pk).first()
            )
            message = Message.objects.create(
                conversation=conversation,
                sender=sender,
                seq=seq,
                version=version,
                text=text,
                kind=kind,
                client_message_id=client_message_id or None,
                client_timestamp=client_timestamp,
                reply_to=original,
            )
            store_mentions(message)
            message.reaction_rows = []  # a new message has none: no query to serialize it
            attach_uploads(message, attachment_ids)
            # Announced before the read mark, so the `read` a reply may cause
            # follows the message it points at.
            events.publish_message_change(message, events.CREATED)
            if sender is not None:
                is_member = mark_sender_read(conversation.pk, sender.pk, seq)
                if require_membership and not is_member:
                    raise PermissionDenied("You are not a member of this conversation.")
            if reply_to_id is not None and original is None:
                raise Invalid({"replyTo": ["No such message in this conversation."]})
            if len(message.attachment_list) != len(attachment_ids):
                raise Invalid(
                    {
                        "attachments": [
                            "Each must be one of your unsent uploads to this conversation."
                        ]
                    }
                )
    except IntegrityError:
        if not client_message_id or sender is None:
            raise
        existing = first_send(sender, client_message_id, conversation.pk, text)
        if existing is None:
            raise
        return existing, False
    conversation.last_seq, conversation.last_version, conversation.last_message_at = (
        seq,
        version,
        now,
    )
    return message, True


def send_plain_text(
    *,
    sender: User,
    conversation: Conversation,
    text: str,
    client_message_id: str | None,
    client_timestamp: datetime | None,
) -> tuple[Message, bool]:
    """send_message's common case on PostgreSQL (a member's text without
    mentions, reply or files): one statement, which is its own transaction
    outside an atomic block, in place of BEGIN, three statements and COMMIT.
    Each of them waited its round trip on the process's one sync thread that
    every socket's frames queue on (docs/performance.md "Socket send path").
    The same writes as the general path: the next seq and version (the
    conversation's row lock orders concurrent sends), the message, the
    sender's read mark, all only for a member."""
    now = timezone.now()
    statement = SEND_PLAIN_TEXT.format(
        conversation=Conversation._meta.db_table,
        membership=Membership._meta.db_table,
        message=Message._meta.db_table,
    )
    parameters = {
        "conversation": conversation.pk,
        "sender": sender.pk,
        "at": now,
        "text": text,
        "kind": Message.Kind.TEXT,
        "client_message_id": client_message_id,
        "client_timestamp": client_timestamp,
    }
    # Inside a caller's transaction, a savepoint: a duplicate clientMessageId
    # must not break the caller's transaction.
    scope = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with scope, connection.cursor() as cursor:
            cursor.execute(statement, parameters)
            row = cursor.fetchone()
    except IntegrityError:
        if not client_message_id:
            raise
        existing = first_send(sender, client_message_id, conversation.pk, text)
        if existing is None:
            raise
        return existing, False
    if row is None:
        if not Conversation.objects.filter(pk=conversation.pk).exists():
            raise NotFound("No such conversation.")
        raise PermissionDenied("You are not a member of this conversation.")
    message_id, seq, version, read_before = row
    message = Message(
        pk=message_id,
        conversation=conversation,
        sender=sender,
        seq=seq,
        version=version,
        text=text,
        kind=Message.Kind.TEXT,
        created_at=now,
        client_message_id=client_message_id,
        client_timestamp=client_timestamp,
    )
    message._state.adding = False
    message.mention_list, message.reaction_rows, message.attachment_list = [], [], []
    # Committed already (or on_commit waits for the caller's transaction).
    events.publish_message_change(message, events.CREATED)
    if read_before < seq - 1:
        conversation_events.publish_read(
            Membership(conversation_id=conversation.pk, user_id=sender.pk, last_read_seq=seq)
        )
    conversation.last_seq, conversation.last_version, conversation.last_message_at = (
        seq,
        version,
        now,
    )
    return message, True


# send_plain_text's statement. `mark` reads the sender's membership as it
# was (the snapshot), so the read mark before the send comes back; `counters`
# only moves for a member, so a refused send changes nothing.
SEND_PLAIN_TEXT = """
WITH mark AS (
    SELECT id, last_read_seq FROM {membership}
    WHERE conversation_id = %(conversation)s AND user_id = %(sender)s
), counters AS (
    UPDATE {conversation}
    SET last_seq = last_seq + 1, last_message_at = %(at)s, last_version = last_version + 1
    WHERE id = %(conversation)s AND EXISTS (SELECT 1 FROM mark)
    RETURNING last_seq, last_version
), marked AS (
    UPDATE {membership} AS membership SET last_read_seq = counters.last_seq
    FROM counters, mark
    WHERE membership.id = mark.id AND membership.last_read_seq < counters.last_seq
), inserted AS (
    INSERT INTO {message} (
        conversation_id, sender_id, seq, version, text, kind, created_at,
        client_timestamp, client_message_id, edit_count
    )
    SELECT %(conversation)s, %(sender)s, last_seq, last_version, %(text)s, %(kind)s, %(at)s,
        %(client_timestamp)s, %(client_message_id)s, 0
    FROM counters
    RETURNING id, seq, version
)
SELECT inserted.id, inserted.seq, inserted.version, mark.last_read_seq FROM inserted, mark
"""


# Attachments: uploaded first (into a conversation, by a member), then sent
# with one message. A file never half-exists: one whose row is not stored is
# removed again, and an upload not sent in time is purged.


def attach_uploads(message: Message, attachment_ids: Sequence[int]) -> None:
    """Give the sender's unsent uploads of `attachment_ids` (into the
    message's conversation) to the new message, in that order, and set them
    as its `attachment_list`. Ids that are not such uploads are left out:
    send_message refuses the send when any is. Costs nothing without ids;
    with them, a locking read and one update."""
    if not attachment_ids:
        message.attachment_list = []
        return
    uploads = {
        upload.pk: upload
        # By pk: the model's ordering (by message) would join the nullable
        # message, which PostgreSQL cannot lock FOR UPDATE.
        for upload in Attachment.objects.select_for_update()
        .filter(
            pk__in=attachment_ids,
            conversation_id=message.conversation_id,
            uploader_id=message.sender_id,
            message__isnull=True,
        )
        .order_by("pk")
    }
    message.attachment_list = [
        uploads[attachment_id]
        for attachment_id in dict.fromkeys(attachment_ids)
        if attachment_id in uploads
    ]
    for position, upload in enumerate(message.attachment_list):
        upload.message, upload.position = message, position
    Attachment.objects.bulk_update(message.attachment_list, ["message", "position"])


def stored_file_name(conversation_id: int, extension: str) -> str:
    """A name in the attachment storage no one can guess or choose."""
    return f"{conversation_id}/{secrets.token_urlsafe(18)}{extension}"


def remove_files_on_commit(attachments: Iterable[Attachment]) -> None:
    """Delete the attachments' files once the transaction that deleted their rows commits."""
    files = [
        (field.storage, field.name)
        for attachment in attachments
        for field in (attachment.file, attachment.thumbnail)
        if field
    ]

    def remove() -> None:
        for storage, name in files:
            storage.delete(name)

    if files:
        transaction.on_commit(remove)


def upload_attachment(
    *, uploader: User, conversation_id: int, name: str, content: bytes
) -> Attachment:
    """Store a file uploaded by a member into the conversation, unsent: its
    type decided from its bytes (messaging.files.prepare_upload), an image
    re-encoded with a thumbnail. 403 for a non-member, 404 for no such
    conversation, 413 `attachment_too_large` over CHAT_ATTACHMENT_MAX_BYTES."""
    conversation_selectors.membership_for(uploader, conversation_id)
    limit = settings.CHAT_ATTACHMENT_MAX_BYTES
    if len(content) > limit:
        raise attachment_too_large(len(content))
    if not content:
        raise Invalid({"file": ["The file is empty."]})
    prepared = prepare_upload(content)
    attachment = Attachment(
        conversation_id=conversation_id,
        uploader=uploader,
        name=safe_name(name, prepared.extension),
        size=len(prepared.content),
        content_type=prepared.content_type,
        width=prepared.width,
        height=prepared.height,
    )
    stored_name = stored_file_name(conversation_id, prepared.extension)
    attachment.file.save(stored_name, ContentFile(prepared.content), save=False)
    if prepared.thumbnail is not None:
        thumbnail_name = stored_name.rsplit(".", 1)[0] + "-thumbnail.webp"
        attachment.thumbnail.save(thumbnail_name, ContentFile(prepared.thumbnail), save=False)
    try:
        attachment.save()
    except BaseException:
        for field in (attachment.file, attachment.thumbnail):
            if field:
                field.storage.delete(field.name)
        raise
    return attachment


def attachment_too_large(size: int) -> DomainError:
    limit = settings.CHAT_ATTACHMENT_MAX_BYTES
    return DomainError(
        f"A file has at most {limit} bytes.",
        status=413,
        code="attachment_too_large",
        details={"maxBytes": limit, "size": size},
    )


@transaction.atomic
def remove_attachment(*, actor: User, attachment: Attachment) -> Message | None:
    """Remove one file (staff moderating, in the admin). A sent one leaves
    its message, which takes its next version and is announced as
    `message.updated`; a message left with neither text nor files is
    deleted (a tombstone). Returns the message as changed, or None for an
    upload that was not sent."""
    if attachment.message_id is None:
        Attachment.objects.filter(pk=attachment.pk).delete()
        remove_files_on_commit([attachment])
        return None
    message = Message.objects.get(pk=attachment.message_id)
    if not message.text.strip() and Attachment.objects.filter(message=message).count() == 1:
        return delete_message(actor=actor, message=message)
    current = locked_for_change(message, actor, staff_may=True)
    Attachment.objects.filter(pk=attachment.pk).delete()
    remove_files_on_commit([attachment])
    current.attachment_list = [row for row in current.attachment_list if row.pk != attachment.pk]
    Message.objects.filter(pk=current.pk).update(version=current.version)
    events.publish_message_change(current, events.UPDATED)
    return current


@transaction.atomic
def purge_unsent_attachments(*, older_than: timedelta) -> int:
    """Remove the uploads that were not sent within `older_than` of their
    upload, files too (after the commit). Returns how many."""
    stale = list(
        Attachment.objects.select_for_update(skip_locked=True)
        .filter(message__isnull=True, created_at__lt=timezone.now() - older_than)
        .order_by("pk")  # as in attach_uploads: no join to lock
    )
    Attachment.objects.filter(pk__in=[attachment.pk for attachment in stale]).delete()
    remove_files_on_commit(stale)
    return len(stale)


def locked_for_change(message: Message, actor: User, *, staff_may: bool) -> Message:
    """Check that `actor` may change the message (its sender; for deletion
    also staff, who moderate), then take the conversation's next version.
    Runs inside the caller's transaction; the message is read again after the
    conversation row is locked, so two concurrent changes cannot both act on
    the same state."""
    if message.sender_id != actor.pk and not (staff_may and actor.is_staff):
        raise PermissionDenied("Only the sender can change a message.")
    _, version = advance_counters(message.conversation_id, new_message=False, at=timezone.now())
    current = selectors.messages_queryset().get(pk=message.pk)
    if current.deleted_at is not None:
        raise Conflict("The message was deleted.", code="message_deleted")
    if current.kind != Message.Kind.TEXT:
        raise PermissionDenied("System messages cannot be changed.")
    current.version = version
    return current


@transaction.atomic
def edit_message(*, actor: User, message: Message, text: str) -> Message:
    """Change the text, keeping the one it replaces as a MessageEdit (the
    message's history), and resolve its mentions afresh. A message with
    attachments may be left with no text."""
    current = locked_for_change(message, actor, staff_may=False)
    validate_text(text, may_be_empty=bool(current.attachment_list))
    current.edited_at = timezone.now()
    MessageEdit.objects.create(
        message=current, previous_text=current.text, edited_by=actor, edited_at=current.edited_at
    )
    current.text = text
    current.edit_count += 1
    current.save(update_fields=["text", "edited_at", "edit_count", "version"])
    Mention.objects.filter(message=current).delete()
    store_mentions(current)
    events.publish_message_change(current, events.UPDATED)
    return current


@transaction.atomic
def delete_message(*, actor: User, message: Message) -> Message:
    """Delete by tombstone: the row stays (keeping seq gap-free and letting
    clients that sync by version see the deletion) but its text is erased,
    with its edit history (the earlier texts), its mentions, reactions and
    attachments (their files after the commit)."""
    current = locked_for_change(message, actor, staff_may=True)
    current.text = ""
    current.deleted_at = timezone.now()
    current.edit_count = 0
    current.save(update_fields=["text", "deleted_at", "edit_count", "version"])
    MessageEdit.objects.filter(message=current).delete()
    Mention.objects.filter(message=current).delete()
    current.mention_list = []
    # Its reactions and files go with its text: a tombstone shows nothing of what was on it.
    Reaction.objects.filter(message=current).delete()
    current.reaction_rows = []
    Attachment.objects.filter(message=current).delete()
    remove_files_on_commit(current.attachment_list)
    current.attachment_list = []
    events.publish_message_change(current, events.DELETED)
    return current


@transaction.atomic
def delete_messages(*, actor: User, messages: Iterable[Message]) -> list[Message]:
    """Delete several messages as one: every one is tombstoned, or none is
    (a system message, one already deleted, one `actor` may not delete rolls
    the whole back). Taken in conversation and seq order: announced in that
    order, and concurrent bulk deletes lock conversations in the same order."""
    ordered = sorted(messages, key=lambda message: (message.conversation_id, message.seq))
    return [delete_message(actor=actor, message=message) for message in ordered]


# Reactions: one emoji per user per message. The REST API and the socket
# check that the user is a member (selectors.message_of_member); the admin
# removes anyone's.


def message_for_reaction(message: Message) -> Message:
    """The message read again, with its reactions, once the conversation is
    row-locked (until the caller's transaction ends): concurrent reactions
    take turns, so the distinct-emoji limit holds. Locked before its next
    version is taken, so that a reaction that changes nothing spends none (a
    skipped version would send clients syncing). A deleted message takes no
    reactions (409 message_deleted, as an edit of it)."""
    conversation_services.lock_conversation(message.conversation_id)
    current = selectors.messages_queryset().filter(pk=message.pk).first()
    if current is None:
        raise NotFound("No such message in this conversation.")
    if current.deleted_at is not None:
        raise Conflict("The message was deleted.", code="message_deleted")
    return current


def publish_reactions_changed(message: Message) -> Message:
    """Stamp the conversation's next version on the message whose reactions
    changed, and announce it as `message.updated` after the commit."""
    _, message.version = advance_counters(
        message.conversation_id, new_message=False, at=timezone.now()
    )
    Message.objects.filter(pk=message.pk).update(version=message.version)
    events.publish_message_change(message, events.UPDATED)
    return message


@transaction.atomic
def add_reaction(*, user: User, message: Message, emoji: str) -> tuple[Message, bool]:
    """Add `user`'s `emoji` (messaging.emoji.validate_emoji) to the message.
    Returns (message, added): added is False when it was there already, and
    then nothing changes (no version, no event). A new emoji beyond
    CHAT_REACTIONS_MAX_DISTINCT on the message is refused (409
    too_many_reactions); one already there can always be added."""
    emoji = validate_emoji(emoji)
    current = message_for_reaction(message)
    if any(row.user_id == user.pk and row.emoji == emoji for row in current.reaction_rows):
        return current, False
    present = {row.emoji for row in current.reaction_rows}
    limit = settings.CHAT_REACTIONS_MAX_DISTINCT
    if emoji not in present and len(present) >= limit:
        raise Conflict(
            f"A message has at most {limit} different reactions.",
            code="too_many_reactions",
            details={"maxDistinct": limit},
        )
    current.reaction_rows.append(Reaction.objects.create(message=current, user=user, emoji=emoji))
    return publish_reactions_changed(current), True


@transaction.atomic
def remove_reaction(*, user: User, message: Message, emoji: str) -> tuple[Message, bool]:
    """Remove `user`'s `emoji` from the message. Returns (message, removed):
    removed is False when they had none, and then nothing changes. The emoji
    is only normalized (NFC), not validated: whatever was stored stays
    removable, and removing what is not there is no error."""
    emoji = unicodedata.normalize("NFC", emoji)
    current = message_for_reaction(message)
    removed, _ = Reaction.objects.filter(message=current, user=user, emoji=emoji).delete()
    if not removed:
        return current, False
    current.reaction_rows = [
        row for row in current.reaction_rows if not (row.user_id == user.pk and row.emoji == emoji)
    ]
    return publish_reactions_changed(current), True


def import_messages(
    *,
    conversation: Conversation,
    senders: list[User],
    texts: Iterable[str],
    batch_size: int = 5000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Bulk-load messages (demo data, benchmarks) with correct seq and version,
    cycling through `senders`. Announces nothing: no one is watching a load.
    Each batch is one transaction holding the conversation lock."""
    loaded = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal loaded
        with transaction.atomic():
            locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
            now = timezone.now()
            Message.objects.bulk_create(
                [
                    Message(
                        conversation_id=conversation.pk,
                        sender=senders[(loaded + offset) % len(senders)],
                        seq=locked.last_seq + offset + 1,
                        version=locked.last_version + offset + 1,
                        text=text,
                    )
                    for offset, text in enumerate(batch)
                ],
                batch_size=batch_size,
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                last_seq=locked.last_seq + len(batch),
                last_version=locked.last_version + len(batch),
                last_message_at=now,
            )
        loaded += len(batch)
        if on_batch is not None:
            on_batch(len(batch))
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return loaded


# Closing and reopening: a conversation status change with its system notice -


def post_system_message(
    conversation: Conversation, text: str, *, actor: User | None = None
) -> None:
    """A system message (no sender, kind system) through the one send path,
    so it gets its seq and version and reaches live sockets. The notice of
    the actor's own change is not unread for the actor (as their own
    message is not): their read mark moves past it."""
    message, _ = send_message(
        sender=None, conversation=conversation, text=text, kind=Message.Kind.SYSTEM
    )
    if actor is not None:
        mark_sender_read(conversation.pk, actor.pk, message.seq)


SYSTEM_NAME_MAX = 64


def name_for_system_text(name: str) -> str:
    """A display name as system text quotes it: one line (chatproject.text.one_line)
    of at most SYSTEM_NAME_MAX characters, cut with an ellipsis. A display
    name is free-form: unbounded, it could write a notice of its own into the
    conversation ("…\n\nSECURITY NOTICE: sign in at https://…")."""
    line = one_line(name)
    if len(line) > SYSTEM_NAME_MAX:
        line = line[: SYSTEM_NAME_MAX - 1].rstrip() + "…"
    return line


def system_name(user: User) -> str:
    """How a system text names a user; the username stands in for a display
    name with nothing visible in it."""
    return name_for_system_text(user.name) or name_for_system_text(user.username)


def actor_suffix(actor: User | None) -> str:
    """The 'by <name>' of a system text."""
    if actor is None:
        return ""
    return f" by {system_name(actor)}"


def change_status(
    conversation: Conversation,
    *,
    to: str,
    closed_at,
    announcement: str,
    actor: User | None = None,
) -> bool:
    """Move an open conversation to closed or back, with a system message that
    members' sockets receive as any message. A conversation already in the
    target status is left alone (False). Runs inside the caller's transaction."""
    other = (
        Conversation.Status.OPEN if to == Conversation.Status.CLOSED else Conversation.Status.CLOSED
    )
    changed = Conversation.objects.filter(pk=conversation.pk, status=other).update(
        status=to, closed_at=closed_at
    )
    if not changed:
        conversation.refresh_from_db(fields=["status", "closed_at"])
        return False
    conversation.status, conversation.closed_at = to, closed_at
    post_system_message(conversation, announcement, actor=actor)
    return True


@transaction.atomic
def close_conversation(conversation: Conversation, *, actor: User | None = None) -> bool:
    """Close: status `closed`, `closed_at` stamped, "Conversation closed by …".
    Members can still write to a closed conversation; reopen_conversation
    reopens it."""
    return change_status(
        conversation,
        to=Conversation.Status.CLOSED,
        closed_at=timezone.now(),
        announcement=f"Conversation closed{actor_suffix(actor)}.",
        actor=actor,
    )


@transaction.atomic
def reopen_conversation(conversation: Conversation, *, actor: User | None = None) -> bool:
    """Open a closed conversation again (closed_at cleared), with a system message."""
    return change_status(
        conversation,
        to=Conversation.Status.OPEN,
        closed_at=None,
        announcement=f"Conversation reopened{actor_suffix(actor)}.",
        actor=actor,
    )


# Group membership and title: a change with its system notice ---------------
# The notice is posted first: it takes the conversation's next version, and
# the `conversation.updated` frame that follows carries that version.


def group_for_change(conversation_id: int) -> Conversation:
    """The group, locked for a change of its title or members (see
    conversations.services.lock_conversation); a direct conversation keeps
    its two members and has no title to change (Invalid)."""
    conversation = conversation_services.lock_conversation(conversation_id)
    if conversation.kind != Conversation.Kind.GROUP:
        raise Invalid(
            {"conversation": ["A direct conversation has no title or members to change."]}
        )
    return conversation


@transaction.atomic
def rename_group(*, actor: User, conversation: Conversation, title: str) -> Conversation:
    """Any member may rename a group: "<actor> renamed the group to “<title>”."
    A title that does not change is left alone (no notice). Returns the
    conversation as changed."""
    title = conversation_services.validate_title(title)
    conversation = group_for_change(conversation.pk)
    if conversation.title == title:
        return conversation
    post_system_message(
        conversation, f"{system_name(actor)} renamed the group to “{title}”.", actor=actor
    )
    conversation_services.set_title(conversation=conversation, title=title)
    conversation_events.publish_conversation_updated(
        conversation_selectors.with_members(conversation)
    )
    return conversation


@transaction.atomic
def add_group_members(
    *, actor: User, conversation: Conversation, user_ids: Iterable[int]
) -> Conversation:
    """Any member may add people to a group: "<actor> added <names>.". Users
    who are members already are skipped; with no one new nothing changes.
    Returns the conversation as changed."""
    conversation = group_for_change(conversation.pk)
    users = conversation_services.users_to_add(conversation=conversation, user_ids=user_ids)
    if users:
        names = ", ".join(system_name(user) for user in users)
        post_system_message(conversation, f"{system_name(actor)} added {names}.", actor=actor)
        conversation_services.add_members(conversation=conversation, users=users)
    return conversation


MAY_REMOVE_OTHERS = {Membership.Role.OWNER, Membership.Role.AGENT}


@transaction.atomic
def remove_group_member(*, actor: User, conversation: Conversation, user_id: int) -> None:
    """`actor` leaves the group (user_id their own: "<name> left.") or removes
    another member ("<actor> removed <name>."), which only an owner or an
    agent of the group may do. The last member to leave leaves the
    conversation in place, without members (an admin may delete it)."""
    conversation = group_for_change(conversation.pk)
    memberships = {
        membership.user_id: membership
        for membership in conversation_selectors.memberships_with_users().filter(
            conversation=conversation, user_id__in={actor.pk, user_id}
        )
    }
    if actor.pk not in memberships:
        raise PermissionDenied("You are not a member of this conversation.")
    if user_id not in memberships:
        raise NotFound("No such member of this conversation.")
    removed = memberships[user_id]
    if user_id == actor.pk:
        notice = f"{system_name(actor)} left."
    elif memberships[actor.pk].role in MAY_REMOVE_OTHERS:
        notice = f"{system_name(actor)} removed {system_name(removed.user)}."
    else:
        raise PermissionDenied("Only an owner or an agent of the group can remove others.")
    post_system_message(conversation, notice, actor=actor)
    removed.conversation = conversation
    conversation_services.remove_member(removed)
