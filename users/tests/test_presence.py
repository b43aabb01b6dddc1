from datetime import timedelta

from django.utils import timezone

from tests.support.factories import UserFactory
from users import services
from users.models import SocketConnection


def stale_time():
    return timezone.now() - services.PRESENCE_TIMEOUT - timedelta(seconds=1)


def test_first_socket_makes_online_and_last_close_stamps_last_seen(db):
    user = UserFactory()
    assert services.socket_opened(user, "p!1") is True
    assert services.socket_opened(user, "p!2") is False
    assert services.online_user_ids([user.pk]) == {user.pk}
    assert services.socket_closed(user, "p!1") is None
    last_seen = services.socket_closed(user, "p!2")
    assert last_seen is not None
    user.refresh_from_db()
    assert user.last_seen_at == last_seen
    assert services.online_user_ids([user.pk]) == set()


def test_sockets_of_a_silent_process_do_not_count_as_online(db):
    user = UserFactory()
    SocketConnection.objects.create(
        user=user, channel_name="dead!1", server="gone:1", seen_at=stale_time()
    )
    assert services.online_user_ids([user.pk]) == set()
    assert services.socket_opened(user, "live!1") is True


def test_heartbeat_refreshes_own_sockets_and_reaps_dead_ones(db):
    mine, dead_only, dead_and_alive = UserFactory(), UserFactory(), UserFactory()
    SocketConnection.objects.create(
        user=mine, channel_name="me!1", server="me:1", seen_at=stale_time()
    )
    SocketConnection.objects.create(
        user=dead_only, channel_name="dead!1", server="gone:1", seen_at=stale_time()
    )
    SocketConnection.objects.create(
        user=dead_and_alive, channel_name="dead!2", server="gone:1", seen_at=stale_time()
    )
    SocketConnection.objects.create(user=dead_and_alive, channel_name="other!1", server="other:2")

    went_offline = services.keep_sockets_alive({"me!1"}, server="me:1")

    assert [user_id for user_id, _ in went_offline] == [dead_only.pk]
    assert set(SocketConnection.objects.values_list("channel_name", flat=True)) == {
        "me!1",
        "other!1",
    }
    assert services.online_user_ids([mine.pk, dead_only.pk, dead_and_alive.pk]) == {
        mine.pk,
        dead_and_alive.pk,
    }
    dead_only.refresh_from_db()
    assert dead_only.last_seen_at == went_offline[0][1]


def test_heartbeat_forgets_own_rows_of_sockets_that_are_no_longer_open(db):
    """A socket whose close never reached the database (its consumer was cut
    short) must not keep its user online while its process lives on."""
    leaked, still_here = UserFactory(), UserFactory()
    SocketConnection.objects.create(user=leaked, channel_name="me!gone", server="me:1")
    SocketConnection.objects.create(user=still_here, channel_name="me!open", server="me:1")

    went_offline = services.keep_sockets_alive({"me!open"}, server="me:1")

    assert [user_id for user_id, _ in went_offline] == [leaked.pk]
    assert list(SocketConnection.objects.values_list("channel_name", flat=True)) == ["me!open"]
    assert services.online_user_ids([leaked.pk, still_here.pk]) == {still_here.pk}
