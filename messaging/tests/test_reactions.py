"""Reactions over REST: POST and DELETE /api/messages/{cid}/{mid}/reactions,
their statuses, shapes, idempotency, limits and permissions, the version a
change takes, its live event and its catch-up through sinceVersion; the
emoji validation; the admin."""

from urllib.parse import quote

import pytest

from conversations.models import Conversation
from messaging.emoji import validate_emoji
from messaging.models import Message, Reaction
from messaging.services import (
    add_reaction,
    post_system_message,
    send_message,
)
from tests.support.api import assert_error, client_for
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db

# Twenty different emoji (CHAT_REACTIONS_MAX_DISTINCT) and one more.
TWENTY = [chr(code) for code in range(0x1F600, 0x1F614)]  # 😀 to 😓
ONE_MORE = "🎉"


def reactions_url(message: Message, emoji: str | None = None) -> str:
    url = f"/api/messages/{message.conversation_id}/{message.pk}/reactions"
    return url if emoji is None else f"{url}/{quote(emoji)}"


def react(client, message: Message, emoji: str):
    return client.post(reactions_url(message), {"emoji": emoji}, format="json")


def unreact(client, message: Message, emoji: str):
    return client.delete(reactions_url(message, emoji))


def conversation_version(message: Message) -> int:
    return Conversation.objects.get(pk=message.conversation_id).last_version


@pytest.fixture
def message(direct_conversation, other_user) -> Message:
    return send_message(sender=other_user, conversation=direct_conversation, text="lunch?")[0]


# The emoji ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "emoji",
    ["👍", "👍🏽", "👨‍👩‍👧", "🇵🇱", "1️⃣", "#️⃣", "❤️", "❤", "🏳️‍🌈", "🧑🏽‍🤝‍🧑🏻", "✔", "✓"],
)
def test_one_emoji_is_accepted_as_it_is(emoji):
    assert validate_emoji(emoji) == emoji


@pytest.mark.parametrize(
    "value",
    ["a", "ab", "👍👍", "<script>", "", " 👍", "👍\u200d", "1", "🇵", "🇵🇱🇵🇱", "é", "+1"],
)
def test_anything_but_one_emoji_is_refused(value):
    with pytest.raises(Exception) as refused:
        validate_emoji(value)
    assert refused.value.code == "validation_error"
    assert refused.value.fields == {"emoji": ["A reaction is one emoji."]}


def test_an_emoji_has_at_most_64_bytes():
    family = "\u200d".join(["👨"] * 10)  # one grapheme cluster of 67 bytes
    with pytest.raises(Exception) as refused:
        validate_emoji(family)
    assert refused.value.fields == {"emoji": ["An emoji has at most 64 bytes."]}
    assert validate_emoji("\u200d".join(["👨"] * 9)) == "\u200d".join(["👨"] * 9)  # 60 bytes


# Adding and removing -----------------------------------------------------------------


def test_adding_is_201_with_the_message_then_200_unchanged(
    message, user, django_capture_on_commit_callbacks
):
    client = client_for(user)
    before = conversation_version(message)
    channel = listen(f"conversation.{message.conversation_id}")

    with django_capture_on_commit_callbacks(execute=True):
        response = react(client, message, "👍")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == str(message.pk)
    assert body["reactions"] == [{"emoji": "👍", "count": 1, "users": [str(user.pk)], "me": True}]
    assert body["version"] == before + 1 == conversation_version(message)
    [frame] = frames(channel)
    assert frame["type"] == "message.updated"
    assert frame["version"] == before + 1
    # Encoded once for every member: no `me`.
    assert frame["message"]["reactions"] == [{"emoji": "👍", "count": 1, "users": [str(user.pk)]}]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = react(client, message, "👍")
    assert callbacks == []
    assert again.status_code == 200, again.content
    assert again.json() == body
    assert conversation_version(message) == before + 1
    assert frames(channel) == []
    assert Reaction.objects.filter(message=message).count() == 1


def test_reactions_are_grouped_by_emoji_in_order_of_first_use(message, user, other_user):
    react(client_for(other_user), message, "😂")
    react(client_for(user), message, "👍")
    response = react(client_for(user), message, "😂")
    assert response.status_code == 201
    assert response.json()["reactions"] == [
        {"emoji": "😂", "count": 2, "users": [str(other_user.pk), str(user.pk)], "me": True},
        {"emoji": "👍", "count": 1, "users": [str(user.pk)], "me": True},
    ]
    history = client_for(other_user).get(f"/api/messages/{message.conversation_id}").json()
    assert history[0]["reactions"] == [
        {"emoji": "😂", "count": 2, "users": [str(other_user.pk), str(user.pk)], "me": True},
        {"emoji": "👍", "count": 1, "users": [str(user.pk)], "me": False},
    ]


def test_removing_is_200_also_when_there_is_none(
    message, user, other_user, django_capture_on_commit_callbacks
):
    react(client_for(other_user), message, "👨‍👩‍👧")
    react(client_for(user), message, "👨‍👩‍👧")
    before = conversation_version(message)
    channel = listen(f"conversation.{message.conversation_id}")

    with django_capture_on_commit_callbacks(execute=True):
        response = unreact(client_for(user), message, "👨‍👩‍👧")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reactions"] == [
        {"emoji": "👨‍👩‍👧", "count": 1, "users": [str(other_user.pk)], "me": False}
    ]
    assert body["version"] == before + 1 == conversation_version(message)
    [frame] = frames(channel)
    assert frame["type"] == "message.updated"
    assert frame["message"]["reactions"] == [
        {"emoji": "👨‍👩‍👧", "count": 1, "users": [str(other_user.pk)]}
    ]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = unreact(client_for(user), message, "👨‍👩‍👧")
    assert callbacks == []
    assert again.status_code == 200
    assert again.json() == body
    assert conversation_version(message) == before + 1
    assert frames(channel) == []


def test_a_change_comes_back_through_since_version(message, user, other_user):
    before = conversation_version(message)
    react(client_for(user), message, "🇵🇱")
    changed = client_for(other_user).get(
        f"/api/messages/{message.conversation_id}?sinceVersion={before}"
    )
    assert changed.status_code == 200
    [item] = changed.json()
    assert item["id"] == str(message.pk)
    assert item["version"] == before + 1
    assert item["reactions"] == [{"emoji": "🇵🇱", "count": 1, "users": [str(user.pk)], "me": False}]

    unreact(client_for(user), message, "🇵🇱")
    [item] = (
        client_for(other_user)
        .get(f"/api/messages/{message.conversation_id}?sinceVersion={before + 1}")
        .json()
    )
    assert item["version"] == before + 2
    assert item["reactions"] == []


def test_a_bad_emoji_is_400_and_stores_nothing(message, user):
    for value in ["ab", "<script>", "👍👍"]:
        error = assert_error(react(client_for(user), message, value), 400, "validation_error")
        assert error["details"]["fields"] == {"emoji": ["A reaction is one emoji."]}
    assert_error(react(client_for(user), message, ""), 400)
    assert_error(client_for(user).post(reactions_url(message), {}, format="json"), 400)
    assert not Reaction.objects.exists()


# Who may react, and to what -------------------------------------------------------------


def test_a_non_member_gets_403_and_an_unknown_message_404(message, user, outsider):
    assert_error(react(client_for(outsider), message, "👍"), 403, "permission_denied")
    assert_error(unreact(client_for(outsider), message, "👍"), 403, "permission_denied")

    elsewhere = ConversationFactory(members=[outsider, user])
    foreign = send_message(sender=outsider, conversation=elsewhere, text="mine")[0]
    # Another conversation's message under this conversation's id: no such message here.
    misplaced = client_for(user).post(
        f"/api/messages/{message.conversation_id}/{foreign.pk}/reactions",
        {"emoji": "👍"},
        format="json",
    )
    assert_error(misplaced, 404, "not_found")
    unknown = client_for(user).post(
        f"/api/messages/{message.conversation_id}/999999/reactions", {"emoji": "👍"}, format="json"
    )
    assert_error(unknown, 404, "not_found")
    gone = client_for(user).delete(f"/api/messages/999999/{message.pk}/reactions/{quote('👍')}")
    assert_error(gone, 404, "not_found")
    assert not Reaction.objects.exists()


def test_anonymous_gets_401(message, api_client):
    assert_error(api_client.post(reactions_url(message), {"emoji": "👍"}, format="json"), 401)


def test_a_system_message_takes_reactions(direct_conversation, user):
    post_system_message(direct_conversation, "Conversation closed.")
    system = Message.objects.get(conversation=direct_conversation, kind=Message.Kind.SYSTEM)
    response = react(client_for(user), system, "✓")
    assert response.status_code == 201, response.content
    assert response.json()["reactions"][0]["emoji"] == "✓"


def test_a_deleted_message_takes_none_and_loses_its_own(message, user, other_user):
    react(client_for(user), message, "👍")
    tombstone = client_for(other_user).delete(
        f"/api/messages/{message.conversation_id}/{message.pk}"
    )
    assert tombstone.status_code == 200
    assert tombstone.json()["reactions"] == []
    assert not Reaction.objects.filter(message=message).exists()
    assert_error(react(client_for(user), message, "👍"), 409, "message_deleted")
    assert_error(unreact(client_for(user), message, "👍"), 409, "message_deleted")


def test_at_most_20_different_emoji_but_one_there_can_still_be_added(message, user, other_user):
    for emoji in TWENTY:
        add_reaction(user=other_user, message=message, emoji=emoji)
    before = conversation_version(message)
    error = assert_error(react(client_for(user), message, ONE_MORE), 409, "too_many_reactions")
    assert error["details"] == {"maxDistinct": 20}
    assert conversation_version(message) == before

    response = react(client_for(user), message, TWENTY[-1])
    assert response.status_code == 201
    reactions = response.json()["reactions"]
    assert [reaction["emoji"] for reaction in reactions] == TWENTY
    assert reactions[-1]["count"] == 2


def test_adding_is_throttled_per_user_and_removing_is_not(settings, message, user):
    set_rates(settings, {"reaction.add": "2/min"})
    client = client_for(user)
    assert react(client, message, "👍").status_code == 201
    assert react(client, message, "😂").status_code == 201
    refused = client.post(reactions_url(message), {"emoji": "😍"}, format="json")
    error = assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) == error["details"]["retryAfterSeconds"] >= 1
    assert unreact(client, message, "👍").status_code == 200
    assert unreact(client, message, "😂").status_code == 200
    assert not Reaction.objects.exists()


# The admin -------------------------------------------------------------------------------


def test_the_message_page_shows_its_reactions_read_only(admin_client, message, user):
    add_reaction(user=user, message=message, emoji="🇵🇱")
    page = admin_client.get(f"/admin/messaging/message/{message.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "🇵🇱" in html
    assert 'name="reactions-0-emoji"' not in html  # shown, not a form field
    assert admin_client.get("/admin/messaging/reaction/add/").status_code == 403


def test_the_admin_removes_a_reaction_through_the_service(
    admin_client, message, user, other_user, django_capture_on_commit_callbacks
):
    add_reaction(user=user, message=message, emoji="👍")
    add_reaction(user=other_user, message=message, emoji="👍")
    [mine, theirs] = Reaction.objects.filter(message=message).order_by("pk")
    before = conversation_version(message)
    channel = listen(f"conversation.{message.conversation_id}")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/messaging/reaction/{mine.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert list(Reaction.objects.filter(message=message)) == [theirs]
    [frame] = frames(channel)
    assert frame["type"] == "message.updated"
    assert frame["version"] == before + 1 == conversation_version(message)
    assert frame["message"]["reactions"] == [
        {"emoji": "👍", "count": 1, "users": [str(other_user.pk)]}
    ]

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/messaging/reaction/",
            {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"},
        )
    assert not Reaction.objects.exists()
    assert [frame["message"]["reactions"] for frame in frames(channel)] == [[]]
