"""bench/load_chat.py at CI scale: 20 sockets across two daphne processes
(PostgreSQL + Redis), in pairs plus one group of all 20, each sending 20
messages over its socket. Every acknowledged message must be stored once and
delivered once to every member socket, in seq order."""

import asyncio

import pytest

from bench.load_chat import LoadConfig, run_load
from tests.integration.test_multiprocess import server_logs, start_servers
from tests.live_server import postgres_deployment

pytestmark = pytest.mark.redis

SOCKETS = 20
MESSAGES = 20
RATE = 50  # sends per second, all sockets together: 8 s of sending
NO_RATE_LIMITS = {
    "CHAT_RATE_MESSAGE_SEND": "off",
    "CHAT_RATE_AUTH_IP": "off",
    "CHAT_RATE_AUTH_USERNAME": "off",
    "CHAT_RATE_SOCKET_FRAMES": "off",
}


async def test_small_load_is_delivered_exactly_once_in_order(tmp_path, postgres_url, redis_url):
    with postgres_deployment(tmp_path, postgres_url, redis_url) as deployment:
        deployment.env.update(NO_RATE_LIMITS)
        servers = await asyncio.to_thread(start_servers, deployment, 2)
        config = LoadConfig(
            servers=[server.url for server in servers],
            sockets=SOCKETS,
            messages=MESSAGES,
            rate=RATE,
            timeout=20,
        )
        result = await asyncio.wait_for(run_load(config, log=lambda _: None), 50)
        print(result.summary())
        context = f"{result.summary()}\n\nServer logs:\n{server_logs(deployment)}"
        total = SOCKETS * MESSAGES
        assert (result.sent, result.acked, result.errors, result.unacked) == (total, total, 0, 0), (
            context
        )
        assert result.stored == total and result.not_stored == 0, context
        # Pairs: 2 member sockets each; the group: all 20. Half the sends go to each.
        assert result.expected_deliveries == total // 2 * 2 + total // 2 * SOCKETS, context
        assert result.delivered == result.expected_deliveries, context
        assert (result.lost, result.duplicates, result.reorders) == (0, 0, 0), context
        assert result.ok, context
