"""The common words: the application, sign-in, navigation, conferences, sessions, halls, units and
members, the roster import, kiosks' enrolment, error pages, roles and the attendance statuses.

Each key (a stable English identifier) maps to its (Vietnamese, English) texts. A text that counts
says its plural as `[[n:one|other]]` (English "{n} [[n:hall|halls]]"; Vietnamese has no plural):
`plural` picks the form by the count named, the translator and the pages' `fill` (web/static/dom.js)
apply it.
"""

import re

PLURAL = re.compile(r"\[\[(\w+):([^|\]]*)\|([^\]]*)\]\]")


def count_of(value: object) -> int:
    """The count a parameter holds, also when it is already written with thousands marks ("1.000")."""
    if isinstance(value, int):
        return value
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else 0


def plural(text: str, params: dict[str, object]) -> str:
    """Each `[[n:one|other]]` of the text as "one" when `params[n]` counts one, else "other"."""
    def pick(match: re.Match[str]) -> str:
        name, one, other = match.groups()
        if name not in params:
            return match.group(0)
        return one if count_of(params[name]) == 1 else other
    return PLURAL.sub(pick, text)


WORDS: dict[str, tuple[str, str]] = {
    "app": ("Hội nghị trực tuyến", "Online conference"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "wrong_credentials": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "conferences": ("Hội nghị", "Conferences"),
    "conference": ("Hội nghị", "Conference"),
    "new_conference": ("Tạo hội nghị", "New conference"),
    "conf_dates": ("Ngày", "Dates"),
    "conf_today": ("Hôm nay", "Today"),
    "conf_no_sessions": ("Chưa có phiên", "No sessions yet"),
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
    "edit_session": ("Sửa giờ", "Edit times"),
    "checkin_opens": ("Mở điểm danh", "Check-in opens"),
    "checkin_closes": ("Đóng điểm danh", "Check-in closes"),
    "session_saved": ("Đã lưu giờ của phiên: {title}", "Session times saved: {title}"),
    "err_title": ("Cần nhập tiêu đề (tối đa 300 ký tự).", "A title is needed (300 characters at most)."),
    "err_starts_at": ("Giờ bắt đầu không hợp lệ.", "The start time is not valid."),
    "err_ends_at": ("Giờ kết thúc phải sau giờ bắt đầu.", "The session must end after it starts."),
    "err_checkin_opens_at": ("Điểm danh phải mở trước giờ bắt đầu, sớm nhất 12 giờ trước.",
                             "Check-in must open by the start, at most 12 hours before it."),
    "err_checkin_closes_at": ("Điểm danh phải đóng sau giờ bắt đầu và không muộn hơn giờ kết thúc.",
                              "Check-in must close after the start and by the end."),
    "err_late_after_minutes": ("Số phút tính muộn từ 0 đến 1.440.", "Late after: 0 to 1,440 minutes."),
    "halls": ("Điểm cầu", "Halls"),
    "hall": ("Điểm cầu", "Hall"),
    "new_hall": ("Thêm điểm cầu", "Add hall"),
    "hall_filter_text": ("Lọc theo tên điểm cầu, đơn vị", "Filter by hall or unit name"),
    "hall_filter_any_status": ("Mọi trạng thái", "Any status"),
    "hall_filter_any_channel": ("Mọi hình thức", "Any channel"),
    "hall_filter_shown": ("Hiển thị {shown} / {total} điểm cầu", "Showing {shown} of {total} [[total:hall|halls]]"),
    "hall_count": ("{n} điểm cầu · {people} đại biểu", "{n} [[n:hall|halls]] · {people} [[people:delegate|delegates]]"),
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
    "error_503": ("Hệ thống đang tạm gián đoạn, vui lòng thử lại sau ít giây.",
                  "The service is briefly unavailable; please try again in a few seconds."),
    "error_csrf": ("Phiên làm việc đã hết hạn, vui lòng thử lại.", "Your session expired, please try again."),
    "back": ("Quay lại", "Back"),
    "previous": ("Trang trước", "Previous"),
    "next": ("Trang sau", "Next"),
    "of_total": ("{shown} / {total}", "{shown} of {total}"),
    "language": ("English", "Tiếng Việt"),
    "menu": ("☰ Menu", "☰ Menu"),
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
}
