"""Expected outcomes of the attendance services, mapped to responses once in web/."""

from __future__ import annotations


class AttendanceError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DeviceRejected(AttendanceError):
    """A kiosk token that is missing, malformed, unknown or revoked."""

    code = "device_rejected"


class WrongHall(AttendanceError):
    """A valid kiosk token used to act for a hall it is not bound to."""

    code = "wrong_hall"


class EnrolmentRefused(AttendanceError):
    """A one-time enrolment code that is unknown, used or expired."""

    code = "enrolment_refused"


class InvalidRecord(AttendanceError):
    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(AttendanceError):
    code = "not_found"


class NotCalibrated(AttendanceError):
    """1:N face identification asked for before any face calibration was recorded (issue 16)."""

    code = "face_not_calibrated"

    def __init__(self) -> None:
        super().__init__("face identification (1:N) is off until a calibration on the province's own volunteers "
                         "is recorded: run `hoinghi faces calibrate DIR --record --by NAME`. QR check-in and 1:1 "
                         "face verification after a QR scan work meanwhile")
