"""Face enrolment (opt-in) and the consent it rests on.

Only a template (the 128-d embedding, encrypted) is kept, never a photo. Withdrawing consent
deletes the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from attendance.errors import InvalidRecord


class ConsentChannel(StrEnum):
    PARTICIPANT_PAGE = "participant_page"
    HALL_OPERATOR = "hall_operator"
    PAPER = "paper"


class ConsentPurpose(StrEnum):
    FACE_CHECKIN = "face_checkin"


@dataclass(frozen=True)
class Consent:
    id: int
    person_id: int
    purpose: ConsentPurpose
    text_version: str
    given_at: datetime
    channel: ConsentChannel
    withdrawn_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.text_version:
            raise InvalidRecord("a consent names the text version agreed to", field="text_version")
        if self.withdrawn_at is not None and self.withdrawn_at < self.given_at:
            raise InvalidRecord("a consent cannot be withdrawn before it was given", field="withdrawn_at")

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True)
class FaceTemplate:
    person_id: int
    consent_id: int
    ciphertext: bytes  # the encrypted embedding; the plaintext never reaches the store
    created_at: datetime


@dataclass(frozen=True)
class ConsentText:
    """The words a person agrees to. A changed text is a new version; the old ones stay, for the
    consents given under them."""

    version: str
    title: str
    paragraphs: tuple[str, ...]


CONSENT_TEXTS: dict[str, ConsentText] = {
    "2026.1": ConsentText("2026.1", "Đồng ý sử dụng khuôn mặt để điểm danh", (
        "Mục đích: dữ liệu khuôn mặt chỉ dùng để điểm danh đại biểu tại các điểm cầu hội nghị, "
        "không dùng cho mục đích nào khác.",
        "Dữ liệu được xử lý: từ một ảnh chụp khuôn mặt, hệ thống tạo một mẫu đặc trưng gồm 128 số; ảnh chụp "
        "không được lưu lại. Mẫu đặc trưng được mã hóa và chỉ lưu trên máy chủ của hệ thống, không chuyển "
        "cho bên thứ ba, không dùng dịch vụ nhận diện bên ngoài.",
        "Tự nguyện: việc đăng ký khuôn mặt là không bắt buộc. Đồng chí vẫn điểm danh được bằng mã QR "
        "hoặc do thư ký điểm cầu điểm danh thủ công.",
        "Rút lại đồng ý: đồng chí có thể rút lại sự đồng ý bất cứ lúc nào, trên trang \"Đăng ký khuôn mặt\" "
        "hoặc qua thư ký điểm cầu; mẫu đặc trưng bị xóa ngay khi rút lại.",
        "Thời hạn lưu trữ: mẫu đặc trưng bị xóa khi đồng chí rút lại đồng ý, hoặc khi hết thời hạn lưu trữ "
        "ghi trên phiếu này.",
        "Mọi thao tác với dữ liệu khuôn mặt (đăng ký, nhận diện, xóa) đều được ghi nhật ký, theo quy định "
        "của pháp luật về bảo vệ dữ liệu cá nhân.",
    )),
}
CONSENT_VERSION = "2026.1"  # the text new consents are given under


@dataclass(frozen=True)
class FaceStatus:
    """A person's face enrolment as they and staff see it: their consents (newest first) and whether a
    template is held."""

    person_id: int
    consents: tuple[Consent, ...]
    enrolled_at: datetime | None  # when the template held now was made; None: no template

    @property
    def consent(self) -> Consent | None:
        """The active consent, if any."""
        return next((c for c in self.consents if c.active), None)
