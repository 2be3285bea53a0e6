"""The demo accounts (pure): one per role worth showing, all with the same printable password, and the
banner the demo prints when it is ready."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from conference.accounts import Role
from conference.people import MemberType
from conference.text import fold, thousands
from web.demo.places import DISTRICTS
from web.demo.province import ADMIN_USERNAME, DEMO_PASSWORD, DemoProvince, province


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    label: str  # the role in Vietnamese
    username: str
    password: str
    display_name: str
    sees: str  # what they see, in Vietnamese
    scope_code: str | None  # the unit their scope is rooted at (None: administrator)
    person_code: str | None = None


@dataclass(frozen=True)
class DemoAccounts:
    conference_id: int
    accounts: tuple[DemoAccount, ...]

    def __iter__(self) -> Iterator[DemoAccount]:
        return iter(self.accounts)

    def __len__(self) -> int:
        return len(self.accounts)

    def by_role(self, role: Role) -> list[DemoAccount]:
        return [a for a in self.accounts if a.role is role]

    def by_username(self, username: str) -> DemoAccount:
        return next(a for a in self.accounts if a.username == username)


def _slug(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def account_plan(demo: DemoProvince) -> tuple[DemoAccount, ...]:
    """The demo accounts (pure): one per role worth showing, all with the same printable password."""
    district = demo.unit_names[demo.district_code].removeprefix("Đảng bộ ")
    district_name = district.removeprefix("huyện ").removeprefix("thị xã ").removeprefix("thành phố ")
    hall = demo.hall(demo.hall_unit_code)
    place = demo.unit_names[demo.hall_unit_code].removeprefix("Đảng bộ ")
    place_name = place.removeprefix("xã ").removeprefix("phường ").removeprefix("thị trấn ")
    participant = next(p for p, _ in demo.persons if p.code == demo.participant_code)
    n_members = sum(1 for p, _ in demo.persons if p.member_type is not MemberType.GUEST)
    in_district = sum(1 for h in demo.halls
                      if h.unit_code == demo.district_code or h.unit_code.startswith(demo.district_code + "."))
    committee = next(d.committee for d in DISTRICTS if d.title == district)
    chair_name = hall.chair.split(" – ")[0]
    pw = DEMO_PASSWORD
    return (
        DemoAccount(Role.ADMIN, "Quản trị hệ thống", ADMIN_USERNAME, pw, "Quản trị hệ thống",
                    "Toàn hệ thống: người dùng, thiết bị, đơn vị, nhật ký truy cập", None),
        DemoAccount(Role.ORGANISER, "Ban tổ chức cấp tỉnh", "bantochuc.tinh", pw,
                    "Ban Tuyên giáo và Dân vận Tỉnh ủy",
                    f"Toàn tỉnh: {len(demo.halls)} điểm cầu · {thousands(n_members)} đảng viên",
                    demo.organiser_code),
        DemoAccount(Role.ORGANISER, f"Ban tổ chức {district}", f"bantochuc.{_slug(district_name)}", pw,
                    f"Ban Tuyên giáo và Dân vận {committee} {district_name}",
                    f"Chỉ {district}: {in_district} điểm cầu và đảng viên của đảng bộ", demo.district_code),
        DemoAccount(Role.HALL_CLERK, "Thư ký / cán bộ kỹ thuật điểm cầu", f"thuky.{_slug(place_name)}", pw,
                    hall.technical_contact,
                    f"{hall.name}: quét mã, điểm danh thủ công, báo cáo số lượng, kiểm tra kỹ thuật",
                    demo.hall_unit_code),
        DemoAccount(Role.HALL_CHAIR, "Chủ trì điểm cầu", f"chutri.{_slug(place_name)}", pw, chair_name,
                    f"{hall.name}: tình hình điểm danh và xác nhận kết quả", demo.hall_unit_code),
        DemoAccount(Role.PARTICIPANT, "Đại biểu / đảng viên", "daibieu", pw, participant.full_name,
                    f"Mã QR của tôi, tài liệu hội nghị, gửi ý kiến – đề xuất ({hall.name})",
                    None, demo.participant_code),
    )


def banner(url: str, accounts: DemoAccounts | Sequence[DemoAccount] | None = None, members: int = 70_000,
           seed: int = 2026) -> str:
    """What the demo prints when it is ready: where to go and whom to sign in as.

    Without `accounts` (a demo database seeded earlier), the plan is recomputed for `members` and `seed`.
    """
    plan = list(accounts) if accounts is not None else list(account_plan(province(seed, members)))
    width_label = max(len(a.label) for a in plan)
    width_user = max(len(a.username) for a in plan)
    lines = [f"Hội nghị trực tuyến – bản demo đã sẵn sàng: {url}", "Tài khoản demo:"]
    lines += [f"  {a.label.ljust(width_label)}  {a.username.ljust(width_user)}  mật khẩu: {a.password}  ·  {a.sees}"
              for a in plan]
    return "\n".join(lines)


