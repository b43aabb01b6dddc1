"""Attachments over REST: upload (type from the content, images re-encoded
without metadata, limits), sending them with a message (REST; the socket is in
realtime/tests/test_attachment_frames.py), downloads (members only, headers),
deletion with the message, the purge of unsent uploads, the admin's removal
and query counts (the seeds: integrations/tests/test_compat_attachments.py)."""

import io
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from conversations.models import Conversation
from messaging.models import Attachment, Message
from messaging.services import add_reaction, remove_attachment, send_message, upload_attachment
from messaging.tests.test_query_counts import HISTORY_QUERIES, PAGE_QUERIES
from tests.support.api import assert_error, client_for, post_message
from tests.support.events import frames, listen
from tests.support.factories import ConversationFactory, UserFactory
from tests.support.files import CAMERA_MAKE, GPS_INFO, image_bytes, photo_with_exif, upload
from tests.support.throttling import set_rates

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(autouse=True)
def attachment_directory(settings, tmp_path):
    """A storage directory of this test's own: stored_names sees only its files."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }


def upload_url(conversation) -> str:
    return f"/api/conversations/{conversation.pk}/attachments"


def post_file(client, conversation, name: str, content: bytes, content_type: str = "image/png"):
    return client.post(
        upload_url(conversation), {"file": upload(name, content, content_type)}, format="multipart"
    )


def uploaded(client, conversation, name: str, content: bytes, **kwargs) -> dict:
    response = post_file(client, conversation, name, content, **kwargs)
    assert response.status_code == 201, response.content
    return response.json()


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def stored_names() -> set[str]:
    """Every file in the attachment storage (the test run's directory)."""
    storage = storages["attachments"]
    names, pending = set(), [""]
    while pending:
        folder = pending.pop()
        directories, files = storage.listdir(folder) if storage.exists(folder) else ([], [])
        pending += [f"{folder}/{d}".lstrip("/") for d in directories]
        names |= {f"{folder}/{f}".lstrip("/") for f in files}
    return names


# Upload -------------------------------------------------------------------------------


def test_an_image_is_stored_with_its_size_a_thumbnail_and_the_documented_shape(
    user, direct_conversation
):
    client = client_for(user)
    body = uploaded(client, direct_conversation, "Holiday.png", image_bytes(size=(900, 600)))
    attachment = Attachment.objects.get()
    assert body == {
        "id": str(attachment.pk),
        "name": "Holiday.png",
        "size": attachment.size,
        "contentType": "image/png",
        "width": 900,
        "height": 600,
        "url": f"/api/attachments/{attachment.pk}",
        "thumbnailUrl": f"/api/attachments/{attachment.pk}/thumbnail",
    }
    assert attachment.message is None and attachment.uploader == user
    thumbnail = client.get(body["thumbnailUrl"])
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/webp"
    small = Image.open(io.BytesIO(body_of(thumbnail)))
    assert small.format == "WEBP" and small.size == (400, 267)


def test_the_type_comes_from_the_content_not_the_name_or_the_header(user, direct_conversation):
    client = client_for(user)
    jpeg = uploaded(
        client, direct_conversation, "photo.gif", image_bytes("JPEG"), content_type="text/html"
    )
    assert (jpeg["contentType"], jpeg["name"]) == ("image/jpeg", "photo.gif.jpg")
    pdf = uploaded(
        client, direct_conversation, "report", b"%PDF-1.7\n...", content_type="image/png"
    )
    assert (pdf["contentType"], pdf["thumbnailUrl"], pdf["width"]) == (
        "application/pdf",
        None,
        None,
    )
    text = uploaded(client, direct_conversation, "notes.md", "zażółć\n".encode())
    assert (text["contentType"], text["name"]) == ("text/plain; charset=utf-8", "notes.md")
    binary = uploaded(client, direct_conversation, "blob.dat", bytes(range(256)))
    assert binary["contentType"] == "application/octet-stream"


def test_a_png_that_is_really_html_is_a_text_download(user, direct_conversation):
    client = client_for(user)
    body = uploaded(client, direct_conversation, "cat.png", HTML)
    assert body["contentType"] == "text/plain; charset=utf-8"
    assert body["name"] == "cat.png.txt"
    assert body["thumbnailUrl"] is None
    response = client.get(body["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="cat.png.txt"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert body_of(response) == HTML


def test_a_polyglot_keeps_only_its_image(user, direct_conversation):
    """A valid PNG with HTML after its end (and a GIF comment holding a
    script) is stored as the image alone: the re-encoding writes only pixels."""
    client = client_for(user)
    png = uploaded(client, direct_conversation, "poly.png", image_bytes() + HTML)
    gif = uploaded(
        client,
        direct_conversation,
        "poly.gif",
        image_bytes("GIF", comment=b"<script>alert(1)</script>"),
    )
    for body, image_type in ((png, "image/png"), (gif, "image/gif")):
        assert body["contentType"] == image_type
        response = client.get(body["url"])
        stored = body_of(response)
        assert b"<script" not in stored and b"<html" not in stored
        assert response["Content-Disposition"].startswith("inline;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(stored)).size == (64, 48)


def test_exif_is_removed_and_the_orientation_applied(user, direct_conversation):
    client = client_for(user)
    photo = photo_with_exif(size=(80, 40), orientation=6)  # "rotate 90° clockwise to view"
    assert b"SecretCam" in photo
    body = uploaded(client, direct_conversation, "IMG_0001.JPG", photo)
    stored = body_of(client.get(body["url"]))
    assert b"SecretCam" not in stored and b"Exif" not in stored
    image = Image.open(io.BytesIO(stored))
    assert dict(image.getexif()) == {}
    assert CAMERA_MAKE not in image.getexif() and GPS_INFO not in image.getexif()
    assert image.size == (40, 80) == (body["width"], body["height"])
    assert body["name"] == "IMG_0001.JPG"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("a\x00b\nc<d>.txt", "a_b_c_d_.txt"),
        (".bashrc", "bashrc"),
        ("x" * 300 + ".txt", "x" * 196 + ".txt"),
        ("page.html", "page.html.txt"),
    ],
)
def test_names_are_made_safe(user, direct_conversation, given, kept):
    attachment = upload_attachment(
        uploader=user, conversation_id=direct_conversation.pk, name=given, content=b"text"
    )
    assert attachment.name == kept


def test_over_the_size_limit_is_413_and_stores_nothing(user, direct_conversation, settings):
    settings.CHAT_ATTACHMENT_MAX_BYTES = 1000
    before = stored_names()
    response = post_file(client_for(user), direct_conversation, "big.txt", b"a" * 1001)
    error = assert_error(response, 413, "attachment_too_large")
    assert error["details"] == {"maxBytes": 1000, "size": 1001}
    assert not Attachment.objects.exists()
    assert stored_names() == before


def test_a_declared_body_far_over_the_limit_is_refused_before_it_is_read(
    user, direct_conversation, settings
):
    settings.CHAT_ATTACHMENT_MAX_BYTES = 1000
    response = client_for(user).post(
        upload_url(direct_conversation),
        b"x" * 10,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(1000 + 65 * 1024),
    )
    assert_error(response, 413, "attachment_too_large")


def test_an_image_with_too_many_pixels_is_refused(user, direct_conversation, settings):
    settings.CHAT_ATTACHMENT_MAX_PIXELS = 1000
    response = post_file(
        client_for(user), direct_conversation, "wide.png", image_bytes(size=(64, 48))
    )
    assert_error(response, 400, "validation_error")
    assert not Attachment.objects.exists()


def test_bad_uploads_get_the_envelope(user, direct_conversation):
    client = client_for(user)
    assert_error(client.post(upload_url(direct_conversation), {}, format="multipart"), 400)
    assert_error(post_file(client, direct_conversation, "empty.txt", b""), 400)
    json_body = client.post(upload_url(direct_conversation), {"file": "x"}, format="json")
    assert_error(json_body, 415)


def test_only_members_upload(user, other_user, direct_conversation):
    stranger = UserFactory()
    assert_error(post_file(client_for(stranger), direct_conversation, "a.txt", b"a"), 403)
    missing = Conversation(pk=direct_conversation.pk + 1000)
    assert_error(post_file(client_for(user), missing, "a.txt", b"a"), 404)
    assert_error(post_file(APIClient(), direct_conversation, "a.txt", b"a"), 401)
    assert not Attachment.objects.exists()


def test_uploads_are_throttled_per_user(user, direct_conversation, settings):
    set_rates(settings, {"attachment.upload": "2/min"})
    client = client_for(user)
    for _ in range(2):
        uploaded(client, direct_conversation, "a.txt", b"a")
    assert_error(post_file(client, direct_conversation, "a.txt", b"a"), 429, "throttled")
    assert Attachment.objects.count() == 2


# Sending ------------------------------------------------------------------------------


def test_a_message_with_files_and_no_text_carries_them_in_order(
    user, other_user, direct_conversation, django_capture_on_commit_callbacks
):
    client = client_for(user)
    image = uploaded(client, direct_conversation, "a.png", image_bytes())
    notes = uploaded(client, direct_conversation, "b.txt", b"notes")
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_message(
            client, direct_conversation, user, "", attachments=[notes["id"], image["id"]]
        )
    assert response.status_code == 200, response.content
    sent = response.json()
    assert sent["text"] == ""
    assert sent["attachments"] == [notes, image]
    [frame] = [f for f in frames(channel) if f["type"] == "message.new"]
    assert frame["message"]["attachments"] == [notes, image]
    history = client_for(other_user).get(f"/api/messages/{direct_conversation.pk}").json()
    assert history[-1]["attachments"] == [notes, image]
    since = client_for(other_user).get(
        f"/api/messages/{direct_conversation.pk}?sinceVersion={sent['version'] - 1}"
    )
    assert [m["attachments"] for m in since.json()] == [[notes, image]]
    # The other member may now download them.
    assert client_for(other_user).get(image["url"]).status_code == 200


def test_an_empty_message_without_files_is_still_refused(user, direct_conversation):
    assert_error(post_message(client_for(user), direct_conversation, user, ""), 400)


def test_only_my_unsent_uploads_to_this_conversation_can_be_sent(user, other_user):
    direct = ConversationFactory(members=[user, other_user])
    group = ConversationFactory(members=[user, other_user], kind="group", direct_key=None)
    mine = uploaded(client_for(user), direct, "a.txt", b"a")
    theirs = uploaded(client_for(other_user), direct, "b.txt", b"b")
    elsewhere = uploaded(client_for(user), group, "c.txt", b"c")
    client = client_for(user)
    for ids in ([theirs["id"]], [elsewhere["id"]], [mine["id"], "999999"]):
        error = assert_error(
            post_message(client, direct, user, "x", attachments=ids), 400, "validation_error"
        )
        assert "attachments" in error["details"]["fields"]
    assert Attachment.objects.filter(message__isnull=False).count() == 0
    assert post_message(client, direct, user, "x", attachments=[mine["id"]]).status_code == 200
    again = post_message(client, direct, user, "y", attachments=[mine["id"]])
    assert_error(again, 400, "validation_error")
    assert Message.objects.filter(conversation=direct).count() == 1


def test_at_most_ten_files_a_message(user, direct_conversation):
    client = client_for(user)
    ids = [uploaded(client, direct_conversation, f"{n}.txt", b"n")["id"] for n in range(11)]
    assert_error(post_message(client, direct_conversation, user, "x", attachments=ids), 400)
    sent = post_message(client, direct_conversation, user, "x", attachments=ids[:10])
    assert len(sent.json()["attachments"]) == 10


def test_a_retried_send_returns_the_first_message_with_its_files(user, direct_conversation):
    client = client_for(user)
    file = uploaded(client, direct_conversation, "a.txt", b"a")
    first = post_message(
        client, direct_conversation, user, "x", attachments=[file["id"]], clientMessageId="c1"
    )
    retry = post_message(
        client, direct_conversation, user, "x", attachments=[file["id"]], clientMessageId="c1"
    )
    assert retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["attachments"] == first.json()["attachments"]


# Downloads ----------------------------------------------------------------------------


def test_downloads_only_for_members_and_unsent_only_for_the_uploader(
    user, other_user, direct_conversation
):
    stranger = UserFactory()
    unsent = uploaded(client_for(user), direct_conversation, "draft.txt", b"draft")
    assert client_for(user).get(unsent["url"]).status_code == 200
    assert_error(client_for(other_user).get(unsent["url"]), 404)
    post_message(client_for(user), direct_conversation, user, "", attachments=[unsent["id"]])
    assert body_of(client_for(other_user).get(unsent["url"])) == b"draft"
    assert_error(client_for(stranger).get(unsent["url"]), 404)
    staff = UserFactory(is_staff=True, is_superuser=True)
    assert_error(client_for(staff).get(unsent["url"]), 404)
    assert_error(client_for(user).get("/api/attachments/987654"), 404)
    assert_error(client_for(user).get(f"{unsent['url']}/thumbnail"), 404)


def test_downloads_can_be_handed_to_nginx(user, direct_conversation, settings):
    settings.CHAT_ATTACHMENT_ACCEL_PREFIX = "/_attachments/"
    body = uploaded(client_for(user), direct_conversation, "a b.txt", b"text")
    response = client_for(user).get(body["url"])
    attachment = Attachment.objects.get()
    assert response["X-Accel-Redirect"] == f"/_attachments/{attachment.file.name}"
    assert response.content == b""
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="a b.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"


# Deleting and purging -----------------------------------------------------------------


def test_deleting_the_message_deletes_its_files(
    user, other_user, direct_conversation, django_capture_on_commit_callbacks
):
    client = client_for(user)
    image = uploaded(client, direct_conversation, "a.png", image_bytes())
    sent = post_message(client, direct_conversation, user, "look", attachments=[image["id"]]).json()
    files = stored_names()
    assert len(files) == 2  # the image and its thumbnail
    with django_capture_on_commit_callbacks(execute=True):
        tombstone = client.delete(f"/api/messages/{direct_conversation.pk}/{sent['id']}").json()
    assert tombstone["attachments"] == []
    assert not Attachment.objects.exists()
    assert stored_names() == set()
    assert_error(client_for(other_user).get(image["url"]), 404)


def test_purge_removes_only_old_unsent_uploads(
    user, direct_conversation, django_capture_on_commit_callbacks
):
    client = client_for(user)
    old_unsent = uploaded(client, direct_conversation, "old.png", image_bytes())
    old_sent = uploaded(client, direct_conversation, "sent.txt", b"s")
    new_unsent = uploaded(client, direct_conversation, "new.txt", b"n")
    post_message(client, direct_conversation, user, "", attachments=[old_sent["id"]])
    a_day_ago = timezone.now() - timedelta(hours=25)
    Attachment.objects.filter(pk__in=[old_unsent["id"], old_sent["id"]]).update(
        created_at=a_day_ago
    )
    old_file = Attachment.objects.get(pk=old_unsent["id"]).file.name
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_attachments")
    assert sorted(Attachment.objects.values_list("name", flat=True)) == ["new.txt", "sent.txt"]
    assert old_file not in stored_names()
    assert len(stored_names()) == 2  # sent.txt and new.txt
    assert Attachment.objects.filter(pk=new_unsent["id"], message__isnull=True).exists()


def test_the_admin_removes_a_file_through_the_service(
    user, other_user, direct_conversation, admin_client, django_capture_on_commit_callbacks
):
    client = client_for(user)
    first = uploaded(client, direct_conversation, "a.txt", b"a")
    second = uploaded(client, direct_conversation, "b.txt", b"b")
    sent = post_message(
        client, direct_conversation, user, "", attachments=[first["id"], second["id"]]
    ).json()
    channel = listen(f"conversation.{direct_conversation.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/messaging/attachment/{first['id']}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    [frame] = frames(channel)
    assert frame["type"] == "message.updated"
    assert frame["version"] == sent["version"] + 1
    assert frame["message"]["attachments"] == [second]
    # The last file of a message without text: the message goes with it.
    with django_capture_on_commit_callbacks(execute=True):
        remove_attachment(actor=admin_client.admin_user, attachment=Attachment.objects.get())
    message = Message.objects.get(pk=sent["id"])
    assert message.is_deleted
    assert stored_names() == set()


def test_the_admin_pages_show_attachments(user, direct_conversation, admin_client):
    client = client_for(user)
    file = uploaded(client, direct_conversation, "agenda.txt", b"a")
    sent = post_message(client, direct_conversation, user, "see", attachments=[file["id"]]).json()
    assert "agenda.txt" in admin_client.get("/admin/messaging/attachment/").content.decode()
    page = admin_client.get(f"/admin/messaging/message/{sent['id']}/change/").content.decode()
    assert "agenda.txt" in page


# Queries and the seeds ----------------------------------------------------------------


def send_with_files(sender, conversation, count: int) -> None:
    for n in range(count):
        files = [
            upload_attachment(
                uploader=sender, conversation_id=conversation.pk, name=f"{n}-{k}.txt", content=b"x"
            ).pk
            for k in range(2)
        ]
        send_message(sender=sender, conversation=conversation, text="", attachment_ids=files)


def test_history_and_the_list_take_the_same_queries_with_attachments(
    user, other_user, django_assert_num_queries
):
    client = client_for(user)
    for conversations in (1, 6):
        while Conversation.objects.filter(memberships__user=user).count() < conversations:
            conversation = ConversationFactory(
                members=[user, other_user], kind="group", direct_key=None
            )
            send_with_files(other_user, conversation, 3)
        with django_assert_num_queries(7):
            rows = client.get("/api/conversations").json()
        assert all(len(row["lastMessage"]["attachments"]) == 2 for row in rows)
        with django_assert_num_queries(PAGE_QUERIES + 1):  # the attachments
            page = client.get(f"/api/messages/{conversation.pk}").json()
        assert [len(m["attachments"]) for m in page] == [2, 2, 2]


def test_a_page_prefetches_only_what_its_messages_have(
    user, other_user, direct_conversation, django_assert_num_queries
):
    """One query for the page, one more for each of mentions, reactions and
    files that a message of it has; the others read as none of them."""
    send_message(sender=user, conversation=direct_conversation, text="plain")
    send_with_files(user, direct_conversation, 1)
    mentioning, _ = send_message(
        sender=user, conversation=direct_conversation, text=f"@{other_user.username} hi"
    )
    add_reaction(user=other_user, message=mentioning, emoji="👍")
    client = client_for(other_user)
    url = f"/api/messages/{direct_conversation.pk}"
    with django_assert_num_queries(HISTORY_QUERIES):
        page = client.get(url).json()
    shapes = [(len(m["attachments"]), m["mentions"], len(m["reactions"])) for m in page]
    assert shapes == [(0, [], 0), (2, [], 0), (0, [str(other_user.pk)], 1)]
    with django_assert_num_queries(PAGE_QUERIES):
        assert [m["text"] for m in client.get(f"{url}?limit=1&before=2").json()] == ["plain"]
