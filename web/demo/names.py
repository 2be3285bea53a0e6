"""Vietnamese full names for the demo province: weighted surnames, middle names by gender, given names."""

from __future__ import annotations

import random
from collections.abc import Sequence

SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.1), ("Phan", 4.5),
    ("Võ", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0),
    ("Lý", 0.5), ("Trương", 1.0), ("Lương", 0.6), ("Đinh", 0.6), ("Mai", 0.5), ("Thái", 0.4), ("Cao", 0.4),
    ("Hà", 0.4), ("Đoàn", 0.5), ("Lâm", 0.3), ("Tôn Thất", 0.1),
)
MALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Văn", 40.0), ("Hữu", 8.0), ("Đức", 8.0), ("Minh", 7.0), ("Quang", 6.0), ("Công", 5.0), ("Xuân", 5.0),
    ("Đình", 5.0), ("Ngọc", 4.0), ("Thanh", 4.0), ("Anh", 3.0), ("Tiến", 3.0), ("Trọng", 3.0), ("Viết", 3.0),
)
FEMALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Thị", 48.0), ("Thị Thu", 5.0), ("Thị Kim", 4.0), ("Thị Minh", 3.0), ("Thị Hồng", 3.0),
    ("Thị Thanh", 3.0), ("Ngọc", 6.0), ("Thu", 6.0), ("Thanh", 5.0), ("Minh", 4.0), ("Hồng", 4.0),
    ("Kim", 4.0), ("Thùy", 4.0), ("Diệu", 2.0), ("Bích", 2.0), ("Mỹ", 3.0),
)
MALE_GIVEN = (
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Dương", "Đạt", "Đông", "Đức", "Giang", "Hải", "Hiếu",
    "Hoàng", "Hùng", "Huy", "Hưng", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Lợi", "Minh", "Nam",
    "Nghĩa", "Nhân", "Phong", "Phúc", "Quang", "Quân", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh",
    "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hòa", "Lực", "Thuận", "Chiến", "Hậu",
)
FEMALE_GIVEN = (
    "An", "Anh", "Bích", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng",
    "Huệ", "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh",
    "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu", "Thủy", "Trang", "Trinh", "Tuyết", "Vân", "Yến",
)
FEMALE_SHARE = 0.38


def _cumulative(pairs: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    names, total, cum = [], 0.0, []
    for name, weight in pairs:
        names.append(name)
        total += weight
        cum.append(total)
    return names, cum


class Names:
    """Vietnamese full names: weighted surnames, middle names by gender, given names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = _cumulative(SURNAMES)
        highland = [(n, w * 12 if n == "Hồ" else w) for n, w in SURNAMES]  # Vân Kiều, Pa Kô families
        self.highland_surnames = _cumulative(highland)
        self.male = _cumulative(MALE_MIDDLE)
        self.female = _cumulative(FEMALE_MIDDLE)

    def __call__(self, highland: bool = False) -> str:
        rng = self.rng
        pop, cum = self.highland_surnames if highland else self.surnames
        surname = rng.choices(pop, cum_weights=cum)[0]
        if rng.random() < FEMALE_SHARE:
            mid_pop, mid_cum = self.female
            given = rng.choice(FEMALE_GIVEN)
        else:
            mid_pop, mid_cum = self.male
            given = rng.choice(MALE_GIVEN)
        middle = rng.choices(mid_pop, cum_weights=mid_cum)[0]
        return f"{surname} {middle} {given}"


# -- the pure result ----------------------------------------------------------------------------------
