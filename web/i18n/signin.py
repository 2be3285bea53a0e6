"""The words of signing in and of the account's password: the throttle's answer, the password change."""

WORDS: dict[str, tuple[str, str]] = {
    "throttled_sign_in": ("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
                          "Too many failed sign-ins. Please try again in {seconds} seconds."),
    "error_429": ("Bạn đã thử sai quá nhiều lần. Vui lòng thử lại sau ít phút.",
                  "Too many wrong attempts. Please try again in a few minutes."),
    "change_password": ("Đổi mật khẩu", "Change password"),
    "current_password": ("Mật khẩu hiện tại", "Current password"),
    "new_password": ("Mật khẩu mới (ít nhất {n} ký tự)", "New password (at least {n} [[n:character|characters]])"),
    "repeat_password": ("Nhập lại mật khẩu mới", "New password again"),
    "password_changed": ("Đã đổi mật khẩu. Mọi phiên đăng nhập khác của tài khoản đã kết thúc.",
                         "Password changed. Every other session of this account has ended."),
    "wrong_current_password": ("Mật khẩu hiện tại không đúng.", "The current password is wrong."),
    "passwords_differ": ("Hai lần nhập mật khẩu mới không khớp.", "The two new passwords differ."),
    "password_rule": ("Mật khẩu mới cần ít nhất {n} ký tự và khác mật khẩu hiện tại.",
                      "The new password needs at least {n} [[n:character|characters]] and must differ "
                      "from the current one."),
    "throttled_password": ("Nhập sai mật khẩu quá nhiều lần. Vui lòng thử lại sau {seconds} giây.",
                           "Too many wrong passwords. Please try again in {seconds} seconds."),
}
