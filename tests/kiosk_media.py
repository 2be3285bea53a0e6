"""Camera material for kiosk tests: real QR codes drawn into 640×480 pictures, as JPEG frames, as a
YUV4MPEG2 file for Chromium's fake camera, and as a video file for `hoinghi kiosk --video`."""

from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import qrcode
from qrcode.constants import ERROR_CORRECT_M

WIDTH, HEIGHT = 640, 480
Gray = npt.NDArray[np.uint8]


def qr_picture(text: str | None, module: int = 6) -> Gray:
    """A light-grey 640×480 picture with `text` as a QR code in the middle (none for None)."""
    picture = np.full((HEIGHT, WIDTH), 190, np.uint8)
    cv2.putText(picture, "hoinghi kiosk test", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 60, 2)
    if text is None:
        return picture
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=module, border=4)
    code.add_data(text)
    code.make(fit=True)
    image = np.array(code.make_image().convert("L"), dtype=np.uint8)
    height, width = image.shape
    top, left = (HEIGHT - height) // 2, (WIDTH - width) // 2
    picture[top:top + height, left:left + width] = image
    return picture


def jpeg(picture: Gray, quality: int = 80) -> bytes:
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(data.tobytes())


def qr_jpeg(text: str | None) -> bytes:
    return jpeg(qr_picture(text))


def write_y4m(path: Path, pictures: list[Gray], frames_each: int, fps: int = 10) -> Path:
    """A YUV4MPEG2 (4:2:0) file showing each grey picture for `frames_each` frames: Chromium's
    `--use-file-for-fake-video-capture` plays it in a loop."""
    chroma = np.full((HEIGHT // 2) * (WIDTH // 2), 128, np.uint8).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for picture in pictures:
            assert picture.shape == (HEIGHT, WIDTH)
            luma = picture.tobytes()
            for _ in range(frames_each):
                out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def write_video(path: Path, pictures: list[Gray], frames_each: int, fps: int = 10) -> Path:
    """A Motion-JPEG AVI of the pictures, for OpenCV's VideoCapture."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for picture in pictures:
        colour = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
        for _ in range(frames_each):
            writer.write(colour)
    writer.release()
    return path


def credential_id(text: str) -> str:
    """The credential id (hex) a QR text carries: bytes 2 to 10 of its payload."""
    body = text[4:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))[2:10].hex()


def forged(text: str) -> str:
    """The same credential with one signature character changed: a forgery."""
    last = text[-5]
    return text[:-5] + ("A" if last != "A" else "B") + text[-4:]
