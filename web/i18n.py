"""The UI's words in Vietnamese (default) and English. Keys are stable English identifiers."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("vi", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (Vietnamese, English)
    "app": ("Hội nghị trực tuyến", "Online conference"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "wrong_credentials": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "conferences": ("Hội nghị", "Conferences"),
    "conference": ("Hội nghị", "Conference"),
    "new_conference": ("Tạo hội nghị", "New conference"),
    "title": ("Tiêu đề", "Title"),
    "topic": ("Chuyên đề", "Topic"),
    "mode": ("Hình thức", "Mode"),
    "mode_discussion": ("Thảo luận", "Discussion"),
    "mode_presenter": ("Một báo cáo viên", "One presenter"),
    "mode_broadcast": ("Truyền hình trực tiếp", "Broadcast"),
    "organiser_unit": ("Đơn vị tổ chức", "Organising unit"),
    "create": ("Tạo", "Create"),
    "save": ("Lưu", "Save"),
    "sessions": ("Phiên", "Sessions"),
    "session": ("Phiên", "Session"),
    "new_session": ("Thêm phiên", "Add session"),
    "starts_at": ("Bắt đầu", "Starts"),
    "ends_at": ("Kết thúc", "Ends"),
    "checkin_window": ("Điểm danh", "Check-in"),
    "late_after": ("Tính muộn sau (phút)", "Late after (minutes)"),
    "halls": ("Điểm cầu", "Halls"),
    "hall": ("Điểm cầu", "Hall"),
    "new_hall": ("Thêm điểm cầu", "Add hall"),
    "hall_count": ("{n} điểm cầu · {people} đại biểu", "{n} halls · {people} delegates"),
    "host_unit": ("Đơn vị", "Host unit"),
    "level": ("Cấp", "Level"),
    "role": ("Vai trò", "Role"),
    "role_host": ("Điểm cầu chính", "Host hall"),
    "role_participating": ("Điểm cầu thành phần", "Participating hall"),
    "channel": ("Hình thức kết nối", "Channel"),
    "channel_two_way": ("Hai chiều", "Two-way"),
    "channel_receive_only": ("Chỉ nhận tín hiệu", "Receive only"),
    "channel_broadcast": ("Truyền hình", "TV broadcast"),
    "channel_in_person": ("Trực tiếp", "In person"),
    "chair": ("Chủ trì", "Chair"),
    "technical_contact": ("Cán bộ kỹ thuật", "Technical contact"),
    "expected": ("Triệu tập", "Expected"),
    "status": ("Trạng thái", "Status"),
    "conn_unknown": ("Chưa kết nối", "Not connected"),
    "conn_online": ("Trực tuyến", "Online"),
    "conn_offline": ("Mất kết nối", "Offline"),
    "units": ("Tổ chức đảng", "Units"),
    "people": ("Đảng viên", "Members"),
    "delegates": ("đại biểu", "delegates"),
    "search": ("Tìm kiếm", "Search"),
    "search_hint": ("Tìm theo tên, không cần dấu", "Search by name, accents optional"),
    "full_name": ("Họ và tên", "Full name"),
    "code": ("Mã", "Code"),
    "position": ("Chức vụ", "Position"),
    "member_type": ("Loại", "Type"),
    "member_full": ("Chính thức", "Full member"),
    "member_probationary": ("Dự bị", "Probationary"),
    "member_guest": ("Khách mời", "Guest"),
    "exempt": ("Miễn sinh hoạt", "Exempt"),
    "roster_import": ("Nhập danh sách", "Import roster"),
    "roster_file": ("Tệp danh sách (CSV, XLSX)", "Roster file (CSV, XLSX)"),
    "import": ("Nhập", "Import"),
    "import_done": ("Đã nhập: {ua} đơn vị mới, {uc} đơn vị cập nhật, {pa} đảng viên mới, {pc} đảng viên cập nhật.",
                    "Imported: {ua} new units, {uc} updated units, {pa} new members, {pc} updated members."),
    "import_nothing": ("Không có thay đổi: danh sách đã có sẵn.", "Nothing changed: the roster is already there."),
    "import_refused": ("Tệp bị từ chối, không có gì thay đổi. Các dòng lỗi:",
                       "File refused, nothing changed. Bad rows:"),
    "my_conferences": ("Hội nghị của tôi", "My conferences"),
    "no_conferences": ("Chưa có hội nghị nào.", "No conferences yet."),
    "my_qr": ("Mã QR của tôi", "My QR code"),
    "documents": ("Tài liệu", "Documents"),
    "feedback": ("Ý kiến – Đề xuất", "Feedback"),
    "devices": ("Thiết bị điểm danh", "Check-in kiosks"),
    "enrol_code": ("Tạo mã đăng ký thiết bị", "Create device enrolment code"),
    "enrol_code_is": ("Mã đăng ký (dùng một lần, hết hạn {at}):", "One-time enrolment code (expires {at}):"),
    "revoke": ("Thu hồi", "Revoke"),
    "revoked": ("Đã thu hồi", "Revoked"),
    "active": ("Đang hoạt động", "Active"),
    "error": ("Lỗi", "Error"),
    "error_401": ("Vui lòng đăng nhập.", "Please sign in."),
    "error_403": ("Bạn không có quyền truy cập nội dung này.", "You are not allowed to see this."),
    "error_404": ("Không tìm thấy.", "Not found."),
    "error_409": ("Dữ liệu bị trùng.", "This already exists."),
    "error_422": ("Dữ liệu không hợp lệ.", "Invalid input."),
    "error_csrf": ("Phiên làm việc đã hết hạn, vui lòng thử lại.", "Your session expired, please try again."),
    "back": ("Quay lại", "Back"),
    "previous": ("Trang trước", "Previous"),
    "next": ("Trang sau", "Next"),
    "of_total": ("{shown} / {total}", "{shown} of {total}"),
    "language": ("English", "Tiếng Việt"),
    "role_admin": ("Quản trị", "Administrator"),
    "role_organiser": ("Ban tổ chức", "Organiser"),
    "role_hall_chair": ("Chủ trì điểm cầu", "Hall chair"),
    "role_hall_clerk": ("Thư ký điểm cầu", "Hall clerk"),
    "role_presenter": ("Báo cáo viên", "Presenter"),
    "role_participant": ("Đại biểu", "Delegate"),
    "your_hall": ("Điểm cầu của bạn", "Your hall"),
    "checkin_title": ("Điểm danh", "Check-in"),
    "checkin_action": ("Điểm danh", "Check in"),
    "mark_absent": ("Vắng", "Absent"),
    "absence_reason": ("Lý do vắng", "Reason"),
    "undo": ("Hoàn tác", "Undo"),
    "late": ("Đi muộn", "Late"),
    "headcount": ("Báo cáo số lượng", "Headcount"),
    "status_not_checked_in": ("Chưa điểm danh", "Not checked in"),
    "status_present_in_person": ("Có mặt trực tiếp", "Present in person"),
    "status_present_online": ("Có mặt trực tuyến", "Present online"),
    "status_absent_excused": ("Vắng có lý do", "Absent with reason"),
    "status_absent_unexcused": ("Vắng không lý do", "Absent without reason"),
    # QR credentials and printed badges
    "qr_hint": ("Đưa mã này trước máy quét tại điểm cầu", "Show this code to the scanner at your hall"),
    "qr_private": ("Mã QR không chứa thông tin cá nhân. Nếu mất thẻ, đề nghị ban tổ chức cấp lại; mã cũ sẽ bị thu hồi.",
                   "The QR code holds no personal data. If you lose your card, ask the organisers for a new one; "
                   "the old code is then revoked."),
    "qr_print": ("In mã", "Print"),
    "qr_download": ("Tải ảnh mã QR", "Download the QR image"),
    "badges": ("In thẻ QR", "QR badges"),
    "badges_intro": ("Thẻ QR in sẵn cho đại biểu không dùng điện thoại thông minh: khổ A4, 8 thẻ mỗi trang.",
                     "Printed QR badges for delegates without a smartphone: A4, 8 badges a page."),
    "badges_unit": ("Thẻ cho mọi đảng viên thuộc {unit}", "Badges for every member of {unit}"),
    "badges_title_from": ("Tiêu đề hội nghị in trên thẻ", "Conference title on the badge"),
    "badges_no_title": ("(không in tiêu đề)", "(no title)"),
    "badges_make": ("Tạo tệp PDF", "Make the PDF"),
    "badges_by_hall": ("Thẻ theo điểm cầu (đại biểu được triệu tập)", "Badges by hall (its expected delegates)"),
    "badges_no_halls": ("Không có điểm cầu nào thuộc đơn vị này.", "No halls in this unit."),
    "badges_making": ("Đang tạo thẻ QR", "Making QR badges"),
    "badges_count": ("{done} / {total} thẻ", "{done} of {total} badges"),
    "badges_ready": ("Đã xong.", "Done."),
    "badges_download": ("Tải tệp PDF", "Download the PDF"),
    "badges_failed": ("Không tạo được tệp PDF.", "The PDF could not be made."),
    "badges_kept": ("Tệp được giữ trong 30 phút.", "The file is kept for 30 minutes."),
    "badges_reload": ("Tải lại trang để xem tiến độ.", "Reload the page to see the progress."),
}


def translator(lang: str) -> Callable[..., str]:
    """`t("hall_count", n=12, people="3.450")` in the chosen language; an unknown key shows itself."""
    index = 1 if lang == "en" else 0

    def t(key: str, **params: object) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return text.format(**params) if params else text

    return t

REFUSALS: dict[str, tuple[str, str]] = {
    "malformed": ("Mã không hợp lệ", "Not a valid code"),
    "bad_signature": ("Mã bị sửa đổi hoặc giả mạo", "The code was altered or forged"),
    "unknown_key": ("Mã được ký bằng khóa không còn hiệu lực", "The code was signed with a key no longer accepted"),
    "expired": ("Mã đã hết hạn", "The code has expired"),
    "not_yet_valid": ("Mã chưa có hiệu lực", "The code is not valid yet"),
    "revoked": ("Mã đã bị thu hồi (đã cấp mã mới)", "The code was revoked (a new one was issued)"),
    "wrong_conference": ("Mã dành cho hội nghị khác", "The code is for another conference"),
    "not_expected": ("Không có trong danh sách triệu tập", "Not on the list of expected delegates"),
    "checkin_not_open": ("Chưa đến giờ điểm danh", "Check-in is not open yet"),
    "checkin_closed": ("Đã hết giờ điểm danh", "Check-in has closed"),
    "wrong_hall": ("Đại biểu được triệu tập ở điểm cầu khác", "The delegate is expected at another hall"),
    "unknown_person": ("Không tìm thấy đại biểu", "Delegate not found"),
    "face_not_recognised": ("Không nhận diện được khuôn mặt", "Face not recognised"),
}
GREETINGS: dict[str, tuple[str, str]] = {
    "accepted": ("Xin chào {name}", "Welcome, {name}"),
    "repeat": ("Đã điểm danh lúc {time} tại {hall}", "Already checked in at {time} at {hall}"),
}


def verdict_message(lang: str, outcome: str, reason: str | None, **params: str) -> str:
    """The kiosk's one-line answer for a verdict, in the kiosk's language."""
    index = 1 if lang == "en" else 0
    if outcome == "refused":
        return REFUSALS.get(reason or "", ("Bị từ chối", "Refused"))[index]
    return GREETINGS[outcome][index].format(**params)
