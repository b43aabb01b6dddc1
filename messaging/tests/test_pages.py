"""The server-rendered pages: accounts, and the chat page (the inbox `/`, a
conversation `/c/{id}/`, the picker `/conversations/new/`)."""

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation, Membership
from messaging.models import Message
from messaging.services import delete_message, import_messages, send_message
from tests.support.factories import TEST_PASSWORD, ConversationFactory, UserFactory
from users.models import User

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)>"
LOGIN_URL = "/accounts/login/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return response.content.decode()


def page_data(html: str) -> dict:
    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no page-data script"
    return json.loads(found.group(1))


def inbox_rows(html: str) -> dict[int, str]:
    """Each conversation row of the inbox by conversation id, as HTML."""
    rows = re.findall(
        r'<li class="conversation-row[^"]*" data-conversation-id="(\d+)"(.*?)</li>', html, re.S
    )
    return {int(conversation_id): row for conversation_id, row in rows}


def unread_count(row: str) -> int:
    return int(re.search(r'class="unread" data-count="(\d+)"', row).group(1))


def last_message(row: str) -> str:
    return re.search(r'<span class="last-message">(.*?)</span>', row, re.S).group(1)


def send(sender, conversation, text: str) -> Message:
    return send_message(sender=sender, conversation=conversation, text=text)[0]


def logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


# Accounts ----------------------------------------------------------------------


def test_login_page_renders_and_logging_in_redirects_to_the_inbox(user):
    client = Client()
    html = page(client, LOGIN_URL)
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "csrfmiddlewaretoken" in html

    response = client.post(LOGIN_URL, {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) == str(user.pk)
    assert f'<span class="whoami">{user.name}</span>' in page(client, "/")


def test_login_with_a_wrong_password_stays_on_the_form(user):
    client = Client()
    response = client.post(LOGIN_URL, {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert logged_in_user_id(client) is None


def test_login_keeps_next(user):
    client = Client()
    response = client.post(
        f"{LOGIN_URL}?next=/conversations/new/",
        {"username": user.username, "password": TEST_PASSWORD, "next": "/conversations/new/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/conversations/new/"


def test_sign_up_creates_the_user_and_logs_in(db):
    client = Client()
    assert 'name="password1"' in page(client, "/accounts/signup/")
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newcomer",
            "display_name": "New Comer",
            "password1": TEST_PASSWORD,
            "password2": TEST_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(username="newcomer")
    assert user.display_name == "New Comer"
    assert user.check_password(TEST_PASSWORD)
    assert logged_in_user_id(client) == str(user.pk)
    assert '<span class="whoami">New Comer</span>' in page(client, "/")


def test_sign_up_with_mismatched_passwords_creates_nothing(db):
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "newcomer", "password1": TEST_PASSWORD, "password2": TEST_PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()
    assert logged_in_user_id(client) is None


def test_logout_is_a_post(user):
    client = logged_in(user)
    assert client.get("/accounts/logout/").status_code == 405
    assert logged_in_user_id(client) == str(user.pk)
    assert 'action="/accounts/logout/"' in page(client, "/")

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL
    assert logged_in_user_id(client) is None
    assert client.get("/")["Location"].startswith(LOGIN_URL)


# Inbox -------------------------------------------------------------------------


def test_inbox_requires_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next=/"


def test_inbox_lists_my_conversations_with_unread_counts_and_last_message(
    user, other_user, outsider
):
    chatty = ConversationFactory(members=[user, other_user])
    for text in ("first", "second", "third"):
        send(other_user, chatty, text)
    Membership.objects.filter(conversation=chatty, user=user).update(last_read_seq=1)
    quiet = ConversationFactory(members=[user, outsider])
    group = ConversationFactory(members=[user, other_user, outsider], kind="group")
    send(user, group, "my own words")
    erased = send(other_user, group, "regrettable")
    delete_message(actor=other_user, message=erased)
    theirs = ConversationFactory(members=[other_user, outsider])
    send(other_user, theirs, "not for your eyes")

    html = page(logged_in(user), "/")
    rows = inbox_rows(html)
    assert set(rows) == {chatty.pk, quiet.pk, group.pk}
    assert unread_count(rows[chatty.pk]) == 2
    assert last_message(rows[chatty.pk]) == "third"
    assert unread_count(rows[quiet.pk]) == 0
    assert 'data-count="0" hidden' in rows[quiet.pk]
    assert last_message(rows[quiet.pk]) == "No messages yet"
    assert unread_count(rows[group.pk]) == 1
    assert last_message(rows[group.pk]) == "Message deleted"
    assert other_user.name in rows[chatty.pk]
    assert "not for your eyes" not in html
    assert "regrettable" not in html
    # Most recent activity first: a message, or else the creation.
    assert list(rows) == [group.pk, quiet.pk, chatty.pk]


def test_empty_inbox_says_so(user):
    assert 'id="empty-inbox"' in page(logged_in(user), "/")


# Conversation page -------------------------------------------------------------


def test_conversation_page_renders_the_newest_50_messages_in_seq_order(
    user, other_user, direct_conversation
):
    import_messages(
        conversation=direct_conversation,
        senders=[user, other_user],
        texts=(f"message #{n:02d}" for n in range(1, 61)),
    )
    html = page(logged_in(user), f"/c/{direct_conversation.pk}/")

    assert [int(seq) for seq in re.findall(r'data-seq="(\d+)"', html)] == list(range(11, 61))
    texts = re.findall(r'<div class="text">(message #\d+)</div>', html)
    assert texts == [f"message #{n:02d}" for n in range(11, 61)]
    assert "message #10" not in html
    assert "Scroll up for older messages" in html

    data = page_data(html)
    opened = data["open"]
    assert [m["seq"] for m in opened["messages"]] == list(range(11, 61))
    assert opened["hasOlder"] is True
    assert opened["conversationId"] == str(direct_conversation.pk)
    assert data["me"] == str(user.pk)
    (row,) = data["conversations"]
    assert row["lastVersion"] == 60
    assert row["name"] == other_user.name
    # My own messages are marked as mine (odd seqs are the user's: senders alternate).
    assert html.count('class="message mine"') == 25


def test_short_conversation_page_says_it_is_the_start(user, other_user, direct_conversation):
    send(other_user, direct_conversation, "hello")
    html = page(logged_in(user), f"/c/{direct_conversation.pk}/")
    assert re.findall(r'data-seq="(\d+)"', html) == ["1"]
    assert "This is the start of the conversation." in html
    assert page_data(html)["open"]["hasOlder"] is False


def test_conversation_page_is_404_for_a_non_member_and_an_unknown_id(
    outsider, direct_conversation, other_user
):
    send(other_user, direct_conversation, "private")
    client = logged_in(outsider)
    response = client.get(f"/c/{direct_conversation.pk}/")
    assert response.status_code == 404
    assert b"private" not in response.content
    assert client.get("/c/999999/").status_code == 404


def test_conversation_page_requires_login(direct_conversation):
    response = Client().get(f"/c/{direct_conversation.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_message_text_and_names_are_escaped_everywhere(user, direct_conversation):
    other = direct_conversation.memberships.exclude(user=user).get().user
    other.display_name = "<b>bold</b>"
    other.save(update_fields=["display_name"])
    send(other, direct_conversation, XSS)
    client = logged_in(user)

    html = page(client, f"/c/{direct_conversation.pk}/")
    assert XSS not in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    script = re.search(r'<script id="page-data"[^>]*>(.*?)</script>', html, re.S).group(1)
    assert "<" not in script
    assert "\\u003Cimg src=x onerror=alert(1)\\u003E" in script
    data = page_data(html)
    assert data["open"]["messages"][-1]["text"] == XSS
    members = {m["id"]: m["name"] for m in data["conversations"][0]["members"]}
    assert members[str(other.pk)] == "<b>bold</b>"

    inbox = page(client, "/")
    assert XSS not in inbox
    assert "<b>bold</b>" not in inbox
    assert last_message(inbox_rows(inbox)[direct_conversation.pk]) == (
        "&lt;img src=x onerror=alert(1)&gt;"
    )


# New conversation ----------------------------------------------------------------


def test_new_conversation_is_the_chat_page_with_the_people_picker_open(user, other_user):
    """The picker searches people over the API (GET /api/users?search=): the
    page lists nobody itself, however many users there are."""
    html = page(logged_in(user), "/conversations/new/")
    assert page_data(html)["openPicker"] is True
    assert 'id="picker-search"' in html
    assert other_user.username not in html
    assert page_data(page(logged_in(user), "/"))["openPicker"] is False


def test_new_conversation_requires_login(other_user):
    response = Client().post("/conversations/new/", {"users": [other_user.pk]})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)
    assert not Conversation.objects.exists()


# Query counts --------------------------------------------------------------------

# Session, user, conversations, their memberships, last messages (with their
# mentions and reactions), unread mentions, names, online; a conversation's
# page adds its messages' mentions and reactions.
INBOX_MAX_QUERIES = 10
CONVERSATION_PAGE_MAX_QUERIES = 14


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def make_conversations(user, count: int) -> list[Conversation]:
    conversations = []
    for _ in range(count):
        other = UserFactory()
        conversation = ConversationFactory(members=[user, other])
        send(other, conversation, f"hello from {other.username}")
        conversations.append(conversation)
    return conversations


def test_inbox_queries_are_bounded_whatever_the_number_of_conversations(
    user, django_assert_max_num_queries
):
    client = logged_in(user)
    make_conversations(user, 3)
    few = queries_for(client, "/")
    make_conversations(user, 27)

    with django_assert_max_num_queries(INBOX_MAX_QUERIES):
        html = page(client, "/")
    rows = inbox_rows(html)
    assert len(rows) == 30
    assert all(last_message(row).startswith("hello from user") for row in rows.values())
    assert all(unread_count(row) == 1 for row in rows.values())
    assert queries_for(client, "/") == few


def test_conversation_page_queries_are_bounded(
    user, other_user, direct_conversation, django_assert_max_num_queries
):
    client = logged_in(user)
    url = f"/c/{direct_conversation.pk}/"
    send(other_user, direct_conversation, "one")
    few = queries_for(client, url)
    import_messages(
        conversation=direct_conversation,
        senders=[user, other_user],
        texts=(f"bulk {n}" for n in range(100)),
    )
    with django_assert_max_num_queries(CONVERSATION_PAGE_MAX_QUERIES):
        html = page(client, url)
    assert len(re.findall(r'data-seq="(\d+)"', html)) == 50
    assert queries_for(client, url) == few


def test_conversation_page_queries_do_not_grow_with_the_sidebar(
    user, other_user, direct_conversation, django_assert_max_num_queries
):
    """The page renders every conversation of the list beside the open one."""
    client = logged_in(user)
    url = f"/c/{direct_conversation.pk}/"
    send(other_user, direct_conversation, "one")
    make_conversations(user, 2)
    few = queries_for(client, url)
    make_conversations(user, 25)
    with django_assert_max_num_queries(CONVERSATION_PAGE_MAX_QUERIES):
        html = page(client, url)
    assert len(inbox_rows(html)) == 28
    assert len(page_data(html)["conversations"]) == 28
    assert queries_for(client, url) == few
