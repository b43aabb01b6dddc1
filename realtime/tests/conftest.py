"""Fixtures of the socket tests."""

import asyncio
import contextlib

import pytest
from channels.testing import WebsocketCommunicator

from tests.support.sockets import TIMEOUT


@pytest.fixture
async def sockets():
    """Every socket a test opens; the ones still open are closed afterwards."""
    opened: list[WebsocketCommunicator] = []
    yield opened
    for communicator in opened:
        # Closed already by the test or by the server: nothing left to do.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await communicator.disconnect(timeout=TIMEOUT)
