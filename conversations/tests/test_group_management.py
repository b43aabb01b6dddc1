"""Group management over REST: the conversation row's name, members and mute;
details; rename; add, remove and leave; mute. Each change that concerns the
members posts a system notice (taking the next version) and is live."""

import pytest

from chatproject.bus import conversation_group
from conversations import services
from conversations.models import Conversation, Membership
from messaging.models import Message
from tests.support.api import assert_error, client_for
from tests.support.events import frames, listen, listen_as_user
from tests.support.factories import ConversationFactory, UserFactory

pytestmark = pytest.mark.django_db

ROW_KEYS = {"name", "members", "muted", "users", "lastReadSeq", "unreadCount", "lastMessage"}


@pytest.fixture
def third(db):
    return UserFactory(display_name="Carol")


@pytest.fixture
def group(user, other_user, third) -> Conversation:
    """`user` created it (owner); `other_user` and `third` are members."""
    conversation, _ = services.create_conversation(
        creator=user, member_ids=[other_user.pk, third.pk], kind="group", title="Plans"
    )
    return conversation


def notices(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, kind=Message.Kind.SYSTEM)
        .order_by("seq")
        .values_list("text", flat=True)
    )


def member_ids(row: dict) -> list[str]:
    return [member["id"] for member in row["members"]]


# The row: name, members, muted ------------------------------------------------


def test_the_list_names_each_conversation_as_the_caller_sees_it(
    user_client, other_client, user, other_user, third, group, direct_conversation
):
    untitled = ConversationFactory(
        kind=Conversation.Kind.GROUP, direct_key=None, members=[user, other_user, third]
    )
    mine = {row["id"]: row for row in user_client.get("/api/conversations").json()}
    theirs = {row["id"]: row for row in other_client.get("/api/conversations").json()}

    assert mine[str(group.pk)]["name"] == "Plans"
    assert mine[str(direct_conversation.pk)]["name"] == other_user.name
    assert theirs[str(direct_conversation.pk)]["name"] == user.name
    assert mine[str(untitled.pk)]["name"] == f"{other_user.name}, {third.name}"
    assert theirs[str(untitled.pk)]["name"] == f"{user.name}, {third.name}"


def test_the_row_lists_members_with_name_username_and_role(user_client, user, other_user, group):
    [row] = [r for r in user_client.get("/api/conversations").json() if r["id"] == str(group.pk)]

    assert set(row) >= ROW_KEYS
    assert row["muted"] is False
    assert row["members"][0] == {
        "id": str(user.pk),
        "name": user.name,
        "username": user.username,
        "role": "owner",
    }
    assert row["members"][1]["role"] == "member"
    assert member_ids(row) == row["users"]
    assert other_user.username in [member["username"] for member in row["members"]]


def test_the_list_takes_the_same_queries_for_1_and_20_conversations_of_several_members(
    user, django_assert_max_num_queries
):
    client = client_for(user)

    def add_groups(count: int) -> None:
        for _ in range(count):
            others = [UserFactory() for _ in range(4)]
            conversation, _ = services.create_conversation(
                creator=user, member_ids=[o.pk for o in others], kind="group"
            )
            Message.objects.create(conversation=conversation, sender=others[0], seq=1, version=1)
            Conversation.objects.filter(pk=conversation.pk).update(last_seq=1, last_version=1)

    add_groups(1)
    # The conversations, memberships, last messages, their mentions,
    # reactions and attachments, unread mentions.
    with django_assert_max_num_queries(7) as one:
        assert len(client.get("/api/conversations").json()) == 1
    add_groups(19)
    with django_assert_max_num_queries(7) as twenty:
        body = client.get("/api/conversations").json()
    assert len(body) == 20
    assert all(len(row["members"]) == 5 and row["name"] for row in body)
    assert len(one.captured_queries) == len(twenty.captured_queries)


# Details ----------------------------------------------------------------------


def test_details_is_my_row_of_the_conversation(user_client, group):
    response = user_client.get(f"/api/conversations/{group.pk}/details")

    assert response.status_code == 200
    listed = [r for r in user_client.get("/api/conversations").json() if r["id"] == str(group.pk)]
    assert response.json() == listed[0]


def test_details_of_a_conversation_i_am_not_in_is_403_and_of_none_404(outsider_client, group):
    assert_error(outsider_client.get(f"/api/conversations/{group.pk}/details"), 403)
    assert_error(outsider_client.get("/api/conversations/999999/details"), 404, "not_found")


# Rename -----------------------------------------------------------------------


def test_any_member_renames_a_group_with_a_notice_and_a_live_update(
    other_client, other_user, group, django_capture_on_commit_callbacks
):
    channel = listen(conversation_group(group.pk))
    version = Conversation.objects.get(pk=group.pk).last_version

    with django_capture_on_commit_callbacks(execute=True):
        response = other_client.patch(
            f"/api/conversations/{group.pk}/details",
            {"title": "  Cafe\u0301\n trip "},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == response.json()["name"] == "Café trip"
    group.refresh_from_db()
    assert group.title == "Café trip"
    assert group.last_version == version + 1
    assert notices(group) == [f"{other_user.name} renamed the group to “Café trip”."]
    new, updated = frames(channel)
    assert (new["type"], new["message"]["kind"]) == ("message.new", "system")
    assert updated["type"] == "conversation.updated"
    assert updated["conversation"]["title"] == "Café trip"
    assert updated["conversation"]["lastVersion"] == version + 1
    assert len(updated["conversation"]["members"]) == 3


def test_renaming_to_the_same_title_changes_nothing(user_client, group):
    response = user_client.patch(
        f"/api/conversations/{group.pk}/details", {"title": "Plans"}, format="json"
    )

    assert response.status_code == 200
    assert notices(group) == []


@pytest.mark.parametrize("title", ["", "   ", "\n\t", "x" * 201])
def test_a_title_must_have_1_to_200_characters(user_client, group, title):
    response = user_client.patch(
        f"/api/conversations/{group.pk}/details", {"title": title}, format="json"
    )

    assert assert_error(response, 400, "validation_error")["details"]["fields"]["title"]
    assert Conversation.objects.get(pk=group.pk).title == "Plans"


def test_a_direct_conversation_is_not_renamed(user_client, direct_conversation):
    response = user_client.patch(
        f"/api/conversations/{direct_conversation.pk}/details", {"title": "Us"}, format="json"
    )

    assert_error(response, 400, "validation_error")
    assert notices(direct_conversation) == []


def test_only_members_rename(outsider_client, group):
    response = outsider_client.patch(
        f"/api/conversations/{group.pk}/details", {"title": "Mine"}, format="json"
    )

    assert_error(response, 403, "permission_denied")
    assert Conversation.objects.get(pk=group.pk).title == "Plans"


# Add --------------------------------------------------------------------------


def test_any_member_adds_people_with_a_notice_and_live_frames(
    other_client, other_user, group, django_capture_on_commit_callbacks
):
    dave, erin = UserFactory(display_name="Dave"), UserFactory(display_name="Erin")
    group_channel = listen(conversation_group(group.pk))
    dave_channel = listen_as_user(dave.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = other_client.post(
            f"/api/conversations/{group.pk}/members",
            {"users": [str(dave.pk), str(erin.pk), str(other_user.pk)]},
            format="json",
        )

    assert response.status_code == 200, response.content
    assert member_ids(response.json())[-2:] == [str(dave.pk), str(erin.pk)]
    assert notices(group) == [f"{other_user.name} added Dave, Erin."]
    [new] = frames(dave_channel)
    assert new["type"] == "conversation.new"
    assert [m["name"] for m in new["conversation"]["members"]][-2:] == ["Dave", "Erin"]
    message, updated = frames(group_channel)
    assert message["type"] == "message.new"
    assert updated["type"] == "conversation.updated"
    assert len(updated["conversation"]["members"]) == 5
    assert updated["conversation"]["lastVersion"] == message["version"]


def test_adding_only_members_changes_nothing(user_client, other_user, group):
    response = user_client.post(
        f"/api/conversations/{group.pk}/members", {"users": [str(other_user.pk)]}, format="json"
    )

    assert response.status_code == 200
    assert len(response.json()["members"]) == 3
    assert notices(group) == []


def test_unknown_or_inactive_users_are_not_added(user_client, group):
    gone = UserFactory(is_active=False)
    response = user_client.post(
        f"/api/conversations/{group.pk}/members",
        {"users": [str(gone.pk), "999999", str(UserFactory().pk)]},
        format="json",
    )

    error = assert_error(response, 400, "validation_error")
    assert len(error["details"]["fields"]["users"]) == 2
    assert group.memberships.count() == 3


def test_adding_respects_the_member_limit(user_client, group, settings):
    settings.CHAT_GROUP_MAX_MEMBERS = 4
    response = user_client.post(
        f"/api/conversations/{group.pk}/members",
        {"users": [str(UserFactory().pk), str(UserFactory().pk)]},
        format="json",
    )

    assert_error(response, 400, "validation_error")
    assert group.memberships.count() == 3


def test_nobody_is_added_to_a_direct_conversation_or_by_an_outsider(
    user_client, outsider_client, outsider, direct_conversation, group
):
    body = {"users": [str(outsider.pk)]}
    url = f"/api/conversations/{direct_conversation.pk}/members"
    assert_error(user_client.post(url, body, format="json"), 400, "validation_error")
    response = outsider_client.post(f"/api/conversations/{group.pk}/members", body, format="json")
    assert_error(response, 403, "permission_denied")
    assert not Membership.objects.filter(user=outsider).exists()


# Remove and leave -------------------------------------------------------------


def test_a_member_leaves_with_a_notice_and_is_told(
    other_client, other_user, group, django_capture_on_commit_callbacks
):
    group_channel = listen(conversation_group(group.pk))
    own_channel = listen_as_user(other_user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = other_client.delete(f"/api/conversations/{group.pk}/members/{other_user.pk}")

    assert response.status_code == 204
    assert not group.memberships.filter(user=other_user).exists()
    assert notices(group) == [f"{other_user.name} left."]
    assert [frame["type"] for frame in frames(group_channel)] == [
        "message.new",
        "conversation.updated",
    ]
    assert frames(own_channel) == [
        {"type": "conversation.removed", "conversationId": str(group.pk)}
    ]
    assert_error(other_client.get(f"/api/conversations/{group.pk}/details"), 403)


def test_an_owner_removes_a_member(
    user_client, user, third, group, django_capture_on_commit_callbacks
):
    third_channel = listen_as_user(third.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/conversations/{group.pk}/members/{third.pk}")

    assert response.status_code == 204
    assert notices(group) == [f"{user.name} removed Carol."]
    assert frames(third_channel)[-1]["type"] == "conversation.removed"
    row = user_client.get(f"/api/conversations/{group.pk}/details").json()
    assert str(third.pk) not in member_ids(row)


def test_an_agent_removes_a_member(other_user, third, group):
    Membership.objects.filter(conversation=group, user=other_user).update(role="agent")

    response = client_for(other_user).delete(f"/api/conversations/{group.pk}/members/{third.pk}")

    assert response.status_code == 204
    assert not group.memberships.filter(user=third).exists()


def test_a_plain_member_cannot_remove_others(other_client, user, third, group):
    for target in (user, third):
        response = other_client.delete(f"/api/conversations/{group.pk}/members/{target.pk}")
        assert_error(response, 403, "permission_denied")
    assert group.memberships.count() == 3
    assert notices(group) == []


def test_removing_someone_who_is_not_a_member_is_404(user_client, outsider, group):
    response = user_client.delete(f"/api/conversations/{group.pk}/members/{outsider.pk}")

    assert_error(response, 404, "not_found")


def test_an_outsider_removes_no_one(outsider_client, third, group):
    response = outsider_client.delete(f"/api/conversations/{group.pk}/members/{third.pk}")

    assert_error(response, 403, "permission_denied")
    assert group.memberships.count() == 3


def test_a_direct_conversation_is_not_left(user_client, user, other_user, direct_conversation):
    for target in (user, other_user):
        url = f"/api/conversations/{direct_conversation.pk}/members/{target.pk}"
        assert_error(user_client.delete(url), 400, "validation_error")
    assert direct_conversation.memberships.count() == 2


def test_the_last_member_to_leave_leaves_the_group_in_place(user, other_user, third, group):
    for member in (other_user, third, user):
        response = client_for(member).delete(f"/api/conversations/{group.pk}/members/{member.pk}")
        assert response.status_code == 204

    group.refresh_from_db()
    assert group.memberships.count() == 0
    assert notices(group)[-1] == f"{user.name} left."


# Mute -------------------------------------------------------------------------


def test_mute_is_stored_and_told_to_my_own_sockets_only(
    user_client, user, other_user, group, django_capture_on_commit_callbacks
):
    mine, theirs = listen_as_user(user.pk), listen_as_user(other_user.pk)
    group_channel = listen(conversation_group(group.pk))

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.patch(
            f"/api/conversations/{group.pk}/membership", {"muted": True}, format="json"
        )

    assert response.status_code == 200
    assert response.json() == {"conversationId": str(group.pk), "muted": True, "lastReadSeq": 0}
    assert Membership.objects.get(conversation=group, user=user).muted is True
    assert frames(mine) == [
        {"type": "membership.updated", "conversationId": str(group.pk), "muted": True}
    ]
    assert frames(theirs) == frames(group_channel) == []
    assert user_client.get(f"/api/conversations/{group.pk}/details").json()["muted"] is True
    assert (
        client_for(other_user).get(f"/api/conversations/{group.pk}/details").json()["muted"]
        is False
    )


def test_muting_again_tells_no_one(user, group, django_capture_on_commit_callbacks):
    Membership.objects.filter(conversation=group, user=user).update(muted=True)
    mine = listen_as_user(user.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).patch(
            f"/api/conversations/{group.pk}/membership", {"muted": True}, format="json"
        )

    assert response.json()["muted"] is True
    assert frames(mine) == []


def test_mute_needs_a_boolean_and_a_membership(user_client, outsider_client, group):
    url = f"/api/conversations/{group.pk}/membership"
    assert_error(user_client.patch(url, {}, format="json"), 400)
    assert_error(user_client.patch(url, {"muted": "maybe"}, format="json"), 400)
    assert_error(outsider_client.patch(url, {"muted": True}, format="json"), 403)
    assert_error(
        user_client.patch("/api/conversations/999999/membership", {"muted": True}, format="json"),
        404,
    )


def test_the_notice_of_my_own_change_is_not_unread_for_me(user_client, other_client, group, third):
    """As my own message is not: my read mark moves past it; the others have it unread."""
    assert (
        user_client.patch(
            f"/api/conversations/{group.pk}/details", {"title": "New plans"}, format="json"
        ).status_code
        == 200
    )
    assert (
        user_client.delete(f"/api/conversations/{group.pk}/members/{third.pk}").status_code == 204
    )

    def unread(client) -> int:
        return client.get(f"/api/conversations/{group.pk}/details").json()["unreadCount"]

    assert notices(group)[-2:] == [
        f"{group.memberships.get(role='owner').user.name} renamed the group to “New plans”.",
        f"{group.memberships.get(role='owner').user.name} removed Carol.",
    ]
    assert unread(user_client) == 0
    assert unread(other_client) == 2


def test_when_the_owner_leaves_the_earliest_member_becomes_owner(
    user_client, other_client, user, other_user, third, group
):
    assert user_client.delete(f"/api/conversations/{group.pk}/members/{user.pk}").status_code == 204
    roles = dict(group.memberships.values_list("user_id", "role"))
    assert roles == {other_user.pk: "owner", third.pk: "member"}
    # The new owner can now remove someone.
    assert (
        other_client.delete(f"/api/conversations/{group.pk}/members/{third.pk}").status_code == 204
    )
