from chatproject import health
from tests.support.factories import UserFactory
from users.models import SocketConnection


def test_healthz_needs_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_a_channel_layer_round_trip(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": [{"name": "database", "ok": True}, {"name": "channel layer", "ok": True}],
    }


def test_readyz_is_503_when_the_database_fails(db, client, monkeypatch):
    def refuse():
        raise ConnectionError("connection refused")

    monkeypatch.setattr(health, "probe_database", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == [
        {"name": "database", "ok": False},
        {"name": "channel layer", "ok": True},
    ]
    assert "connection refused" not in response.content.decode()  # on the status page only


def test_status_page_is_for_staff_only(db, client):
    client.force_login(UserFactory())
    response = client.get("/admin/status/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_status_page_shows_layer_checks_sockets_and_warns_on_many_in_memory_processes(db, client):
    user = UserFactory()
    SocketConnection.objects.create(user=user, channel_name="a!1", server="host:100")
    SocketConnection.objects.create(user=user, channel_name="a!2", server="host:100")
    SocketConnection.objects.create(user=user, channel_name="b!1", server="host:200")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/status/").content.decode()
    assert "channels.layers.InMemoryChannelLayer" in page
    assert "host:100</code></td><td>2" in page and "host:200</code></td><td>1" in page
    assert "Open sockets: 3" in page
    assert "sockets are open on 2 processes" in page
    assert "✔ ok" in page


def test_status_page_does_not_warn_for_one_process(db, client):
    SocketConnection.objects.create(user=UserFactory(), channel_name="a!1", server="host:100")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get("/admin/status/").content.decode()
    assert "sockets are open on" not in page
