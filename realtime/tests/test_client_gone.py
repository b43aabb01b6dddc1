"""A frame sent to a socket its client has just closed ends the socket
quietly (realtime.consumers.client_gone), not as a crash: daphne refuses it
while the socket's websocket.disconnect is still on the way (seen in
tests/integration/test_scale_out.py as a traceback in the server's log)."""

from autobahn.exception import Disconnected

from realtime.consumers import ChatConsumer, client_gone, infrastructure_failure


def test_daphnes_refusal_of_a_closed_socket_is_the_client_gone():
    refusal = Disconnected("Attempt to send on a closed protocol")
    assert client_gone(refusal)
    assert not infrastructure_failure(refusal)


def test_a_bug_is_not():
    assert not client_gone(ValueError("Attempt to send on a closed protocol"))
    assert not client_gone(RuntimeError())


async def test_a_frame_answered_after_its_client_closed_is_not_a_failure(caplog):
    """A sync whose pages meet the closed socket (seen at the end of the
    reconnect storm benchmark): no traceback, no error frame."""
    consumer = ChatConsumer()
    consumer.channel_name = "specific.test!gone"
    errors = []

    async def send_error(description, frame=None):
        errors.append(description)

    consumer.send_error = send_error

    async def sync_meeting_a_closed_socket():
        raise Disconnected("Attempt to send on a closed protocol")

    await consumer.answering({"type": "sync"}, sync_meeting_a_closed_socket())
    assert errors == []
    assert "Traceback" not in caplog.text and "failed" not in caplog.text
    assert "closed by its client" in caplog.text
