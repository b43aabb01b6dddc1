"""Reads of conversations used by more than one caller. Each returns
conversations with their members (`member_list`, `member_ids`),
`my_membership` and `name_for_viewer` set, in a fixed number
of queries however many conversations there are (messaging.selectors'
`with_last_messages` adds each one's newest message)."""

from collections.abc import Iterable

from django.db import connection
from django.db.models import BooleanField, F, OuterRef, Prefetch, Q, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from chatproject.errors import NotFound, PermissionDenied
from conversations.models import Conversation, Membership, Tag, TagTranslation
from users.models import User


def memberships_with_users():
    """Memberships in join order, each with its user (one join, no query of its own)."""
    return Membership.objects.select_related("user").order_by("joined_at", "user_id")


def set_members(conversation: Conversation, memberships: list[Membership]) -> None:
    """What ConversationSerializer reads: `member_list` (the memberships with
    their users) and `member_ids`."""
    conversation.member_list = memberships
    conversation.member_ids = [membership.user_id for membership in memberships]


def with_members(conversation: Conversation) -> Conversation:
    """The conversation with its members read afresh (for a live frame): one query."""
    set_members(conversation, list(memberships_with_users().filter(conversation=conversation)))
    return conversation


def with_details(conversations: list[Conversation], user: User) -> list[Conversation]:
    """Sets the members, `my_membership` and `name_for_viewer` (display_name
    for `user`) of conversations read with base_queryset: no query."""
    for conversation in conversations:
        set_members(conversation, list(conversation.memberships.all()))
        conversation.my_membership = next(
            (m for m in conversation.member_list if m.user_id == user.pk), None
        )
        conversation.name_for_viewer = display_name(conversation, user)
    return conversations


def base_queryset():
    return Conversation.objects.prefetch_related(
        Prefetch("memberships", queryset=memberships_with_users())
    )


def conversations_for_user(user: User) -> list[Conversation]:
    """The user's conversations, most recent activity first."""
    conversations = list(
        base_queryset()
        .filter(memberships__user=user)
        .order_by(Coalesce("last_message_at", "created_at").desc(), F("id").desc())
    )
    return with_details(conversations, user)


def conversation_for_member(user: User, conversation_id: int) -> Conversation:
    """The conversation with its details; 404 if there is none, 403 if the
    user is not a member."""
    conversation = base_queryset().filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No such conversation.")
    with_details([conversation], user)
    if conversation.my_membership is None:
        raise PermissionDenied("You are not a member of this conversation.")
    return conversation


def is_member(conversation_id: int, user_id_column: str) -> RawSQL:
    """Whether the user whose id is in `user_id_column` (the SQL of a column of
    the outer query) is a member of the conversation: for a query that reads
    the user anyway (the token's). Written out: as an Exists of a queryset it
    was built and compiled for every history page, 0.46 ms of its CPU
    (docs/performance.md "History pages")."""
    quote = connection.ops.quote_name
    table = quote(Membership._meta.db_table)
    conversation = quote(Membership._meta.get_field("conversation").column)
    user = quote(Membership._meta.get_field("user").column)
    return RawSQL(
        f"EXISTS (SELECT 1 FROM {table} WHERE {table}.{conversation} = %s "
        f"AND {table}.{user} = {user_id_column})",
        [conversation_id],
        output_field=BooleanField(),
    )


def membership_for(user: User, conversation_id: int) -> Membership:
    """The user's membership, with its conversation, in one query; 404 if the
    conversation does not exist, 403 if the user is not a member."""
    membership = (
        Membership.objects.select_related("conversation")
        .filter(conversation_id=conversation_id, user=user)
        .first()
    )
    if membership is not None:
        return membership
    if Conversation.objects.filter(pk=conversation_id).exists():
        raise PermissionDenied("You are not a member of this conversation.")
    raise NotFound("No such conversation.")


def direct_conversation_between(
    user: User, first_user_id: int, second_user_id: int
) -> Conversation:
    """The pair's direct conversation, 404 unless `user` is a member of it
    (one removed from it has no direct conversation with the other until
    they start it again)."""
    key = Conversation.direct_key_for(first_user_id, second_user_id)
    conversation = base_queryset().filter(direct_key=key, memberships__user=user).first()
    if conversation is None:
        raise NotFound("These users have no direct conversation.")
    return with_details([conversation], user)[0]


def display_name(conversation: Conversation, me: User) -> str:
    """What the conversation is called on `me`'s screen: its title, or the
    other members' names (`me`'s own for a conversation with oneself).
    Expects the members set (with_details, with_members)."""
    others = [m.user.name for m in conversation.member_list if m.user_id != me.pk]
    return conversation.title or ", ".join(others) or f"{me.name} (you)"


def display_names(conversations: list[Conversation], me: User) -> dict[int, str]:
    """display_name of each conversation, by id: no query."""
    return {conversation.pk: display_name(conversation, me) for conversation in conversations}


# Reads of the seed 001-004 endpoints (integrations) ---------------------


def conversation_for_integration(**lookup) -> Conversation | None:
    """One conversation with its workspace, creator and assignee: one query."""
    return (
        Conversation.objects.select_related("workspace", "created_by", "assignee")
        .filter(**lookup)
        .first()
    )


def conversation_with_people(**lookup) -> Conversation | None:
    """One conversation with its workspace, creator and assignee, and its
    memberships with their users (join order): two queries."""
    return (
        Conversation.objects.select_related("workspace", "created_by", "assignee")
        .prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.select_related("user").order_by("joined_at", "user_id"),
            )
        )
        .filter(**lookup)
        .first()
    )


def member_roles(conversation_id: int) -> dict[int, str]:
    """Each member's role, by user id: one query."""
    return dict(
        Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", "role")
    )


def language_candidates(language: str | None) -> list[str]:
    """The codes to look a translation up by: the code itself, then its
    primary language (pt-br, then pt)."""
    code = TagTranslation.normalize_language(language or "")
    if not code:
        return []
    primary = code.split("-")[0]
    return [code] if primary == code else [code, primary]


def localized_tag_names(conversation_id: int, language: str | None) -> list[str]:
    """The conversation's tags, each named in `language` where a translation
    exists (else by its own name), ordered by name: one query."""
    tags = Tag.objects.filter(conversations=conversation_id).order_by("name", "pk")
    candidates = language_candidates(language)
    if not candidates:
        return list(tags.values_list("name", flat=True))
    translated = [
        Subquery(
            TagTranslation.objects.filter(tag=OuterRef("pk"), language=code).values("name")[:1]
        )
        for code in candidates
    ]
    return list(
        tags.annotate(localized=Coalesce(*translated, F("name"))).values_list(
            "localized", flat=True
        )
    )


def member_by_foreign_id(conversation_id: int, foreign_id: str) -> User | None:
    """The member of the conversation that `foreign_id` names, as seeds
    002-004 name users: the user whose external id it is, or else (digits)
    the user with that id; None if that user is inactive or not a member.
    Two queries."""
    wanted = Q(external_id=foreign_id)
    if foreign_id.isascii() and foreign_id.isdigit() and len(foreign_id) <= 18:
        wanted |= Q(pk=int(foreign_id))
    candidates = list(User.objects.filter(wanted).order_by("pk")[:2])
    user = next((u for u in candidates if u.external_id == foreign_id), None) or next(
        iter(candidates), None
    )
    if user is None or not user.is_active:
        return None
    if not Membership.objects.filter(conversation_id=conversation_id, user=user).exists():
        return None
    return user


def conversation_ids_of(user_id: int):
    """The ids of the user's conversations (a lazy values list)."""
    return Membership.objects.filter(user_id=user_id).values_list("conversation_id", flat=True)


def last_seen_visible_ids(*, viewer: User, user_ids: Iterable[int]) -> set[int]:
    """Which of `user_ids` the viewer may see the last-seen time of: their
    own, and of those who share a conversation with them. One query (none
    when the viewer asks only about themselves)."""
    wanted = set(user_ids)
    visible = {viewer.pk} & wanted
    others = wanted - visible
    if others:
        visible |= set(
            Membership.objects.filter(
                user_id__in=others, conversation__memberships__user_id=viewer.pk
            ).values_list("user_id", flat=True)
        )
    return visible
