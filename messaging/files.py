"""What an uploaded file is, decided from its bytes (never from its name or the
client's Content-Type), and what is stored of it: images decoded and encoded
again by Pillow (which leaves EXIF, comments and anything appended behind,
so a polyglot is only an image afterwards) with a thumbnail; other files as
they came, always served as downloads (messaging/downloads.py)."""

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from chatproject.errors import Invalid

# Pillow format -> (content type, extension). Only these are shown inline.
IMAGE_TYPES = {
    "PNG": ("image/png", ".png"),
    "JPEG": ("image/jpeg", ".jpg"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
# Leading bytes -> (content type, extension) of the files kept as they came.
SIGNATURES = [
    (b"%PDF-", ("application/pdf", ".pdf")),
    (b"PK\x03\x04", ("application/zip", ".zip")),
    (b"\x1f\x8b", ("application/gzip", ".gz")),
    (b"OggS", ("audio/ogg", ".ogg")),
    (b"ID3", ("audio/mpeg", ".mp3")),
    (b"\x1a\x45\xdf\xa3", ("video/webm", ".webm")),
]
TEXT = ("text/plain; charset=utf-8", ".txt")
BINARY = ("application/octet-stream", "")
# Names ending so would make a browser or a desktop open the file as a page,
# a script or an image: kept only when the content is that image.
TELLING_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".svgz", ".ico",
    ".html", ".htm", ".xhtml", ".shtml", ".xml", ".js", ".mjs",
}  # fmt: skip
THUMBNAIL_BOX = (400, 400)
# Of a decoded image's `info`, what its pixels need to be drawn the same.
DRAWING_INFO = {"transparency", "duration", "loop", "background", "disposal"}
NAME_MAX = 200
UNSAFE_NAME_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


@dataclass(frozen=True)
class PreparedFile:
    """What to store of an upload: its bytes, type and, for an image, size
    in pixels and a thumbnail (WebP)."""

    content: bytes
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def safe_name(name: str, extension: str) -> str:
    """The uploaded name without a path, control or reserved characters, at
    most NAME_MAX characters; an extension that would claim another type
    (a.png that is HTML) gets the real type's after it (a.png.txt)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSAFE_NAME_CHARACTERS.sub("_", name).strip().lstrip(".") or "file"
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in TELLING_EXTENSIONS and suffix.replace(".jpeg", ".jpg") != extension:
        name += extension or ".bin"
    if len(name) > NAME_MAX:
        stem, dot, ending = name.rpartition(".")
        ending = ending[:20] if dot else ""
        name = (stem if dot else name)[: NAME_MAX - len(ending) - 1] + (f".{ending}" if dot else "")
    return name


def kind_of(content: bytes) -> tuple[str, str]:
    """(content type, extension) of a file that is not an image."""
    for signature, kind in SIGNATURES:
        if content.startswith(signature):
            return kind
    head = content[: 64 * 1024]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            # A multi-byte character cut at the end of the head is still text.
            if error.start < len(head) - 3:
                return BINARY
        return TEXT
    return BINARY


def open_image(content: bytes) -> Image.Image | None:
    """The image the bytes hold, fully decoded, if Pillow knows it as one of
    IMAGE_TYPES; None for anything else. One larger than
    CHAT_ATTACHMENT_MAX_PIXELS is refused before it is decoded."""
    Image.MAX_IMAGE_PIXELS = settings.CHAT_ATTACHMENT_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            if image.format not in IMAGE_TYPES:
                return None
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Invalid(
            {"file": [f"Images have at most {settings.CHAT_ATTACHMENT_MAX_PIXELS} pixels."]}
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return image


def encoded(image: Image.Image, image_format: str) -> bytes:
    """The image encoded again, upright (its EXIF orientation applied) and
    with no metadata: Pillow writes only what it is given, and no `exif`,
    `icc_profile` or comment is. Animated GIF and WebP keep their frames."""
    # Only what drawing needs: comments, EXIF, XMP, ICC profiles and the like
    # (which a GIF or PNG writer would otherwise copy over) stay behind.
    image.info = {key: value for key, value in image.info.items() if key in DRAWING_INFO}
    frames = getattr(image, "n_frames", 1)
    output = io.BytesIO()
    if frames > 1 and image_format in {"GIF", "WEBP"}:
        image.save(output, image_format, save_all=True, duration=image.info.get("duration"))
        return output.getvalue()
    upright = ImageOps.exif_transpose(image)
    if image_format == "JPEG" and upright.mode not in {"RGB", "L"}:
        upright = upright.convert("RGB")
    options = {"quality": 90} if image_format in {"JPEG", "WEBP"} else {}
    upright.save(output, image_format, **options)
    return output.getvalue()


def thumbnail_of(content: bytes) -> tuple[bytes, int, int]:
    """A WebP thumbnail within THUMBNAIL_BOX of the (re-encoded) image, and
    the image's width and height."""
    image = Image.open(io.BytesIO(content))
    width, height = image.size
    small = image.convert("RGBA" if image.mode in {"RGBA", "LA", "P"} else "RGB")
    small.thumbnail(THUMBNAIL_BOX)
    output = io.BytesIO()
    small.save(output, "WEBP", quality=80)
    return output.getvalue(), width, height


def prepare_upload(content: bytes) -> PreparedFile:
    """What to store of the uploaded bytes (see the module's docstring)."""
    image = open_image(content)
    if image is None:
        content_type, extension = kind_of(content)
        return PreparedFile(content=content, content_type=content_type, extension=extension)
    content_type, extension = IMAGE_TYPES[image.format]
    stored = encoded(image, image.format)
    thumbnail, width, height = thumbnail_of(stored)
    return PreparedFile(
        content=stored,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        thumbnail=thumbnail,
    )
