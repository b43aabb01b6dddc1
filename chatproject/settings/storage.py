"""Where attachments are kept (Django's STORAGES, alias "attachments") and how
they are handed out (docs/operations.md "Attachments", deploy/README.md).

By default the file system under var/attachments/ (`make run` needs nothing
else), served by the app itself. With CHAT_ATTACHMENTS_S3_BUCKET an
S3-compatible object store through django-storages, which every process of a
multi-node deployment sees; downloads then go to short-lived pre-signed URLs.
The S3 credentials come from boto3's own environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY) or the instance's role, never from the repository."""

from chatproject.settings.base import STORAGES, VAR_DIR
from chatproject.settings.environment import env_int, env_str

CHAT_ATTACHMENTS_DIR = env_str("CHAT_ATTACHMENTS_DIR", str(VAR_DIR / "attachments"))
CHAT_ATTACHMENTS_S3_BUCKET = env_str("CHAT_ATTACHMENTS_S3_BUCKET")
# How long a pre-signed download URL of the S3 storage stays valid.
CHAT_ATTACHMENT_URL_SECONDS = env_int("CHAT_ATTACHMENT_URL_SECONDS", 60)

if CHAT_ATTACHMENTS_S3_BUCKET:
    ATTACHMENT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": CHAT_ATTACHMENTS_S3_BUCKET,
            "endpoint_url": env_str("CHAT_ATTACHMENTS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("CHAT_ATTACHMENTS_S3_REGION") or None,
            "location": env_str("CHAT_ATTACHMENTS_S3_PREFIX", "attachments"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": CHAT_ATTACHMENT_URL_SECONDS,
            # Signature version 4: botocore would sign a custom endpoint's
            # URLs with version 2, which AWS deprecated and some stores refuse.
            "signature_version": "s3v4",
            "file_overwrite": False,
        },
    }
else:
    ATTACHMENT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": CHAT_ATTACHMENTS_DIR, "base_url": None},
    }
STORAGES = {**STORAGES, "attachments": ATTACHMENT_STORAGE}

# Behind nginx with the file system storage: downloads are handed to nginx
# with X-Accel-Redirect to this internal location (deploy/nginx.conf), so no
# Python worker streams a file. Empty: the app streams them (development).
CHAT_ATTACHMENT_ACCEL_PREFIX = env_str("CHAT_ATTACHMENT_ACCEL_PREFIX")
