"""A socket is only as valid as its credential (docs/websocket.md): every
credential change closes exactly the sockets it invalidates, with 4401, and
no frame is served once the credential is gone. Also the socket's other
limits: one sync in flight, a cap on sockets per user, deep JSON."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from conversations.services import create_conversation, delete_conversations
from messaging.models import Message
from tests.support.sockets import (
    HOST,
    ORIGIN,
    TIMEOUT,
    assert_closed_with,
    assert_silent,
    barrier,
    connect_raw,
    make_conversation,
    receive_until,
    send_frame,
    stored_texts,
)
from users.models import ApiToken, User
from users.services import issue_token

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Quiet-river-2718"


async def connect(sockets: list, headers: list) -> WebsocketCommunicator:
    communicator, connected = await connect_raw(sockets, headers)
    assert connected
    return communicator


async def token_socket(sockets: list, user) -> tuple[WebsocketCommunicator, ApiToken, str]:
    token, key = await database_sync_to_async(issue_token)(user)
    communicator = await connect(sockets, [(b"authorization", f"Bearer {key}".encode())])
    await barrier(communicator)
    return communicator, token, key


async def browser_socket(sockets: list, user) -> tuple[WebsocketCommunicator, Client]:
    """A signed-in browser (its Client keeps the session cookie) and its socket."""

    def log_in() -> Client:
        browser = Client()
        assert browser.login(username=user.username, password=PASSWORD)
        return browser

    browser = await database_sync_to_async(log_in)()
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={browser.cookies['sessionid'].value}"
    communicator = await connect(sockets, [HOST, ORIGIN, (b"cookie", cookie.encode())])
    await barrier(communicator)
    return communicator, browser


@database_sync_to_async
def person() -> User:
    user = User.objects.create_user(username=f"p{User.objects.count()}", password=PASSWORD)
    return user


async def still_served(communicator: WebsocketCommunicator) -> None:
    await barrier(communicator)


def api_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


# Each change closes exactly the sockets it invalidates -------------------------------


async def test_revoking_a_token_closes_only_the_sockets_opened_with_it(sockets):
    user = await person()
    revoked, token, _ = await token_socket(sockets, user)
    other, _, other_key = await token_socket(sockets, user)
    response = await database_sync_to_async(api_with(other_key).delete)(
        f"/api/auth/tokens/{token.pk}"
    )
    assert response.status_code == 200
    await assert_closed_with(revoked, 4401)
    # The event is internal: the other socket gets no frame for it, and stays open.
    await assert_silent(other)
    await still_served(other)


async def test_rotating_a_token_closes_its_sockets(sockets):
    user = await person()
    communicator, _, key = await token_socket(sockets, user)
    response = await database_sync_to_async(api_with(key).post)("/api/auth/token/rotate")
    assert response.status_code == 200
    await assert_closed_with(communicator, 4401)


async def test_revoking_on_the_tokens_page_closes_its_sockets(sockets):
    user = await person()
    revoked, token, _ = await token_socket(sockets, user)
    _, browser = await browser_socket(sockets, user)
    response = await database_sync_to_async(browser.post)(
        "/accounts/tokens/", {"revoke": str(token.pk)}
    )
    assert response.status_code == 302
    await assert_closed_with(revoked, 4401)


async def test_logout_closes_the_sockets_of_that_session_only(sockets):
    user = await person()
    logged_out, browser = await browser_socket(sockets, user)
    second_tab, _ = await browser_socket(sockets, user)  # another session of the same user
    by_token, _, _ = await token_socket(sockets, user)
    response = await database_sync_to_async(browser.post)("/accounts/logout/")
    assert response.status_code == 302
    await assert_closed_with(logged_out, 4401)
    await still_served(second_tab)
    await still_served(by_token)


async def test_admin_logout_closes_the_sockets_of_that_session(sockets):
    admin = await database_sync_to_async(User.objects.create_superuser)(
        username="root", password=PASSWORD
    )
    communicator, browser = await browser_socket(sockets, admin)
    response = await database_sync_to_async(browser.post)("/admin/logout/")
    assert response.status_code == 302
    await assert_closed_with(communicator, 4401)


async def test_a_password_change_closes_the_other_sessions_sockets(sockets):
    user = await person()
    changed_here, browser = await browser_socket(sockets, user)
    elsewhere, _ = await browser_socket(sockets, user)
    by_token, _, _ = await token_socket(sockets, user)
    new_password = "Another-river-3141"
    response = await database_sync_to_async(browser.post)(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": new_password,
            "new_password2": new_password,
        },
    )
    assert response.status_code == 302, response.content
    await assert_closed_with(elsewhere, 4401)
    # The browser it was changed in stays signed in under a new session key
    # (Django cycles it), so its old socket closes too and a new one opens;
    # tokens keep working.
    await assert_closed_with(changed_here, 4401)
    await still_served(by_token)
    page = await database_sync_to_async(browser.get)("/")
    assert page.status_code == 200
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={browser.cookies['sessionid'].value}"
    reopened = await connect(sockets, [HOST, ORIGIN, (b"cookie", cookie.encode())])
    await still_served(reopened)


async def test_an_admin_setting_a_password_closes_all_the_users_sessions(sockets):
    user = await person()
    session_socket, _ = await browser_socket(sockets, user)
    by_token, _, _ = await token_socket(sockets, user)
    admin = await database_sync_to_async(User.objects.create_superuser)(
        username="root", password=PASSWORD
    )
    admin_socket, admin_browser = await browser_socket(sockets, admin)
    new_password = "Admin-chosen-2718"
    response = await database_sync_to_async(admin_browser.post)(
        f"/admin/users/user/{user.pk}/password/",
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    await assert_closed_with(session_socket, 4401)
    await still_served(by_token)
    await still_served(admin_socket)
    await database_sync_to_async(user.refresh_from_db)()
    assert user.check_password(new_password)


async def test_deactivating_a_user_in_the_admin_closes_all_their_sockets(sockets):
    user = await person()
    session_socket, _ = await browser_socket(sockets, user)
    by_token, _, _ = await token_socket(sockets, user)
    bystander, _, _ = await token_socket(sockets, await person())
    admin = await database_sync_to_async(User.objects.create_superuser)(
        username="root", password=PASSWORD
    )
    _, admin_browser = await browser_socket(sockets, admin)
    response = await database_sync_to_async(admin_browser.post)(
        "/admin/users/user/",
        {"action": "deactivate", "_selected_action": [str(user.pk)]},
    )
    assert response.status_code == 302
    await assert_closed_with(session_socket, 4401)
    await assert_closed_with(by_token, 4401)
    await still_served(bystander)


async def test_deleting_a_user_in_the_admin_closes_all_their_sockets(sockets):
    user = await person()
    by_token, _, _ = await token_socket(sockets, user)
    admin = await database_sync_to_async(User.objects.create_superuser)(
        username="root", password=PASSWORD
    )
    _, admin_browser = await browser_socket(sockets, admin)
    response = await database_sync_to_async(admin_browser.post)(
        "/admin/users/user/",
        {"action": "delete_selected", "_selected_action": [str(user.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    await assert_closed_with(by_token, 4401)
    assert not await database_sync_to_async(User.objects.filter(pk=user.pk).exists)()


# No window between the change and the close -------------------------------------------


@database_sync_to_async
def revoke_behind_the_services_back(token: ApiToken) -> None:
    """A revocation whose event never comes (as if it were lost): the frame
    check alone must refuse the socket."""
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())


async def test_a_send_after_the_token_is_revoked_is_refused_before_the_event(sockets):
    user, other = await person(), await person()
    conversation = await make_conversation(user, other)
    communicator, token, _ = await token_socket(sockets, user)
    await revoke_behind_the_services_back(token)
    await communicator.send_json_to(send_frame(conversation, "after revocation", "c-1"))
    await assert_closed_with(communicator, 4401)
    assert await stored_texts(conversation) == []


@pytest.mark.parametrize(
    "frame",
    [
        lambda cid: {"type": "sync", "conversationId": cid, "sinceVersion": 0},
        lambda cid: {"type": "read", "conversationId": cid, "seq": 1},
        lambda cid: {"type": "typing", "conversationId": cid, "active": True},
    ],
    ids=["sync", "read", "typing"],
)
async def test_any_frame_of_a_logged_out_session_is_refused(sockets, frame):
    user, other = await person(), await person()
    conversation = await make_conversation(user, other)
    await database_sync_to_async(Message.objects.create)(
        conversation=conversation, sender=other, seq=1, version=1, text="secret"
    )
    communicator, _ = await browser_socket(sockets, user)
    await database_sync_to_async(Session.objects.all().delete)()  # expired, or logged out
    await communicator.send_json_to(frame(str(conversation.pk)))
    await assert_closed_with(communicator, 4401)


async def test_a_deactivated_users_token_socket_refuses_frames(sockets):
    user, other = await person(), await person()
    conversation = await make_conversation(user, other)
    communicator, _, _ = await token_socket(sockets, user)
    await database_sync_to_async(User.objects.filter(pk=user.pk).update)(is_active=False)
    await communicator.send_json_to(send_frame(conversation, "while deactivated"))
    await assert_closed_with(communicator, 4401)
    assert await stored_texts(conversation) == []


# One sync in flight; sockets per user; deep JSON ---------------------------------------


@database_sync_to_async
def long_history(conversation, sender, count: int) -> None:
    Message.objects.bulk_create(
        Message(conversation=conversation, sender=sender, seq=n, version=n, text=f"m{n}")
        for n in range(1, count + 1)
    )
    type(conversation).objects.filter(pk=conversation.pk).update(last_seq=count, last_version=count)


async def test_a_second_sync_while_one_is_in_flight_is_refused(sockets):
    user, other = await person(), await person()
    conversation = await make_conversation(user, other)
    await long_history(conversation, other, 1000)
    communicator, _, _ = await token_socket(sockets, user)
    sync = {"type": "sync", "conversationId": str(conversation.pk), "sinceVersion": 0}
    await communicator.send_json_to(sync)
    await communicator.send_json_to(sync)
    done, before = await receive_until(communicator, "sync.done", timeout=10)
    errors = [frame for frame in before if frame["type"] == "error"]
    assert [(e["code"], e["status"], e["frameType"]) for e in errors] == [
        ("sync_in_progress", 409, "sync")
    ]
    versions = [frame["version"] for frame in before if frame["type"] == "message.new"]
    assert versions == list(range(1, 1001))
    assert done["conversationId"] == str(conversation.pk)
    # Once it is done, the next sync is served.
    await communicator.send_json_to({**sync, "sinceVersion": 998})
    _, again = await receive_until(communicator, "sync.done")
    assert [frame["version"] for frame in again] == [999, 1000]


async def test_sockets_per_user_are_capped(sockets, settings):
    settings.CHAT_WS_MAX_SOCKETS = 2
    user = await person()
    first, _, _ = await token_socket(sockets, user)
    await token_socket(sockets, user)
    over, _, _ = await token_socket_unsettled(sockets, user)
    await assert_closed_with(over, 4409)
    # Another user is not affected, and a closed socket frees its place.
    await token_socket(sockets, await person())
    await first.disconnect(timeout=TIMEOUT)
    await token_socket(sockets, user)


async def token_socket_unsettled(sockets: list, user):
    token, key = await database_sync_to_async(issue_token)(user)
    communicator = await connect(sockets, [(b"authorization", f"Bearer {key}".encode())])
    return communicator, token, key


async def test_a_deeply_nested_frame_is_bad_json_and_the_socket_stays_open(sockets):
    user = await person()
    communicator, _, _ = await token_socket(sockets, user)
    await communicator.send_to(text_data="[" * 5000 + "]" * 5000)
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    assert error["type"] == "error" and error["code"] == "bad_json", error
    nested = '{"type": "typing", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    await communicator.send_to(text_data=nested)
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    assert error["code"] == "bad_json", error
    await still_served(communicator)


async def test_a_deleted_conversation_is_told_to_its_members_sockets_and_left(sockets):
    user, other = await person(), await person()
    conversation = await make_conversation(user, other)
    communicator, _, _ = await token_socket(sockets, user)

    await database_sync_to_async(delete_conversations)(conversations=[conversation])
    frame, _ = await receive_until(communicator, "conversation.deleted")
    assert frame == {"type": "conversation.deleted", "conversationId": str(conversation.pk)}
    # Its group is left: a frame for it is refused like any conversation one is not in.
    await communicator.send_json_to(
        {"type": "typing", "conversationId": str(conversation.pk), "active": True}
    )
    error, _ = await receive_until(communicator, "error")
    assert error["status"] == 403, error


async def test_a_conversation_deleted_as_it_is_created_does_not_break_the_socket(sockets):
    user, other = await person(), await person()
    communicator, _, _ = await token_socket(sockets, user)

    @database_sync_to_async
    def create_and_delete() -> int:
        # In one hop of the sync thread: the socket's replay for
        # conversation.new runs after the delete.
        conversation, _ = create_conversation(creator=other, member_ids=[user.pk], title="Gone")
        delete_conversations(conversations=[conversation])
        return conversation.pk

    conversation_id = await create_and_delete()
    created, _ = await receive_until(communicator, "conversation.new")
    assert created["conversation"]["id"] == str(conversation_id)
    deleted, _ = await receive_until(communicator, "conversation.deleted")
    assert deleted["conversationId"] == str(conversation_id)
    await still_served(communicator)


async def saved_in_the_admin(sockets: list, user, *, active: bool):
    """The user's admin change form posted by a superuser (display name
    "Renamed", Active ticked or not); returns the response."""
    admin = await database_sync_to_async(User.objects.create_superuser)(
        username="root", password=PASSWORD
    )
    _, admin_browser = await browser_socket(sockets, admin)
    form = {
        "username": user.username,
        "date_joined_0": "2026-01-02",
        "date_joined_1": "03:04:05",
        "display_name": "Renamed",
    }
    if active:
        form["is_active"] = "on"  # left out: the box is unticked
    return await database_sync_to_async(admin_browser.post)(
        f"/admin/users/user/{user.pk}/change/", form
    )


async def test_unticking_active_on_the_admin_change_form_closes_all_their_sockets(sockets):
    user = await person()
    by_token, _, _ = await token_socket(sockets, user)
    response = await saved_in_the_admin(sockets, user, active=False)
    assert response.status_code == 302, response.content.decode()[:2000]
    await assert_closed_with(by_token, 4401)
    await database_sync_to_async(user.refresh_from_db)()
    assert not user.is_active and user.display_name == "Renamed"


async def test_saving_an_active_user_in_the_admin_closes_nothing(sockets):
    user = await person()
    by_token, _, _ = await token_socket(sockets, user)
    response = await saved_in_the_admin(sockets, user, active=True)
    assert response.status_code == 302, response.content.decode()[:2000]
    await assert_silent(by_token)
    await still_served(by_token)
