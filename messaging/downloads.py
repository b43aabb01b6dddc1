"""How an attachment's bytes reach a member (docs/api.md "Attachments",
deploy/README.md "Attachments"): never as something the browser could run on
this site's origin. Images are shown inline with their own type; every other
file is a download (`Content-Disposition: attachment`); every answer says
`nosniff` and carries a CSP that runs nothing.

Three ways, by configuration: the file system storage streamed by the app
(`make run`), the same handed to nginx with X-Accel-Redirect
(CHAT_ATTACHMENT_ACCEL_PREFIX), or S3 through a pre-signed URL valid for
CHAT_ATTACHMENT_URL_SECONDS (the bucket's origin, not this one, serves it)."""

from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from messaging.models import Attachment

NO_ACTIVE_CONTENT = "default-src 'none'; img-src 'self'; sandbox"
THUMBNAIL_TYPE = "image/webp"


def disposition(attachment: Attachment, *, thumbnail: bool) -> str:
    inline = thumbnail or attachment.is_image
    return content_disposition_header(not inline, attachment.name)


def guarded(response: HttpResponse, content_type: str, content_disposition: str) -> HttpResponse:
    response["Content-Type"] = content_type
    response["Content-Disposition"] = content_disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = NO_ACTIVE_CONTENT
    response["Cache-Control"] = "private, max-age=3600"
    return response


def attachment_response(attachment: Attachment, *, thumbnail: bool = False) -> HttpResponse:
    """The answer to a download of the attachment (or of its thumbnail),
    whose viewer is already authorized (selectors.attachment_for_viewer)."""
    field = attachment.thumbnail if thumbnail else attachment.file
    content_type = THUMBNAIL_TYPE if thumbnail else attachment.content_type
    content_disposition = disposition(attachment, thumbnail=thumbnail)
    storage = field.storage
    if not isinstance(storage, FileSystemStorage):
        url = storage.url(
            field.name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition,
                "ResponseCacheControl": "private, max-age=60",
            },
            expire=settings.CHAT_ATTACHMENT_URL_SECONDS,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    if settings.CHAT_ATTACHMENT_ACCEL_PREFIX:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.CHAT_ATTACHMENT_ACCEL_PREFIX + quote(field.name)
        return guarded(response, content_type, content_disposition)
    return guarded(FileResponse(field.open("rb")), content_type, content_disposition)
