"""The words of the accounts administration page (web/routes/administration.py) and the API's
documentation page (/api/docs, web/http/openapi.py)."""

WORDS: dict[str, tuple[str, str]] = {
    "accounts_admin": ("Quản lý tài khoản", "Accounts"),
    "accounts_admin_intro": ("Các tài khoản cán bộ dưới quyền của bạn. Khóa tài khoản hoặc đổi vai trò sẽ đăng xuất "
                             "tài khoản đó ở mọi nơi, đóng cả kết nối trực tiếp và hình ảnh.",
                             "The staff accounts below you. Deactivating an account or changing its role signs "
                             "it out everywhere, its live connections and media included."),
    "account_username": ("Tên đăng nhập", "Username"),
    "account_name": ("Họ tên", "Name"),
    "account_role": ("Vai trò", "Role"),
    "account_scope": ("Đơn vị", "Unit"),
    "account_state": ("Trạng thái", "State"),
    "account_active": ("Đang hoạt động", "Active"),
    "account_inactive": ("Đã khóa", "Deactivated"),
    "account_deactivate": ("Khóa", "Deactivate"),
    "account_activate": ("Mở khóa", "Reactivate"),
    "account_change_role": ("Đổi vai trò", "Change role"),
    "account_none": ("Không có tài khoản nào dưới quyền bạn.", "No accounts below you."),
    "api_docs": ("Tài liệu API", "API documentation"),
}
