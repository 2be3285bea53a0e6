"""The words of QR credentials and printed badges (web/routes/credentials.py, web/routes/badges.py)."""

WORDS: dict[str, tuple[str, str]] = {
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
    "badges_title_from": ("Thẻ dùng cho hội nghị", "The cards are for the conference"),
    "badges_no_title": ("Mọi hội nghị (thẻ dài hạn, không in tiêu đề)", "Any conference (a standing card, no title)"),
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
