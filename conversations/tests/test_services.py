"""The conversation services, called directly."""

import pytest

from chatproject.errors import Invalid
from conversations.models import Conversation, Membership
from conversations.services import create_conversation, mark_read
from messaging.services import send_message
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db


def member_ids(conversation: Conversation) -> list[int]:
    return sorted(conversation.memberships.values_list("user_id", flat=True))


def roles(conversation: Conversation) -> dict[int, str]:
    return dict(conversation.memberships.values_list("user_id", "role"))


# create_conversation -------------------------------------------------------------


def test_direct_conversation_is_created_once_then_found(user, other_user):
    conversation, created = create_conversation(creator=user, member_ids=[other_user.pk])
    assert created
    assert conversation.kind == Conversation.Kind.DIRECT
    assert conversation.direct_key == f"{min(user.pk, other_user.pk)}:{max(user.pk, other_user.pk)}"
    assert conversation.created_by == user
    assert member_ids(conversation) == sorted([user.pk, other_user.pk])
    assert roles(conversation) == {
        user.pk: Membership.Role.OWNER,
        other_user.pk: Membership.Role.MEMBER,
    }

    # Either side, with or without naming themselves, finds the same one.
    again, created = create_conversation(creator=other_user, member_ids=[user.pk])
    assert not created
    assert again.pk == conversation.pk
    again, created = create_conversation(creator=user, member_ids=[user.pk, other_user.pk])
    assert not created
    assert again.pk == conversation.pk
    assert Conversation.objects.count() == 1
    assert Membership.objects.count() == 2


def test_direct_conversations_are_per_pair(user, other_user, outsider):
    first, _ = create_conversation(creator=user, member_ids=[other_user.pk])
    second, created = create_conversation(creator=user, member_ids=[outsider.pk])
    assert created
    assert second.pk != first.pk
    assert member_ids(second) == sorted([user.pk, outsider.pk])


def test_duplicate_ids_count_once(user, other_user):
    conversation, created = create_conversation(
        creator=user, member_ids=[other_user.pk, other_user.pk, str(other_user.pk)]
    )
    assert created
    assert conversation.kind == Conversation.Kind.DIRECT
    assert member_ids(conversation) == sorted([user.pk, other_user.pk])


def test_conversation_with_oneself_has_only_the_creator(user):
    conversation, created = create_conversation(creator=user, member_ids=[])
    assert created
    assert conversation.kind == Conversation.Kind.DIRECT
    assert conversation.direct_key == f"{user.pk}:{user.pk}"
    assert member_ids(conversation) == [user.pk]
    again, created = create_conversation(creator=user, member_ids=[user.pk])
    assert not created
    assert again.pk == conversation.pk


def test_three_or_more_users_make_a_new_group_each_time(user, other_user, outsider):
    members = [other_user.pk, outsider.pk]
    group, created = create_conversation(creator=user, member_ids=members, title="Team")
    assert created
    assert group.kind == Conversation.Kind.GROUP
    assert group.direct_key is None
    assert group.title == "Team"
    assert member_ids(group) == sorted([user.pk, other_user.pk, outsider.pk])
    assert roles(group)[user.pk] == Membership.Role.OWNER
    assert roles(group)[other_user.pk] == Membership.Role.MEMBER

    another, created = create_conversation(creator=user, member_ids=members, title="Team")
    assert created
    assert another.pk != group.pk
    assert Conversation.objects.filter(kind=Conversation.Kind.GROUP).count() == 2


def test_kind_group_with_two_users_is_a_group(user, other_user):
    direct, _ = create_conversation(creator=user, member_ids=[other_user.pk])
    group, created = create_conversation(
        creator=user, member_ids=[other_user.pk], kind=Conversation.Kind.GROUP
    )
    assert created
    assert group.kind == Conversation.Kind.GROUP
    assert group.pk != direct.pk
    assert member_ids(group) == sorted([user.pk, other_user.pk])


def test_kind_direct_with_three_users_is_rejected(user, other_user, outsider):
    with pytest.raises(Invalid) as excinfo:
        create_conversation(
            creator=user,
            member_ids=[other_user.pk, outsider.pk],
            kind=Conversation.Kind.DIRECT,
        )
    assert "kind" in excinfo.value.fields
    assert not Conversation.objects.exists()


def test_unknown_user_is_rejected_naming_the_id(user, other_user):
    missing = other_user.pk + 1000
    with pytest.raises(Invalid) as excinfo:
        create_conversation(creator=user, member_ids=[other_user.pk, missing])
    messages = [str(item) for item in excinfo.value.fields["users"]]
    assert messages == [f"Unknown user id: {missing}"]
    assert not Conversation.objects.exists()
    assert not Membership.objects.exists()


def test_inactive_user_is_rejected_naming_the_id(user):
    inactive = UserFactory(is_active=False)
    with pytest.raises(Invalid) as excinfo:
        create_conversation(creator=user, member_ids=[inactive.pk])
    assert [str(item) for item in excinfo.value.fields["users"]] == [
        f"Unknown user id: {inactive.pk}"
    ]
    assert not Conversation.objects.exists()


def test_too_many_members_is_rejected(user, settings):
    settings.CHAT_GROUP_MAX_MEMBERS = 3
    others = [UserFactory() for _ in range(3)]
    with pytest.raises(Invalid) as excinfo:
        create_conversation(creator=user, member_ids=[other.pk for other in others])
    assert "at most 3" in str(excinfo.value.fields["users"][0])
    assert not Conversation.objects.exists()
    group, _ = create_conversation(creator=user, member_ids=[other.pk for other in others[:2]])
    assert len(member_ids(group)) == 3


# mark_read ---------------------------------------------------------------------


@pytest.fixture
def five_messages(direct_conversation, user):
    for index in range(5):
        send_message(sender=user, conversation=direct_conversation, text=f"m{index}")


@pytest.fixture
def reader(direct_conversation, other_user, five_messages):
    return Membership.objects.get(conversation=direct_conversation, user=other_user)


def stored_marker(membership: Membership) -> int:
    return Membership.objects.get(pk=membership.pk).last_read_seq


def test_mark_read_moves_the_marker_forward(reader):
    assert reader.last_read_seq == 0
    result = mark_read(membership=reader, seq=3)
    assert result.last_read_seq == 3
    assert stored_marker(reader) == 3
    mark_read(membership=reader, seq=4)
    assert stored_marker(reader) == 4


def test_mark_read_never_moves_back(reader):
    mark_read(membership=reader, seq=4)
    result = mark_read(membership=reader, seq=2)
    assert result.last_read_seq == 4
    assert stored_marker(reader) == 4
    result = mark_read(membership=reader, seq=0)
    assert result.last_read_seq == 4
    assert stored_marker(reader) == 4


def test_mark_read_clamps_to_the_newest_message(reader):
    result = mark_read(membership=reader, seq=1000)
    assert result.last_read_seq == 5
    assert stored_marker(reader) == 5


def test_mark_read_with_a_stale_membership_object_does_not_move_back(reader):
    stale = Membership.objects.get(pk=reader.pk)
    mark_read(membership=reader, seq=5)
    result = mark_read(membership=stale, seq=3)
    assert result.last_read_seq == 5
    assert stored_marker(reader) == 5


def test_mark_read_touches_only_that_membership(direct_conversation, user, reader):
    sender = Membership.objects.get(conversation=direct_conversation, user=user)
    assert sender.last_read_seq == 5
    mark_read(membership=reader, seq=2)
    assert stored_marker(sender) == 5
    assert stored_marker(reader) == 2
