"""Writes to conversations and memberships. Views, consumers and the admin
call these; none of them writes conversation rows themselves."""

import unicodedata
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction

from chatproject.errors import Invalid, NotFound
from chatproject.text import one_line
from conversations import events, selectors
from conversations.models import Conversation, Membership, Tag, TagTranslation
from users.models import User
from workspaces.models import Workspace


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
        raise Invalid({"users": [f"Unknown user id: {user_id}" for user_id in unknown]})
    check_member_limit(len(wanted), field="users")
    return sorted(wanted)


def check_member_limit(count: int, *, field: str) -> None:
    """A conversation of `count` members is within CHAT_GROUP_MAX_MEMBERS."""
    if count > settings.CHAT_GROUP_MAX_MEMBERS:
        raise Invalid(
            {field: [f"A conversation has at most {settings.CHAT_GROUP_MAX_MEMBERS} members."]}
        )


def create_conversation(
    *,
    creator: User,
    member_ids: Iterable[int],
    title: str = "",
    kind: str | None = None,
    workspace: Workspace | None = None,
) -> tuple[Conversation, bool]:
    """Create a conversation, or find the existing direct one.

    With one other user (or none: a conversation with oneself) and no
    `kind="group"`, the conversation is direct and unique per pair: two
    concurrent creates meet at the unique `direct_key` and both return the
    same row. Anything else is a new group. Returns (conversation, created).
    Without `workspace` the conversation goes to the default workspace.
    """
    members = resolve_members(creator, member_ids)
    if kind is None:
        kind = Conversation.Kind.DIRECT if len(members) <= 2 else Conversation.Kind.GROUP
    if kind == Conversation.Kind.DIRECT:
        if len(members) > 2:
            raise Invalid({"kind": ["A direct conversation has at most two users."]})
        return find_or_create_direct(creator, members, title, workspace)
    return create_group(creator, members, title, workspace), True


def in_workspace(workspace: Workspace | None) -> dict:
    """Model arguments for `workspace`; none: the field's default (the default workspace)."""
    return {} if workspace is None else {"workspace": workspace}


def find_or_create_direct(
    creator: User, members: list[int], title: str, workspace: Workspace | None = None
) -> tuple[Conversation, bool]:
    key = Conversation.direct_key_for(members[0], members[-1])
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(
                    kind=Conversation.Kind.DIRECT,
                    direct_key=key,
                    title=title,
                    created_by=creator,
                    **in_workspace(workspace),
                )
                add_memberships(conversation, creator, members)
        except IntegrityError:
            existing = Conversation.objects.get(direct_key=key)
        else:
            return conversation, True
    if workspace is not None and existing.workspace_id != workspace.pk:
        # A pair has one direct conversation, in one workspace.
        raise Invalid({"workspace": ["These users' direct conversation is in another workspace."]})
    restore_direct_members(existing, members)
    return existing, False


def restore_direct_members(conversation: Conversation, members: list[int]) -> None:
    """A direct conversation that lost a member (removed in the admin) keeps
    its pair key and history: starting it again re-adds whoever of the pair is
    missing (their sockets get `conversation.new`), with the role they were
    created with. Two concurrent re-adds meet at the one-membership constraint."""
    present = set(conversation.memberships.values_list("user_id", flat=True))
    for user in User.objects.filter(pk__in=set(members) - present):
        owner = user.pk == conversation.created_by_id
        role = Membership.Role.OWNER if owner else Membership.Role.MEMBER
        try:
            add_member(conversation, user, role)
        except IntegrityError:
            continue


@transaction.atomic
def create_group(
    creator: User, members: list[int], title: str, workspace: Workspace | None = None
) -> Conversation:
    conversation = Conversation.objects.create(
        kind=Conversation.Kind.GROUP, title=title, created_by=creator, **in_workspace(workspace)
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
    events.publish_conversation_created(selectors.with_members(conversation), members)


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


def mark_sender_read(conversation_id: int, user_id: int, seq: int) -> bool:
    """A sender has read everything up to their own message `seq`. False when
    the sender is not a member (no row to update: a new seq is above every
    read mark).

    A mark that jumps over others' messages (a reply to unread ones) is told
    to the members with `read`, as mark_read would; one that had reached
    `seq - 1` already tells no one anything new, and costs one statement (a
    send's third), the jump a second one."""
    mark = Membership.objects.filter(conversation_id=conversation_id, user_id=user_id)
    if mark.filter(last_read_seq=seq - 1).update(last_read_seq=seq):
        return True
    if not mark.filter(last_read_seq__lt=seq - 1).update(last_read_seq=seq):
        return False
    events.publish_read(
        Membership(conversation_id=conversation_id, user_id=user_id, last_read_seq=seq)
    )
    return True


# Status, details and tags ---------------------------------------------------


EDITABLE_DETAILS = {"title", "assignee", "rating", "summary", "workspace"}


@transaction.atomic
def update_conversation(conversation: Conversation, **changes) -> Conversation:
    """Change the title, assignee, rating, summary or workspace (status has
    close/reopen). The assignee must be an active user; tags must stay in the
    conversation's workspace, so moving it drops tags of the old one."""
    unknown = set(changes) - EDITABLE_DETAILS
    if unknown:
        raise TypeError(f"Not editable here: {sorted(unknown)}")
    assignee = changes.get("assignee")
    if assignee is not None and not assignee.is_active:
        raise Invalid({"assignee": ["The assignee must be an active user."]})
    for field, value in changes.items():
        setattr(conversation, field, value)
    try:
        conversation.full_clean(exclude=["direct_key", "created_by", "tags"])
    except DjangoValidationError as exc:
        raise Invalid(exc.message_dict) from exc
    conversation.save(update_fields=list(changes))
    if "workspace" in changes:
        conversation.tags.remove(*conversation.tags.exclude(workspace=conversation.workspace_id))
    return conversation


@transaction.atomic
def set_conversation_tags(conversation: Conversation, tags: Iterable[Tag]) -> None:
    """The conversation's tags become exactly `tags`, which must be of its workspace."""
    tags = list(tags)
    foreign = [tag.name for tag in tags if tag.workspace_id != conversation.workspace_id]
    if foreign:
        raise Invalid({"tags": [f"Not a tag of this workspace: {', '.join(foreign)}"]})
    conversation.tags.set(tags)


@transaction.atomic
def save_tag(tag: Tag) -> Tag:
    tag.full_clean()
    tag.save()
    return tag


@transaction.atomic
def save_tag_translation(translation: TagTranslation) -> TagTranslation:
    """Language codes are stored lower case with "-" (pt_BR → pt-br)."""
    translation.language = TagTranslation.normalize_language(translation.language)
    translation.full_clean()
    translation.save()
    return translation


def delete_tag_translation(translation: TagTranslation) -> None:
    translation.delete()


# Members --------------------------------------------------------------------


@transaction.atomic
def add_member(
    conversation: Conversation, user: User, role: str = Membership.Role.MEMBER
) -> Membership:
    """Add a user (a direct conversation has two at most): the admin's way,
    which also re-adds a member to a direct conversation. See add_members."""
    if not user.is_active:
        raise Invalid({"user": ["Only active users can join."]})
    members = list(conversation.memberships.values_list("user_id", flat=True))
    if user.pk in members:
        raise Invalid({"user": ["Already a member."]})
    if conversation.kind == Conversation.Kind.DIRECT and len(members) >= 2:
        raise Invalid({"user": ["A direct conversation has at most two users."]})
    check_member_limit(len(members) + 1, field="user")
    return add_members(conversation=conversation, users=[user], role=role)[0]


def users_to_add(*, conversation: Conversation, user_ids: Iterable[int]) -> list[User]:
    """The users of `user_ids` who are not members yet, in id order: each
    must be an active user (else Invalid naming the ids), and the
    conversation must stay within CHAT_GROUP_MAX_MEMBERS. Those who are
    members already are left out: adding them again changes nothing."""
    wanted = {int(user_id) for user_id in user_ids}
    users = list(User.objects.filter(pk__in=wanted, is_active=True).order_by("pk"))
    unknown = sorted(wanted - {user.pk for user in users})
    if unknown:
        raise Invalid({"users": [f"Unknown user id: {user_id}" for user_id in unknown]})
    present = set(conversation.memberships.values_list("user_id", flat=True))
    new = [user for user in users if user.pk not in present]
    check_member_limit(len(present) + len(new), field="users")
    return new


@transaction.atomic
def add_members(
    *, conversation: Conversation, users: list[User], role: str = Membership.Role.MEMBER
) -> list[Membership]:
    """Add users (checked by the caller: add_member, users_to_add). Their
    sockets get `conversation.new` and join it; the members' sockets get
    `conversation.updated` with the new member list."""
    memberships = Membership.objects.bulk_create(
        Membership(conversation=conversation, user=user, role=role) for user in users
    )
    selectors.with_members(conversation)
    events.publish_conversation_created(conversation, [user.pk for user in users])
    events.publish_conversation_updated(conversation)
    return memberships


def lock_conversation(conversation_id: int) -> Conversation:
    """The conversation read afresh and row-locked until the caller's
    transaction ends (on SQLite the IMMEDIATE transaction holds the database's
    write lock already), so that membership changes of one conversation take
    turns: checks such as the member limit hold until the commit."""
    conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


TITLE_MAX = Conversation._meta.get_field("title").max_length


def validate_title(title: str) -> str:
    """A group title as stored: NFC, one line (chatproject.text.one_line), of
    1 to TITLE_MAX characters."""
    title = one_line(unicodedata.normalize("NFC", title))
    if not title:
        raise Invalid({"title": ["A group needs a title."]})
    if len(title) > TITLE_MAX:
        raise Invalid({"title": [f"A title has at most {TITLE_MAX} characters."]})
    return title


def set_title(*, conversation: Conversation, title: str) -> Conversation:
    """Store a title checked with validate_title. Runs inside the caller's
    transaction, which tells the members (messaging.services.rename_group)."""
    conversation.title = title
    Conversation.objects.filter(pk=conversation.pk).update(title=title)
    return conversation


@transaction.atomic
def set_muted(*, membership: Membership, muted: bool) -> Membership:
    """Mute or unmute the conversation for its member; a change reaches the
    member's own sockets (`membership.updated`), no one else's."""
    changed = Membership.objects.filter(pk=membership.pk).exclude(muted=muted).update(muted=muted)
    membership.muted = muted
    if changed:
        events.publish_membership_updated(membership)
    return membership


def set_member_role(membership: Membership, role: str) -> Membership:
    """Owner, member, agent or customer (seeds 001 and 002 show agents and customers)."""
    if role not in Membership.Role.values:
        raise Invalid({"role": [f"One of {', '.join(Membership.Role.values)}."]})
    Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role
    return membership


@transaction.atomic
def delete_conversations(*, conversations: Iterable[Conversation]) -> int:
    """Delete conversations with their messages and memberships, in one
    transaction; after the commit each member's sockets get
    `conversation.deleted` (and leave it). Returns how many were deleted."""
    conversations = list(conversations)
    members: dict[int, list[int]] = {conversation.pk: [] for conversation in conversations}
    for conversation_id, user_id in Membership.objects.filter(
        conversation__in=conversations
    ).values_list("conversation_id", "user_id"):
        members[conversation_id].append(user_id)
    Conversation.objects.filter(pk__in=list(members)).delete()
    for conversation_id, user_ids in members.items():
        events.publish_conversation_deleted(conversation_id, user_ids)
    return len(members)


def keep_an_owner(conversation: Conversation) -> None:
    """A group whose last owner left gets one: its earliest member still in
    it (as WhatsApp does), so that someone can still remove members."""
    members = Membership.objects.filter(conversation=conversation)
    if (
        conversation.kind != Conversation.Kind.GROUP
        or members.filter(role=Membership.Role.OWNER).exists()
    ):
        return
    heir = members.filter(role=Membership.Role.MEMBER).order_by("joined_at", "pk").first()
    if heir is not None:
        set_member_role(heir, Membership.Role.OWNER)


@transaction.atomic
def remove_member(membership: Membership) -> None:
    """Remove a member; their messages stay (with their sender). The members'
    sockets get `conversation.updated` with the member list; then the removed
    user's open sockets are told to leave the conversation (they keep their
    memberships in memory to authorize sends without a query) and tell their
    client `conversation.removed`. In that order, so that a removed user's
    last frame of the conversation is its removal."""
    membership.delete()
    if membership.role == Membership.Role.OWNER:
        keep_an_owner(membership.conversation)
    events.publish_conversation_updated(selectors.with_members(membership.conversation))
    events.publish_membership_removed(membership)
