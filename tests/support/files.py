"""Files for the attachment tests, made with Pillow on the spot."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# EXIF tags: 0x010F camera make, 0x0112 orientation, 0x8825 GPS info.
CAMERA_MAKE, ORIENTATION, GPS_INFO = 0x010F, 0x0112, 0x8825


def image_bytes(
    image_format: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "teal", **save
) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, color).save(output, image_format, **save)
    return output.getvalue()


def photo_with_exif(size: tuple[int, int] = (80, 40), orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: camera make, GPS position, orientation."""
    exif = Image.Exif()
    exif[CAMERA_MAKE] = "SecretCam"
    exif[ORIENTATION] = orientation
    exif[GPS_INFO] = {1: "N", 2: (52.0, 13.0, 24.0)}
    return image_bytes("JPEG", size, exif=exif.tobytes())


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)
