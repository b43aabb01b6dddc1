"""Attachments on S3-compatible object storage (the multi-node setup,
deploy/README.md "Attachments"), against moto's S3 server started here on
loopback: the "attachments" storage is configured by
chatproject/settings/storage.py itself from the CHAT_ATTACHMENTS_S3_* variables,
then driven through the REST API. Uploads become objects in the bucket; a
member's download is a 302 to a short-lived pre-signed URL on the bucket's
endpoint, which serves the bytes with the type and disposition the app chose
(images inline, other files as downloads); a non-member gets 404; deleting the
message, and purging an upload never sent, removes the objects.

moto is a Python package of requirements-dev.txt, so nothing here is skipped.
"""

import io
import os
import runpy
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone
from moto.server import ThreadedMotoServer
from PIL import Image
from storages.backends.s3 import S3Storage

from messaging.models import Attachment
from tests.support.api import client_for, post_message
from tests.support.files import image_bytes, upload

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PREFIX = "chat-files"
URL_SECONDS = 45  # not the default (60), so that the URL's expiry shows it is the setting's
TEXT = b"Quarterly numbers\nline two: <b>not markup</b>\n"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the module's tests
    (each test has a bucket of its own)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_environment(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        **FAKE_CREDENTIALS,
        "CHAT_ATTACHMENTS_S3_BUCKET": bucket,
        "CHAT_ATTACHMENTS_S3_ENDPOINT_URL": endpoint,
        "CHAT_ATTACHMENTS_S3_REGION": REGION,
        "CHAT_ATTACHMENTS_S3_PREFIX": PREFIX,
        "CHAT_ATTACHMENT_URL_SECONDS": str(URL_SECONDS),
    }


@dataclass
class Bucket:
    endpoint: str
    name: str
    client: object  # boto3's S3 client

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch) -> Bucket:
    """A new bucket on moto's server, and the "attachments" storage pointed at
    it: STORAGES as chatproject/settings/storage.py builds it from the
    environment. The `settings` fixture's change makes Django forget its
    cached storages, and the model's lazy attachment storage with them, and
    does so again when it puts STORAGES back;
    test_a_process_configured_for_s3_stores_attachments_in_the_bucket checks
    that a process started with these variables has it from the start."""
    name = f"chat-{uuid.uuid4().hex[:12]}"
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in s3_environment(s3_endpoint, name).items():
        monkeypatch.setenv(variable, value)
    configured = runpy.run_path(str(ROOT / "chatproject" / "settings" / "storage.py"))
    settings.STORAGES = {**settings.STORAGES, "attachments": configured["ATTACHMENT_STORAGE"]}
    settings.CHAT_ATTACHMENTS_S3_BUCKET = configured["CHAT_ATTACHMENTS_S3_BUCKET"]
    settings.CHAT_ATTACHMENT_URL_SECONDS = configured["CHAT_ATTACHMENT_URL_SECONDS"]
    settings.CHAT_ATTACHMENT_ACCEL_PREFIX = ""
    assert isinstance(storages["attachments"], S3Storage), storages["attachments"]
    for field in ("file", "thumbnail"):
        assert isinstance(Attachment._meta.get_field(field).storage, S3Storage)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    client.create_bucket(Bucket=name)
    return Bucket(endpoint=s3_endpoint, name=name, client=client)


def fetch(url: str) -> tuple[int, Message, bytes]:
    """GET `url` directly (no proxy from the environment), as a browser
    following the redirect would. Header names are case-insensitive."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def upload_file(client, conversation, name: str, content: bytes) -> dict:
    response = client.post(
        f"/api/conversations/{conversation.pk}/attachments",
        {"file": upload(name, content)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def send_with(client, conversation, sender, attachments: list[dict]) -> dict:
    ids = [attachment["id"] for attachment in attachments]
    response = post_message(client, conversation, sender, "", attachments=ids)
    assert response.status_code == 200, response.content
    return response.json()


def stored_keys(*attachment_ids: str) -> list[str]:
    """The bucket keys of the attachments' files and thumbnails."""
    keys = []
    for attachment in Attachment.objects.filter(pk__in=attachment_ids):
        keys += [f"{PREFIX}/{field.name}" for field in (attachment.file, attachment.thumbnail)]
    return sorted(key for key in keys if not key.endswith("/"))


def presigned_target(response, bucket: Bucket) -> str:
    """The pre-signed URL a download redirects to, checked to be on the
    bucket's endpoint, signed (version 4) and valid for CHAT_ATTACHMENT_URL_SECONDS."""
    assert response.status_code == 302, (response.status_code, response.content[:300])
    assert response["Cache-Control"] == "private, no-store"
    url = response["Location"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == bucket.endpoint, url
    assert parts.path.startswith(f"/{bucket.name}/{PREFIX}/"), url
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"], url  # signature version 4
    assert query["X-Amz-Expires"] == [str(URL_SECONDS)], url
    assert query["X-Amz-Signature"][0], url
    return url


def test_uploads_are_objects_and_members_download_them_by_presigned_urls(
    bucket, user, other_user, outsider, direct_conversation
):
    uploader, member, stranger = client_for(user), client_for(other_user), client_for(outsider)
    png = image_bytes("PNG", (640, 480))
    image = upload_file(uploader, direct_conversation, "holiday.png", png)
    text = upload_file(uploader, direct_conversation, "numbers.txt", TEXT)
    assert image["thumbnailUrl"] and text["thumbnailUrl"] is None

    keys = stored_keys(image["id"], text["id"])
    assert len(keys) == 3  # the image, its thumbnail, the text file
    assert bucket.keys() == keys
    assert all(key.startswith(f"{PREFIX}/{direct_conversation.pk}/") for key in keys)
    text_key = f"{PREFIX}/{Attachment.objects.get(pk=text['id']).file.name}"
    assert bucket.read(text_key) == TEXT

    # Unsent, an upload is its uploader's alone.
    assert member.get(text["url"]).status_code == 404
    assert uploader.get(text["url"]).status_code == 302

    message = send_with(uploader, direct_conversation, user, [image, text])
    assert [a["id"] for a in message["attachments"]] == [image["id"], text["id"]]

    status, headers, body = fetch(presigned_target(member.get(text["url"]), bucket))
    assert status == 200
    assert body == TEXT
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="numbers.txt"'
    assert headers["Cache-Control"] == "private, max-age=60"

    status, headers, body = fetch(presigned_target(member.get(image["url"]), bucket))
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"] == 'inline; filename="holiday.png"'
    assert Image.open(io.BytesIO(body)).size == (640, 480)
    assert body == bucket.read(f"{PREFIX}/{Attachment.objects.get(pk=image['id']).file.name}")

    status, headers, body = fetch(presigned_target(member.get(image["thumbnailUrl"]), bucket))
    assert status == 200
    assert headers["Content-Type"] == "image/webp"
    assert headers["Content-Disposition"].startswith("inline;")
    thumbnail = Image.open(io.BytesIO(body))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (400, 300))

    for url in (image["url"], image["thumbnailUrl"], text["url"]):
        response = stranger.get(url)
        assert response.status_code == 404, (url, response.status_code)
        assert "Location" not in response


def test_deleting_the_message_removes_its_objects(
    bucket, user, direct_conversation, django_capture_on_commit_callbacks
):
    client = client_for(user)
    image = upload_file(client, direct_conversation, "a.png", image_bytes())
    text = upload_file(client, direct_conversation, "b.txt", TEXT)
    kept = upload_file(client, direct_conversation, "c.txt", b"another message's file\n")
    message = send_with(client, direct_conversation, user, [image, text])
    send_with(client, direct_conversation, user, [kept])
    kept_keys = stored_keys(kept["id"])
    assert len(bucket.keys()) == 4

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/messages/{direct_conversation.pk}/{message['id']}")
    assert response.status_code in (200, 204), response.content
    assert bucket.keys() == kept_keys
    assert client.get(image["url"]).status_code == 404


def test_purge_removes_the_objects_of_uploads_never_sent(
    bucket, user, direct_conversation, django_capture_on_commit_callbacks
):
    client = client_for(user)
    stale = upload_file(client, direct_conversation, "old.png", image_bytes())
    recent = upload_file(client, direct_conversation, "new.txt", TEXT)
    Attachment.objects.filter(pk=stale["id"]).update(created_at=timezone.now() - timedelta(days=2))
    recent_keys = stored_keys(recent["id"])
    assert len(bucket.keys()) == 3

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_attachments", stdout=io.StringIO())
    assert bucket.keys() == recent_keys
    assert not Attachment.objects.filter(pk=stale["id"]).exists()
    assert client.get(recent["url"]).status_code == 302


def image_sources(client) -> str:
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    return next(part for part in policy.split("; ") if part.startswith("img-src "))


def test_pages_allow_images_from_this_site_only_with_files_on_disk(client, db):
    assert image_sources(client) == "img-src 'self' data:"


def test_pages_allow_images_from_the_bucket_where_the_image_urls_redirect(client, bucket):
    """A thumbnail's URL on this site redirects to the bucket, and a browser
    checks the page's img-src against where the redirect lands too: without
    the bucket's origin there no image would show."""
    assert image_sources(client) == f"img-src 'self' data: {bucket.endpoint}"


def test_a_process_configured_for_s3_stores_attachments_in_the_bucket(s3_endpoint):
    """The production settings, started with the CHAT_ATTACHMENTS_S3_*
    variables, give the Attachment model's fields the S3 storage on that
    endpoint (the other tests swap the storage in after import)."""
    script = (
        "import django; django.setup()\n"
        "from messaging.models import Attachment\n"
        "for name in ('file', 'thumbnail'):\n"
        "    storage = Attachment._meta.get_field(name).storage\n"
        "    print(storage.__class__.__name__, storage.bucket_name, storage.endpoint_url,"
        " storage.location, storage.querystring_expire)\n"
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CHAT_ATTACHMENT", "AWS_"))},
        **s3_environment(s3_endpoint, "production-bucket"),
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = f"S3Storage production-bucket {s3_endpoint} {PREFIX} {URL_SECONDS}"
    assert result.stdout.splitlines() == [line, line], result.stdout
