"""The demo province's places as data: its districts and their communes (xã, phường, thị trấn), the agencies
of a district, the provincial blocs and their organisations, and the hamlets that hold Party cells."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    kind: str  # huyện, thị xã, thành phố
    name: str
    committee: str  # Huyện ủy, Thị ủy, Thành ủy
    communes: tuple[tuple[str, str], ...]  # (xã / phường / thị trấn, name)
    highland: bool = False

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"


def _xa(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("xã", n) for n in names)


def _phuong(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("phường", n) for n in names)


def _tt(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("thị trấn", n) for n in names)


DISTRICTS: tuple[District, ...] = (
    District("thành phố", "Đông Hà", "Thành ủy",
              _phuong("1", "2", "3", "4", "5", "Đông Giang", "Đông Lễ", "Đông Lương", "Đông Thanh")),
    District("thị xã", "Quảng Trị", "Thị ủy", _phuong("1", "2", "3", "An Đôn") + _xa("Hải Lệ")),
    District("huyện", "Vĩnh Linh", "Huyện ủy",
              _tt("Hồ Xá", "Cửa Tùng") + _xa("Vĩnh Thái", "Vĩnh Tú", "Vĩnh Chấp", "Vĩnh Nam", "Vĩnh Hòa",
                                           "Vĩnh Thủy", "Vĩnh Lâm", "Vĩnh Sơn", "Vĩnh Giang", "Kim Thạch")),
    District("huyện", "Gio Linh", "Huyện ủy",
              _tt("Gio Linh", "Cửa Việt") + _xa("Gio Mỹ", "Gio Hải", "Gio Quang", "Gio An", "Gio Sơn",
                                              "Gio Mai", "Gio Việt", "Linh Trường", "Trung Giang")),
    District("huyện", "Cam Lộ", "Huyện ủy",
              _tt("Cam Lộ") + _xa("Cam Tuyền", "Cam Thành", "Cam Chính", "Cam Nghĩa", "Cam Hiếu", "Cam Thủy")),
    District("huyện", "Triệu Phong", "Huyện ủy",
              _tt("Ái Tử") + _xa("Triệu An", "Triệu Vân", "Triệu Phước", "Triệu Độ", "Triệu Trạch",
                                 "Triệu Thuận", "Triệu Đại", "Triệu Hòa", "Triệu Long", "Triệu Thành",
                                 "Triệu Giang")),
    District("huyện", "Hải Lăng", "Huyện ủy",
              _tt("Diên Sanh") + _xa("Hải An", "Hải Ba", "Hải Quy", "Hải Quế", "Hải Hưng", "Hải Phú",
                                     "Hải Thượng", "Hải Dương", "Hải Định", "Hải Lâm")),
    District("huyện", "Hướng Hóa", "Huyện ủy",
              _tt("Khe Sanh", "Lao Bảo") + _xa("Hướng Lập", "Hướng Việt", "Hướng Phùng", "Hướng Sơn",
                                             "Hướng Tân", "Tân Hợp", "Tân Thành", "Tân Long", "Húc", "Thuận"),
              highland=True),
)

# The agencies of a district (one grassroots organisation per district); the first cell leads.
DISTRICT_OFFICE_CELLS = ("Văn phòng {committee}", "Các ban xây dựng Đảng", "Ủy ban Mặt trận Tổ quốc và các đoàn thể",
                         "Văn phòng HĐND và UBND", "Phòng Giáo dục và Đào tạo", "Phòng Tài chính – Kế hoạch")


@dataclass(frozen=True)
class Grassroots:
    name: str
    cells: tuple[str, ...] = ()  # empty: a "chi bộ cơ sở", whose members belong to it directly
    has_hall: bool = True


@dataclass(frozen=True)
class Bloc:
    name: str
    hall: str
    leaders: tuple[str, ...]
    grassroots: tuple[Grassroots, ...]


BLOCS: tuple[Bloc, ...] = (
    Bloc("Đảng bộ Khối các cơ quan tỉnh", "Điểm cầu Đảng bộ Khối các cơ quan tỉnh",
          ("Bí thư Đảng ủy Khối các cơ quan tỉnh", "Phó Bí thư Thường trực Đảng ủy Khối các cơ quan tỉnh"), (
              Grassroots("Đảng bộ Văn phòng Tỉnh ủy", ("Lãnh đạo Văn phòng", "Phòng Tổng hợp",
                                                         "Phòng Hành chính – Lưu trữ", "Phòng Quản trị – Tài vụ")),
              Grassroots("Đảng bộ Sở Giáo dục và Đào tạo", ("Văn phòng Sở", "Phòng Giáo dục Trung học",
                                                              "Phòng Tổ chức cán bộ")),
              Grassroots("Đảng bộ Sở Y tế", ("Văn phòng Sở", "Phòng Nghiệp vụ Y", "Trung tâm Kiểm soát bệnh tật")),
              Grassroots("Đảng bộ Sở Nông nghiệp và Môi trường", ("Văn phòng Sở", "Chi cục Thủy lợi",
                                                                    "Chi cục Kiểm lâm")),
              Grassroots("Đảng bộ Trường Chính trị Lê Duẩn", ("Khoa Xây dựng Đảng", "Khoa Lý luận cơ sở",
                                                                "Phòng Tổ chức – Hành chính")),
              Grassroots("Đảng bộ Bệnh viện Đa khoa tỉnh", ("Khối Nội", "Khối Ngoại", "Khối Cận lâm sàng",
                                                              "Phòng Hành chính – Quản trị")),
              Grassroots("Chi bộ cơ sở Sở Tài chính"),
              Grassroots("Chi bộ cơ sở Sở Tư pháp"),
              Grassroots("Chi bộ cơ sở Sở Văn hóa, Thể thao và Du lịch"),
              Grassroots("Chi bộ cơ sở Ban Tuyên giáo và Dân vận Tỉnh ủy"),
              Grassroots("Chi bộ cơ sở Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh"),
              Grassroots("Chi bộ cơ sở Báo và Phát thanh, Truyền hình Quảng Trị"),
          )),
    Bloc("Đảng bộ Khối Doanh nghiệp tỉnh", "Điểm cầu Đảng bộ Khối Doanh nghiệp tỉnh",
          ("Bí thư Đảng ủy Khối Doanh nghiệp tỉnh", "Phó Bí thư Thường trực Đảng ủy Khối Doanh nghiệp tỉnh"), (
              Grassroots("Đảng bộ Công ty Điện lực Quảng Trị", ("Văn phòng Công ty", "Điện lực Đông Hà",
                                                                  "Điện lực Vĩnh Linh", "Điện lực Hướng Hóa")),
              Grassroots("Đảng bộ Công ty Cổ phần Nước sạch Quảng Trị", ("Văn phòng Công ty",
                                                                           "Xí nghiệp Nước Đông Hà")),
              Grassroots("Đảng bộ Ngân hàng Nông nghiệp và Phát triển nông thôn Chi nhánh Quảng Trị",
                          ("Văn phòng Chi nhánh", "Chi nhánh Đông Hà")),
              Grassroots("Chi bộ cơ sở Công ty TNHH MTV Lâm nghiệp Đường 9"),
              Grassroots("Chi bộ cơ sở Bưu điện tỉnh Quảng Trị"),
              # small organisations follow the conference at their committee's hall
              Grassroots("Chi bộ cơ sở Công ty Cổ phần Cảng Cửa Việt", has_hall=False),
              Grassroots("Chi bộ cơ sở Công ty TNHH MTV Xổ số kiến thiết Quảng Trị", has_hall=False),
          )),
    Bloc("Đảng bộ Quân sự tỉnh", "Điểm cầu Đảng bộ Quân sự tỉnh",
          ("Bí thư Đảng ủy Quân sự tỉnh", "Phó Bí thư Đảng ủy, Chỉ huy trưởng Bộ Chỉ huy Quân sự tỉnh"), (
              Grassroots("Đảng bộ Cơ quan Bộ Chỉ huy Quân sự tỉnh", ("Phòng Tham mưu", "Phòng Chính trị",
                                                                       "Phòng Hậu cần – Kỹ thuật")),
              Grassroots("Đảng bộ Trung đoàn 842", ("Cơ quan Trung đoàn", "Tiểu đoàn 1", "Tiểu đoàn 2")),
              Grassroots("Đảng bộ Trường Quân sự tỉnh", ("Khoa Quân sự", "Khoa Chính trị")),
              Grassroots("Chi bộ cơ sở Đại đội Trinh sát 21"),
          )),
)

LOWLAND_HAMLETS = (
    "An Xuân", "An Trung", "An Hưng", "Bích La", "Bích Khê", "Đại Hòa", "Phú Hội", "Phú Lễ", "Tân Mỹ",
    "Tân Định", "Hà Thượng", "Hà Trung", "Lâm Xuân", "Mai Xá", "Cát Sơn", "Long Hưng", "Xuân Mỹ", "Hưng Nhơn",
    "Thượng Phước", "Hội Yên", "Vân Hòa", "Phước Mỹ", "Trung Chỉ", "Nhan Biều", "Linh Chiểu", "Ba Du",
    "Duy Phiên", "Thâm Khê", "Hậu Kiên", "Đại Độ", "Kim Long", "Mỹ Chánh", "Văn Quỹ", "Câu Nhi", "Đâu Kênh",
    "Thuận Đầu", "Hội Kỳ", "Phương Lang", "Trà Lộc", "Xuân Lộc", "Tân Hòa", "Cam Vũ", "An Mỹ", "Phổ Lại",
    "Mộc Đức", "Hòa Bình", "Thạch Hãn", "Đông Dương", "Lệ Xuyên", "Phú Kinh", "Hà Lợi", "Diên Khánh",
    "Long Quang", "Đồng Bào", "Phước Lễ", "Thanh Lê", "Xuân Viên", "Tường Vân", "Nại Cửu", "Gia Độ",
    "Hải Chữ", "Lưỡng Kim", "Bến Đá", "Cổ Thành", "Tiên Mỹ", "Quy Thiện", "Mỹ Thủy", "Thâm Triều",
    "Đông Xuyên", "Hòa Lý", "Lâm Lang", "An Thái", "Tân Lương", "Hà Bắc", "Ngô Xá", "Hiền Lương",
    "Tùng Luật", "Di Loan", "Thủy Ba", "Đơn Duệ",
)
HIGHLAND_HAMLETS = (
    "Xa Bai", "Tà Rùng", "Xa Re", "Cu Vơ", "A Xóc", "Ka Tăng", "Húc Thượng", "Hoong", "Trằm", "Ruộng",
    "Xy La", "Ra Ty", "A Ho", "Tà Đủ", "Cha Lỳ", "Pa Tầng", "Ra Man", "Hướng Choa", "Klu", "Vây",
    "Tà Puồng", "Cựp", "Ka Reng", "A Rồng", "Pire", "Bù", "Tà Nua", "Sa Trầm",
)
