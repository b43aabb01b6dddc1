"""bench/fanout.py at CI scale: 20 sockets across two daphne processes
(PostgreSQL + Redis), in 5 pairs and one group of 10, 400 messages at 50
sends/s over the sockets. Every send must be acknowledged and delivered once
to every other member's socket, in seq order."""

import asyncio

import pytest

from bench.fanout import FanoutConfig, run_fanout
from bench.run import BENCH_RATE_LIMITS
from tests.support.live_server import postgres_deployment
from tests.support.servers import server_logs, start_servers

pytestmark = pytest.mark.redis

RATE = 50  # sends per second, all sockets together
SECONDS = 8


async def test_small_load_is_delivered_exactly_once_in_order(tmp_path, postgres_url, redis_url):
    with postgres_deployment(tmp_path, postgres_url, redis_url) as deployment:
        deployment.env.update(BENCH_RATE_LIMITS)
        servers = await asyncio.to_thread(start_servers, deployment, 2)
        config = FanoutConfig(
            servers=[server.url for server in servers],
            pairs=5,
            groups=1,
            group_size=10,
            rate=RATE,
            duration=SECONDS,
            timeout=20,
        )
        (result,) = await asyncio.wait_for(run_fanout(config, log=lambda _: None), 90)
        context = f"{result.line()}\n\nServer logs:\n{server_logs(deployment)}"
        total = RATE * SECONDS
        assert (result.sent, result.acked, result.errors) == (total, total, 0), context
        assert result.expected > total, context  # a group send reaches 9 others
        assert result.delivered == result.expected, context
        assert (result.lost, result.duplicates, result.reorders) == (0, 0, 0), context
        assert result.ok, context
