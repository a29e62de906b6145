"""The synthetic city: people, places, grids, sensors and warehouses, all built from the dictionary.

Every code the generator writes (districts, streets, categories, local codes, levels, sensor and
resource types, departments) comes from the loaded dictionary; nothing here lists them. The pools of
names, roads and estates come from Faker (zh_CN), built once and then sampled with numpy so that a
million rows take seconds.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl
from faker import Faker

from datahub.dictionary import Code, Dictionary

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# Mobile number segments of the three carriers (a subset every number-plan check accepts).
MOBILE_PREFIXES = tuple(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 "  # noqa: SIM905
    "166 176 177 178 180 181 182 183 184 185 186 187 188 189 198 199".split()
)

# Real GB/T 2260 county codes that stdnum accepts for every birth year from 1945 on; the city's own
# district codes are fictional, so residents' ids carry the places they were born in.
ID_REGION_CANDIDATES = tuple(
    "110101 110102 110105 110106 120101 120102 120103 "  # noqa: SIM905
    "120104 120105 120106 310101 310104 310105 310106".split()
)
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.array(list("10X98765432"), dtype=object)

COMPANY_WORDS = "软件|电子|信息|科技|计算机|公司|电脑|数字|国际|网|开发区|通信"
ESTATE_SUFFIXES = ("花园", "小区", "新村", "家园", "苑", "公寓", "名都", "雅居")

# Plausible values that are deliberately NOT in the dictionary (checked at run time), for unknown_code.
UNKNOWN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "district_name": ("高新区", "临港新区", "经开区", "云江新区"),
    "street_name": ("幸福街道", "工业园街道", "滨江新城街道", "开发区管委会"),
    "sensor_type": ("voc", "h2s", "co", "nh3", "radon"),
    "resource_type": ("无人机", "卫星电话", "净水设备", "应急照明灯"),
    "department": ("JT", "GT", "SW", "ZF"),
}
UNMAPPED_WORDS = ("特急", "紧急", "较重", "特别严重", "待定", "其它类")

# Typical level and spread of readings by sensor type, as fractions when the type is not listed here:
# only used to make the values look plausible; the types themselves come from the dictionary.
SENSOR_LEVELS: dict[str, tuple[float, float]] = {
    "pm25": (38.0, 14.0),
    "pm10": (65.0, 22.0),
    "no2": (32.0, 10.0),
    "so2": (9.0, 3.0),
    "o3": (85.0, 30.0),
    "noise": (56.0, 7.0),
    "water_level": (4.2, 0.6),
    "rainfall": (0.4, 1.2),
    "temperature": (21.0, 5.0),
    "humidity": (68.0, 12.0),
    "wind_speed": (2.4, 1.3),
}


def gbk_ok(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def stable_seed(*parts: object) -> list[int]:
    """A numpy seed sequence entropy from any labels (stable across runs, unlike hash())."""
    return [zlib.crc32(str(p).encode("utf-8")) for p in parts]


def id_check_chars(first17: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters for an (n, 17) array of digits."""
    return ID_CHECK[(first17 @ ID_WEIGHTS) % 11]


def id_check_char(first17: str) -> str:
    return str(id_check_chars(np.array([[int(c) for c in first17]]))[0])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n,) non-negative ints -> (n, width) array of their decimal digits."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers) % 10


@dataclass(frozen=True)
class Place:
    district: str  # code
    district_name: str
    street: str  # code
    street_name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Grid:
    code: str
    street_index: int
    officer_id: str
    officer_name: str
    lon: float
    lat: float
    population: int


@dataclass(frozen=True)
class Sensor:
    id: str
    type: str
    unit: str
    district: str
    lon: float
    lat: float
    low: float
    high: float


@dataclass(frozen=True)
class Warehouse:
    id: str
    name: str
    district: str


@dataclass(frozen=True)
class LocalCodes:
    """A department's local codes (a crosswalk) ready for weighted sampling."""

    codes: np.ndarray  # local codes
    unified: np.ndarray  # unified code of each
    names: np.ndarray  # Chinese name of the unified code (for free text)
    weights: np.ndarray


class World:
    def __init__(self, dictionary: Dictionary, seed: int) -> None:
        self.dictionary = dictionary
        self.seed = seed
        self._known_cache: dict[str, set[str]] = {}
        self._unknown_cache: dict[tuple[str, bool], list[str]] = {}
        rng = np.random.default_rng(stable_seed("world", seed))
        fake = Faker("zh_CN")
        fake.seed_instance(seed)

        # ---- people and places (Faker pools, GBK-safe so that every dataset can carry them) ----
        self.surnames = np.array(sorted({s for s in (fake.last_name() for _ in range(4000)) if gbk_ok(s)}))
        self.surname_p = self._zipf(len(self.surnames), rng)
        self.given = np.array(sorted({s for s in (fake.first_name() for _ in range(4000)) if gbk_ok(s)}))
        roads = {re.sub(r"\s", "", fake.street_name()) for _ in range(3000)}
        self.roads = np.array(sorted(r for r in roads if gbk_ok(r) and 2 <= len(r) <= 6))
        prefixes = {
            p
            for p in (fake.company_prefix() for _ in range(600))
            if re.fullmatch(r"[\u4e00-\u9fff]{2,4}", p) and not re.search(COMPANY_WORDS, p)
        }
        self.estates = np.array(
            sorted(
                p + ESTATE_SUFFIXES[zlib.crc32(p.encode()) % len(ESTATE_SUFFIXES)]
                for p in prefixes
                if gbk_ok(p)
            )
        )

        # ---- geography from the district and street code tables ----
        districts = list(dictionary.codes("district").values())
        streets = sorted(dictionary.codes("street").values(), key=lambda c: c.code)
        self.district_codes = [d.code for d in districts]
        self.district_name = {d.code: d.name_zh for d in districts}
        centre = (106.55, 29.56)
        d_centre: dict[str, tuple[float, float]] = {}
        for i, d in enumerate(districts):
            angle = 2 * math.pi * i / max(len(districts), 1) + (zlib.crc32(d.code.encode()) % 100) / 100
            radius = 0.05 + 0.22 * ((zlib.crc32(d.code.encode()) >> 8) % 100) / 100
            d_centre[d.code] = (
                centre[0] + radius * math.cos(angle),
                centre[1] + 0.8 * radius * math.sin(angle),
            )
        self.places: list[Place] = []
        for s in streets:
            dlon, dlat = d_centre.get(s.parent or "", centre)
            h = zlib.crc32(s.code.encode())
            self.places.append(
                Place(
                    district=s.parent or "",
                    district_name=self.district_name.get(s.parent or "", ""),
                    street=s.code,
                    street_name=s.name_zh,
                    lon=dlon + ((h % 1000) / 1000 - 0.5) * 0.06,
                    lat=dlat + (((h >> 10) % 1000) / 1000 - 0.5) * 0.05,
                )
            )
        # Chinese name -> a traditional-character alias the dictionary accepts (for messy-but-valid input).
        self.traditional: dict[str, str] = {}
        for c in [*districts, *streets]:
            alias = self._traditional(c)
            if alias:
                self.traditional[c.name_zh] = alias
        # Busy city streets get more events than rural towns.
        w = rng.gamma(4.0, 1.0, len(self.places))
        self.place_p = w / w.sum()
        self.place_district = np.array([p.district for p in self.places], dtype=object)
        self.place_district_name = np.array([p.district_name for p in self.places], dtype=object)
        self.place_street = np.array([p.street for p in self.places], dtype=object)
        self.place_street_name = np.array([p.street_name for p in self.places], dtype=object)
        self.place_lon = np.array([p.lon for p in self.places])
        self.place_lat = np.array([p.lat for p in self.places])
        # A few roads per street, so that addresses repeat like real ones do.
        self.place_roads = rng.integers(0, len(self.roads), size=(len(self.places), 6))
        # The same pools as polars Series, for fast vectorised string building.
        self._s_surnames = pl.Series(self.surnames.tolist(), dtype=pl.String)
        self._s_given = pl.Series(self.given.tolist(), dtype=pl.String)
        self._s_prefixes = pl.Series(MOBILE_PREFIXES, dtype=pl.String)
        self._s_roads = pl.Series(self.roads.tolist(), dtype=pl.String)
        self._s_estates = pl.Series(self.estates.tolist(), dtype=pl.String)
        self._s_district_name = pl.Series(self.place_district_name.tolist(), dtype=pl.String)
        self._s_street_name = pl.Series(self.place_street_name.tolist(), dtype=pl.String)

        # ---- grids (15-25 per street), each with its grid officer ----
        self.grids: list[Grid] = []
        officer_numbers = rng.choice(np.arange(100000, 1000000), size=len(self.places) * 25, replace=False)
        officer_names = self.names(rng, len(self.places) * 25).tolist()
        k = 0
        for si, p in enumerate(self.places):
            for g in range(1, int(rng.integers(15, 26)) + 1):
                self.grids.append(
                    Grid(
                        code=f"{p.street}-{g:03d}",
                        street_index=si,
                        officer_id=f"WG{officer_numbers[k]:06d}",
                        officer_name=officer_names[k],
                        lon=p.lon + float(rng.normal(0, 0.006)),
                        lat=p.lat + float(rng.normal(0, 0.005)),
                        population=int(rng.integers(600, 6500)),
                    )
                )
                k += 1

        # ---- residents' ids: birth places that stdnum accepts for all birth years used ----
        self.id_regions = np.array([r for r in ID_REGION_CANDIDATES if self._region_ok(r)], dtype=np.int64)

        # ---- crosswalks (local codes) and category -> handling department ----
        self.local: dict[str, LocalCodes] = {}
        cat_names = {
            c.code: c.name_zh
            for t in ("event_category", "response_level")
            if t in dictionary.code_tables
            for c in dictionary.codes(t).values()
        }
        for cw_id, cw in sorted(dictionary.crosswalks.items()):
            codes = np.array(sorted(cw.mapping), dtype=object)
            weights = rng.gamma(1.2, 1.0, len(codes))
            target = dictionary.codes(cw.spec.target)
            minutes = [target[cw.mapping[c]].attributes.get("response_minutes", "") for c in codes]
            if all(m.isdigit() for m in minutes):  # levels: the less urgent, the more frequent
                weights = np.array([float(m) ** 1.5 for m in minutes])
            self.local[cw_id] = LocalCodes(
                codes=codes,
                unified=np.array([cw.mapping[c] for c in codes], dtype=object),
                names=np.array([cat_names.get(cw.mapping[c], str(c)) for c in codes], dtype=object),
                weights=weights / weights.sum(),
            )
        self.departments = sorted(dictionary.codes("department"))
        majors = (
            dictionary.codes("event_major_category")
            if "event_major_category" in dictionary.code_tables
            else {}
        )
        self.category_department: dict[str, str] = {}
        for c in dictionary.codes("event_category").values():
            dep = c.attributes.get("department") or majors.get(
                c.parent or "", Code("", "", "")
            ).attributes.get("department", "")
            self.category_department[c.code] = (
                dep if dep in dictionary.codes("department") else self.departments[0]
            )

        # ---- sensors (40, every type of the sensor_type table) and warehouses (2-3 per district) ----
        types = list(dictionary.codes("sensor_type").values())
        stuck_first = sorted(types, key=lambda t: (not t.code.startswith("pm2"), types.index(t)))
        self.sensors: list[Sensor] = []
        for i in range(40):
            t = stuck_first[i % len(stuck_first)]
            p = self.places[int(rng.choice(len(self.places), p=self.place_p))]
            self.sensors.append(
                Sensor(
                    id=f"SN-{self._sensor_tag(t)}-{i + 1:04d}",
                    type=t.code,
                    unit=t.attributes.get("unit", ""),
                    district=p.district,
                    lon=round(p.lon + float(rng.normal(0, 0.004)), 6),
                    lat=round(p.lat + float(rng.normal(0, 0.004)), 6),
                    low=float(t.attributes.get("min_value") or 0),
                    high=float(t.attributes.get("max_value") or 1000),
                )
            )
        self.warehouses: list[Warehouse] = []
        for d in districts:
            d_streets = [p for p in self.places if p.district == d.code]
            for n in range(1, int(rng.integers(2, 4)) + 1):
                if n == 1 or not d_streets:
                    name = f"{d.name_zh}应急物资储备库" if n == 1 else f"{d.name_zh}第{n}应急物资储备点"
                else:
                    street = d_streets[(n * 7) % len(d_streets)].street_name
                    name = f"{d.name_zh}{re.sub('(街道|镇|乡)$', '', street)}应急物资储备点"
                self.warehouses.append(Warehouse(f"CK-{d.code}-{n:02d}", name, d.code))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _zipf(n: int, rng: np.random.Generator) -> np.ndarray:
        w = 1.0 / np.arange(1, n + 1) ** 0.9
        w = w[rng.permutation(n)]
        return w / w.sum()

    @staticmethod
    def _traditional(code: Code) -> str | None:
        for alias in code.attributes.get("aliases", "").split("|"):
            alias = alias.strip()
            if alias and alias != code.name_zh and alias != code.code and gbk_ok(alias):
                return alias
        return None

    @staticmethod
    def _sensor_tag(t: Code) -> str:
        if "_" in t.code:
            tag = "".join(part[:1] for part in t.code.split("_")).upper()
        else:
            tag = re.sub("[^A-Z]", "", t.code.upper())
        if len(tag) < 2:
            tag = re.sub("[^A-Z]", "", t.name_en.upper())
        return (tag + "XX")[: max(2, min(4, len(tag)))]

    @staticmethod
    def _region_ok(region: str) -> bool:
        from stdnum.cn import ric

        for year in (1945, 1960, 1975, 1990, 2008):
            first = f"{region}{year}0101001"
            try:
                if not ric.is_valid(first + id_check_char(first)):
                    return False
            except Exception:  # stdnum's place database can raise on odd entries
                return False
        return True

    # ------------------------------------------------------------------ vectorised samplers
    def names(self, rng: np.random.Generator, n: int) -> np.ndarray:
        s = rng.choice(len(self.surnames), size=n, p=self.surname_p)
        g = rng.integers(0, len(self.given), size=n)
        return (self._s_surnames.gather(s) + self._s_given.gather(g)).to_numpy()

    def phones(self, rng: np.random.Generator, n: int) -> np.ndarray:
        pre = self._s_prefixes.gather(rng.integers(0, len(MOBILE_PREFIXES), size=n))
        rest = pl.Series(rng.integers(0, 10**8, size=n)).cast(pl.String).str.zfill(8)
        return (pre + rest).to_numpy()

    def resident_ids(self, rng: np.random.Generator, n: int) -> np.ndarray:
        region = self.id_regions[rng.integers(0, len(self.id_regions), size=n)]
        first = np.datetime64("1950-01-01")
        days = rng.integers(0, (np.datetime64("2006-12-31") - first).astype(int), size=n)
        born = first + days.astype("timedelta64[D]")
        month = born.astype("datetime64[M]")
        ymd = (
            (born.astype("datetime64[Y]").astype(np.int64) + 1970) * 10000
            + (month.astype(np.int64) % 12 + 1) * 100
            + (born - month).astype(np.int64)
            + 1
        )
        seq = rng.integers(1, 1000, size=n)
        digits = np.concatenate([_digits(region, 6), _digits(ymd, 8), _digits(seq, 3)], axis=1)
        check = pl.Series(id_check_chars(digits).astype(str))
        out = (
            pl.Series(region).cast(pl.String)
            + pl.Series(ymd).cast(pl.String)
            + pl.Series(seq).cast(pl.String).str.zfill(3)
            + check
        )
        return out.to_numpy()

    def sample_places(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.places), size=n, p=self.place_p)

    def addresses(self, rng: np.random.Generator, places: np.ndarray, with_area: bool = True) -> np.ndarray:
        n = len(places)
        col = pl.col
        frame = pl.DataFrame(
            {
                "area": (self._s_district_name.gather(places) + self._s_street_name.gather(places))
                if with_area
                else pl.Series([""] * n if n else [], dtype=pl.String),
                "road": self._s_roads.gather(self.place_roads[places, rng.integers(0, 6, size=n)].reshape(n)),
                "number": pl.Series(rng.integers(1, 400, size=n)).cast(pl.String),
                "estate": self._s_estates.gather(rng.integers(0, len(self.estates), size=n)),
                "building": pl.Series(rng.integers(1, 30, size=n)).cast(pl.String),
                "unit": pl.Series(rng.integers(1, 6, size=n)).cast(pl.String),
                "room": pl.Series(rng.integers(1, 33, size=n) * 100 + rng.integers(1, 6, size=n)).cast(
                    pl.String
                ),
                "style": rng.integers(0, 3, size=n),
            }
        )
        out = frame.select(
            pl.when(col("style") == 0)
            .then(pl.concat_str(col("area"), col("road"), col("number"), pl.lit("号")))
            .when(col("style") == 1)
            .then(
                pl.concat_str(
                    col("area"),
                    col("road"),
                    col("number"),
                    pl.lit("号"),
                    col("estate"),
                    col("building"),
                    pl.lit("栋"),
                    col("unit"),
                    pl.lit("单元"),
                    col("room"),
                )
            )
            .otherwise(pl.concat_str(col("area"), col("estate"), col("building"), pl.lit("栋")))
        ).to_series()
        return out.to_numpy()

    def points(self, rng: np.random.Generator, places: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon = np.round(self.place_lon[places] + rng.normal(0, 0.008, len(places)), 6)
        lat = np.round(self.place_lat[places] + rng.normal(0, 0.006, len(places)), 6)
        return lon, lat

    def sample_local(self, cw_id: str, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.local[cw_id].codes), size=n, p=self.local[cw_id].weights)

    def sensor_level(self, s: Sensor) -> tuple[float, float]:
        if s.type in SENSOR_LEVELS:
            return SENSOR_LEVELS[s.type]
        span = s.high - s.low
        return s.low + 0.2 * span, 0.04 * span

    # ------------------------------------------------------------------ wrong values for defects
    def unknown_value(self, table: str, by_name: bool, rng: np.random.Generator) -> str:
        """A plausible value that is not a code, name or alias of ``table``."""
        key = (table, by_name)
        if key not in self._unknown_cache:
            known = self._known(table)
            if by_name and table in ("district", "street"):
                candidates = [c for c in UNKNOWN_CANDIDATES[f"{table}_name"] if c not in known]
            else:
                candidates = [c for c in UNKNOWN_CANDIDATES.get(table, ()) if c not in known]
                if not by_name:  # codes in the table's own shape: same stem, unused trailing digits
                    for base in sorted(self.dictionary.codes(table)):
                        m = re.search(r"\d{2}$", base)
                        for tail in (99, 98, 97, 89, 79) if m else ():
                            cand = base[: m.start()] + f"{tail:02d}"  # type: ignore[union-attr]
                            if cand not in known and cand not in candidates:
                                candidates.append(cand)
                                break
            self._unknown_cache[key] = candidates or [f"未知{table}"]
        candidates = self._unknown_cache[key]
        return candidates[int(rng.integers(len(candidates)))]

    def unmapped_value(self, cw_id: str, rng: np.random.Generator) -> str:
        """A local code in the crosswalk's own shape that the crosswalk does not map."""
        cw = self.dictionary.crosswalks[cw_id]
        known = set(cw.mapping) | self._known(cw.spec.target)
        codes = sorted(cw.mapping)
        for _ in range(200):
            base = codes[int(rng.integers(len(codes)))]
            m = re.search(r"\d+$", base)
            if not m:
                break
            width = len(m.group())
            cand = base[: m.start()] + str(int(rng.integers(10 ** (width - 1), 10**width))).zfill(width)
            if cand not in known:
                return cand
        words = [w for w in UNMAPPED_WORDS if w not in known]
        return words[int(rng.integers(len(words)))] if words else "UNMAPPED"

    def _known(self, table: str) -> set[str]:
        if table not in self._known_cache:
            self._known_cache[table] = set(self.dictionary.code_tables[table].lookup())
        return self._known_cache[table]

    @staticmethod
    def bad_phone(rng: np.random.Generator, phone: str | None) -> str:
        phone = phone if phone and len(phone) == 11 else "13800000000"
        kind = int(rng.integers(0, 4))
        if kind == 0:
            return phone[:10]  # 10 digits
        if kind == 1:
            return "12" + phone[2:]  # no such segment
        if kind == 2:
            chars = list(phone)
            for pos in rng.choice(np.arange(3, 11), size=2, replace=False):
                chars[int(pos)] = "OlxZ"[int(rng.integers(4))]
            return "".join(chars)
        return phone + str(int(rng.integers(0, 10)))  # 12 digits

    @staticmethod
    def bad_resident_id(rng: np.random.Generator, rid: str | None) -> str:
        rid = rid if rid and len(rid) == 18 else "110101198001010010"
        kind = int(rng.integers(0, 3))
        if kind == 0:  # wrong check character
            good = id_check_char(rid[:17])
            wrong = [c for c in "0123456789X" if c != good]
            return rid[:17] + wrong[int(rng.integers(len(wrong)))]
        if kind == 1:  # impossible birth date, correct check character
            month_day = ("1301", "0230", "0000", "1232")[int(rng.integers(4))]
            first = rid[:10] + month_day + rid[14:17]
            return first + id_check_char(first)
        return rid[:17]  # 17 characters


def fullwidth(text: str) -> str:
    return text.translate(FULLWIDTH)
