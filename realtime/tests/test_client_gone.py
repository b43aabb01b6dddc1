"""A frame sent to a socket its client has just closed ends the socket
quietly (realtime.consumers.client_gone), not as a crash: daphne refuses it
while the socket's websocket.disconnect is still on the way (seen in
tests/integration/test_scale_out.py as a traceback in the server's log)."""

from autobahn.exception import Disconnected

from realtime.consumers import client_gone, infrastructure_failure


def test_daphnes_refusal_of_a_closed_socket_is_the_client_gone():
    refusal = Disconnected("Attempt to send on a closed protocol")
    assert client_gone(refusal)
    assert not infrastructure_failure(refusal)


def test_a_bug_is_not():
    assert not client_gone(ValueError("Attempt to send on a closed protocol"))
    assert not client_gone(RuntimeError())
