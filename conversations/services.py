"""Writes to conversations and memberships. Views, consumers and the admin
call these; none of them writes conversation rows themselves."""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from rest_framework.exceptions import ValidationError

from conversations.models import Conversation, Membership
from messaging import events
from users.models import User


def advance_counters(conversation_id: int, *, new_message: bool, at: datetime) -> tuple[int, int]:
    """Take the conversation's next version (and next seq for a new message).

    One UPDATE … RETURNING: it row-locks the conversation until the caller's
    transaction ends, so concurrent writers queue here and every seq and
    version is handed out once, with no gap, on PostgreSQL and on SQLite
    (whose IMMEDIATE transactions serialize writers the same way).
    Must run inside the caller's transaction.
    """
    table = connection.ops.quote_name(Conversation._meta.db_table)
    if new_message:
        assignments, params = "last_seq = last_seq + 1, last_message_at = %s, ", [at]
    else:
        assignments, params = "", []
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments}last_version = last_version + 1 "
            f"WHERE id = %s RETURNING last_seq, last_version",
            [*params, conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Conversation.DoesNotExist(conversation_id)
    return row[0], row[1]


def resolve_members(creator: User, member_ids: Iterable[int]) -> list[int]:
    """The creator plus the listed users, each once; unknown or inactive ids
    are a validation error naming them."""
    wanted = {int(member_id) for member_id in member_ids} | {creator.pk}
    found = set(User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    unknown = sorted(wanted - found)
    if unknown:
        raise ValidationError({"users": [f"Unknown user id: {user_id}" for user_id in unknown]})
    if len(wanted) > settings.CHAT_GROUP_MAX_MEMBERS:
        raise ValidationError(
            {"users": [f"A conversation has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."]}
        )
    return sorted(wanted)


def create_conversation(
    *,
    creator: User,
    member_ids: Iterable[int],
    title: str = "",
    kind: str | None = None,
) -> tuple[Conversation, bool]:
    """Create a conversation, or find the existing direct one.

    With one other user (or none: a conversation with oneself) and no
    `kind="group"`, the conversation is direct and unique per pair: two
    concurrent creates meet at the unique `direct_key` and both return the
    same row. Anything else is a new group. Returns (conversation, created).
    """
    members = resolve_members(creator, member_ids)
    if kind is None:
        kind = Conversation.Kind.DIRECT if len(members) <= 2 else Conversation.Kind.GROUP
    if kind == Conversation.Kind.DIRECT:
        if len(members) > 2:
            raise ValidationError({"kind": ["A direct conversation has at most two users."]})
        return find_or_create_direct(creator, members, title)
    return create_group(creator, members, title), True


def find_or_create_direct(
    creator: User, members: list[int], title: str
) -> tuple[Conversation, bool]:
    key = Conversation.direct_key_for(members[0], members[-1])
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(
                kind=Conversation.Kind.DIRECT,
                direct_key=key,
                title=title,
                created_by=creator,
            )
            add_memberships(conversation, creator, members)
    except IntegrityError:
        return Conversation.objects.get(direct_key=key), False
    return conversation, True


@transaction.atomic
def create_group(creator: User, members: list[int], title: str) -> Conversation:
    conversation = Conversation.objects.create(
        kind=Conversation.Kind.GROUP, title=title, created_by=creator
    )
    add_memberships(conversation, creator, members)
    return conversation


def add_memberships(conversation: Conversation, creator: User, members: list[int]) -> None:
    Membership.objects.bulk_create(
        Membership(
            conversation=conversation,
            user_id=user_id,
            role=Membership.Role.OWNER if user_id == creator.pk else Membership.Role.MEMBER,
        )
        for user_id in members
    )
    conversation.member_ids = members
    events.publish_conversation_created(conversation, members)


def mark_read(*, membership: Membership, seq: int) -> Membership:
    """Move the member's read marker forward to `seq` (never back, never past
    the newest message) and tell the other members."""
    with transaction.atomic():
        last_seq = Conversation.objects.filter(pk=membership.conversation_id).values_list(
            "last_seq", flat=True
        )[0]
        target = min(seq, last_seq)
        advanced = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=target).update(
            last_read_seq=target
        )
        membership.refresh_from_db(fields=["last_read_seq"])
        if advanced:
            events.publish_read(membership)
    return membership


def mark_sender_read(conversation_id: int, user_id: int, seq: int) -> None:
    """A sender has read everything up to their own message."""
    Membership.objects.filter(
        conversation_id=conversation_id, user_id=user_id, last_read_seq__lt=seq
    ).update(last_read_seq=seq)
