"""The "sign out everywhere" button (users.services.sign_out_everywhere) closes the
socket of every session of the user with 4401, the one it was asked in too,
and no frame is served on them after; token sockets and other users' stay."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from realtime.consumers import CLOSE_UNAUTHENTICATED
from tests.support.factories import TEST_PASSWORD
from tests.support.sockets import (
    assert_closed_with,
    barrier,
    browser_headers,
    connect_raw,
    make_user,
    open_socket,
)

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def signed_in_browser(user) -> Client:
    browser = Client()
    assert browser.login(username=user.username, password=TEST_PASSWORD)
    return browser


async def browser_socket(sockets: list, browser: Client):
    communicator, connected = await connect_raw(sockets, browser_headers(browser))
    assert connected
    await barrier(communicator)
    return communicator


async def test_it_closes_the_socket_of_every_session_of_the_user(sockets):
    user, bystander = await make_user(), await make_user()
    here, elsewhere = await signed_in_browser(user), await signed_in_browser(user)
    here_socket = await browser_socket(sockets, here)
    elsewhere_socket = await browser_socket(sockets, elsewhere)
    token_socket = await open_socket(sockets, user)
    bystander_socket = await open_socket(sockets, bystander, auth="session")

    response = await database_sync_to_async(here.post)("/accounts/sign-out-everywhere/")

    assert response.status_code == 302
    await assert_closed_with(here_socket, 4401)
    await assert_closed_with(elsewhere_socket, 4401)
    await barrier(token_socket)  # API tokens are not sessions
    await barrier(bystander_socket)


async def test_the_old_sessions_cannot_open_a_socket_again(sockets):
    user = await make_user()
    here, elsewhere = await signed_in_browser(user), await signed_in_browser(user)
    await database_sync_to_async(here.post)("/accounts/sign-out-everywhere/")
    communicator, _ = await connect_raw(sockets, browser_headers(elsewhere))
    await assert_closed_with(communicator, CLOSE_UNAUTHENTICATED)
