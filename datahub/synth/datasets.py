"""Row builders, one per department dataset: realistic clean rows in each department's own shape.

Each builder returns a :class:`Table` of *delivered* values (already formatted the way that
department's system writes them) keyed by the unified column names of the contract. Defects are
injected afterwards by :mod:`datahub.synth.defects`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from datahub.contracts import Dataset
from datahub.synth.defects import Table
from datahub.synth.world import World

LINK_SHARE = 0.286  # share of app reports that are the same event as a hotline call
RELATED_SHARE = 0.4  # share of those linked reports that name the hotline order themselves
REPEAT_SHARE = 0.12  # hotline calls by someone who already called about the same thing

APP_SOURCES = ("gov_app", "wechat")

# Calls and reports by hour of day (relative).
HOURS_CITIZEN = np.array(
    [2, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 10, 11, 14, 14, 13, 11, 10, 11, 11, 9, 6, 4], dtype=float
)
HOURS_PATROL = np.array(
    [0, 0, 0, 0, 0, 0, 2, 8, 14, 16, 15, 10, 6, 10, 14, 14, 12, 8, 3, 1, 0, 0, 0, 0], dtype=float
)
HOURS_POLICE = np.array(
    [6, 5, 4, 3, 2, 2, 3, 5, 7, 8, 8, 8, 8, 8, 8, 8, 9, 10, 11, 12, 12, 11, 9, 7], dtype=float
)

DETAILS = (
    "已持续一周左右",
    "每天晚上十点以后尤其严重",
    "影响周边居民正常生活",
    "多次反映未得到解决",
    "存在安全隐患",
    "老人小孩出行不便",
    "气味很大",
    "已经拍照留存",
    "物业表示不归其管理",
    "周末情况更加突出",
    "附近商户也有意见",
    "下雨天更加明显",
)
ASKS = (
    "请相关部门尽快核实处理",
    "希望尽快解决",
    "请求派人到现场查看",
    "要求处理后回复",
    "希望加强日常管理",
    "请尽快协调解决",
)
APP_ASKS = ("请尽快处理，谢谢", "麻烦管一管", "希望早日解决", "已附现场照片", "盼回复")
PATROL_FINDINGS = ("现场照片已上传", "已告知相关责任人", "需专业部门处置", "影响市容", "已设置临时警示")
POLICE_NOTES = (
    "民警到场后已做先期处置",
    "经现场核实情况属实",
    "不属于公安机关管辖",
    "当事人情绪稳定",
    "需相关职能部门跟进",
)


@dataclass(frozen=True)
class Linked:
    """The hotline calls of one delivery that the same citizens also report through the app."""

    day: np.ndarray  # day index within the file
    work_order_id: np.ndarray
    report: np.ndarray  # datetime64[s]
    name: np.ndarray
    phone: np.ndarray
    place: np.ndarray  # index into World.places
    address: np.ndarray
    unified: np.ndarray  # unified event category


def app_per_day(rows_per_day: int) -> int:
    return max(1, round(0.35 * rows_per_day))


def links_per_day(rows_per_day: int) -> int:
    return round(LINK_SHARE * app_per_day(rows_per_day))


def _times(rng: np.random.Generator, day: dt.date, n: int, hours: np.ndarray) -> np.ndarray:
    h = rng.choice(24, size=n, p=hours / hours.sum())
    secs = np.sort(h * 3600 + rng.integers(0, 3600, size=n))
    return np.datetime64(day, "s") + secs.astype("timedelta64[s]")


def _after(
    rng: np.random.Generator,
    t: np.ndarray,
    median_s: float,
    sigma: float,
    reached: np.ndarray,
    low_s: int = 60,
) -> np.ndarray:
    """Timestamps after ``t`` by a log-normal delay, NaT where the stage has not been reached."""
    delay = np.maximum(rng.lognormal(np.log(median_s), sigma, len(t)), low_s).astype(np.int64)
    out = t + delay.astype("timedelta64[s]")
    out[~reached] = np.datetime64("NaT")
    return out


def fmt(ts: np.ndarray, pattern: str) -> np.ndarray:
    """datetime64 (with NaT) -> object array of strings (None for NaT)."""
    s = pl.Series(ts.astype("datetime64[us]")).dt.strftime(pattern)
    return np.array(s.to_list(), dtype=object)


def to_py(ts: np.ndarray) -> np.ndarray:
    """datetime64 -> object array of datetime.datetime (None for NaT)."""
    return np.array([None if np.isnat(t) else t.astype("datetime64[s]").item() for t in ts], dtype=object)


SEQUENCE_MAX = 999_999  # daily sequence numbers have six digits


def dangling_order_id(day: dt.date, rows_per_day: int, rng: np.random.Generator) -> str:
    """A hotline work-order id of ``day`` (``GD`` + yyyymmdd + 6 digits, as :func:`ids` makes them) that the
    hotline never issues: its sequence number is past the day's last call (``rows_per_day``), or 000000
    when the day uses every number (sequences start at 1)."""
    room = SEQUENCE_MAX - rows_per_day
    seq = 0
    if room > 0:
        seq = rows_per_day + 1 + int(rng.integers(0, min(room, max(50, rows_per_day // 10))))
    return f"GD{day:%Y%m%d}{seq:06d}"


def ids(prefix: str, days: list[dt.date], counts: list[int]) -> np.ndarray:
    """Prefix + yyyymmdd + 6-digit daily sequence number."""
    parts = [
        f"{prefix}{day:%Y%m%d}" + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(6)
        for day, n in zip(days, counts, strict=True)
    ]
    return pl.concat(parts).to_numpy() if parts else np.zeros(0, dtype=object)


def _s(values: np.ndarray) -> pl.Series:
    return pl.Series(values.tolist(), dtype=pl.String)


def _pick(rng: np.random.Generator, options: tuple[str, ...], n: int) -> list[str]:
    return np.array(options, dtype=object)[rng.integers(0, len(options), size=n)].tolist()


def _opt(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = values.astype(object).copy()
    out[~present] = None
    return out


# ----------------------------------------------------------------------------- 12345 hotline
def hotline(
    world: World,
    ds: Dataset,
    days: list[dt.date],
    rows_per_day: list[int],
    links: list[int],
    rng: np.random.Generator,
) -> tuple[Table, Linked]:
    times = [_times(rng, d, n, HOURS_CITIZEN) for d, n in zip(days, rows_per_day, strict=True)]
    report = np.concatenate(times)
    day_of = np.repeat(np.arange(len(days)), rows_per_day)
    n = len(report)
    places = world.sample_places(rng, n)
    names = world.names(rng, n)
    phones = world.phones(rng, n)
    has_id = rng.random(n) < 0.3
    rids = np.full(n, None, dtype=object)
    rids[has_id] = world.resident_ids(rng, int(has_id.sum()))
    anonymous = rng.random(n) < 0.06
    cat = world.sample_local("hotline_category", rng, n)
    address = world.addresses(rng, places)
    # Repeat complaints: the same caller about the same place and matter as an earlier call.
    rep = np.flatnonzero(rng.random(n) < REPEAT_SHARE)
    rep = rep[rep > 0]
    src = (rng.random(len(rep)) * rep).astype(np.int64)
    for arr in (places, names, phones, rids, has_id, anonymous, cat, address):
        arr[rep] = arr[src]  # src < rep and sources come before repeats: chains resolve to the first call

    stage = rng.choice(5, size=n, p=[0.04, 0.06, 0.08, 0.12, 0.70])  # last stage reached: report..evaluate
    dispatch = _after(rng, report, 40 * 60, 0.8, stage >= 1)
    handle = _after(rng, dispatch, 5 * 3600, 0.9, stage >= 2)
    feedback = _after(rng, handle, 2 * 3600, 0.8, stage >= 3)
    evaluate = _after(rng, feedback, 10 * 3600, 0.9, stage >= 4)
    satisfaction = rng.choice(np.arange(1, 6), size=n, p=[0.04, 0.04, 0.09, 0.25, 0.58])
    resolved = rng.random(n) < 0.88

    lc = world.local["hotline_category"]
    unified = lc.unified[cat]
    department = np.array([world.category_department[u] for u in lc.unified.tolist()], dtype=object)[cat]
    pattern = "%Y/%m/%d %H:%M:%S"
    text = _hotline_text(world, rng, names, phones, rids, has_id, address, lc.names[cat])
    sat_text = pl.Series(satisfaction).cast(pl.String).to_numpy()
    cols = {
        "work_order_id": ids("GD", days, rows_per_day),
        "report_time": fmt(report, pattern),
        "caller_name": _opt(names, ~anonymous),
        "caller_phone": phones.copy(),
        "caller_id_number": _opt(rids, has_id),
        "complaint_text": text,
        "event_category": lc.codes[cat].copy(),
        "district_code": world.place_district_name[places].copy(),
        "street_code": world.place_street_name[places].copy(),
        "address": address.copy(),
        "handling_department": _opt(department, stage >= 1),
        "dispatch_time": fmt(dispatch, pattern),
        "handle_time": fmt(handle, pattern),
        "feedback_time": fmt(feedback, pattern),
        "evaluate_time": fmt(evaluate, pattern),
        "satisfaction": _opt(sat_text, stage >= 4),
        "is_resolved": _opt(np.where(resolved, "是", "否").astype(object), stage >= 3),
    }
    # Calls that the same citizen also reports through the app (kept free of defects).
    protected = np.zeros(n, dtype=bool)
    chosen = []
    starts = np.concatenate([[0], np.cumsum(rows_per_day)])
    for d, k in enumerate(links):
        pool = np.flatnonzero(~anonymous[starts[d] : starts[d + 1]]) + starts[d]
        chosen.append(np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False)))
    sel = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    protected[sel] = True
    linked = Linked(
        day=day_of[sel],
        work_order_id=cols["work_order_id"][sel],
        report=report[sel],
        name=names[sel],
        phone=phones[sel],
        place=places[sel],
        address=address[sel],
        unified=unified[sel],
    )
    table = Table(ds, cols, protected, text=True, by_name=frozenset({"district_code", "street_code"}))
    return table, linked


def _hotline_text(
    world: World,
    rng: np.random.Generator,
    names: np.ndarray,
    phones: np.ndarray,
    rids: np.ndarray,
    has_id: np.ndarray,
    address: np.ndarray,
    topic: np.ndarray,
) -> np.ndarray:
    """Free text as call-takers type it: often the phone, sometimes an id or a neighbour's details."""
    n = len(names)
    tpl = rng.choice(5, size=n, p=[0.35, 0.25, 0.2, 0.1, 0.1])
    tpl = np.where((tpl == 3) & ~has_id, 0, tpl)
    others = world.addresses(rng, world.sample_places(rng, n // 8 + 1))
    frame = pl.DataFrame(
        {
            "name": _s(names),
            "phone": _s(phones),
            "rid": _s(rids),
            "addr": _s(address),
            "topic": _s(topic),
            "detail": pl.Series(DETAILS).gather(rng.integers(0, len(DETAILS), size=n)),
            "ask": pl.Series(ASKS).gather(rng.integers(0, len(ASKS), size=n)),
            "other": _s(world.names(rng, n)),
            "other_addr": _s(others).gather(np.arange(n) % len(others)),
            "tpl": tpl,
        }
    )
    c, lit = pl.col, pl.lit
    tail = (lit("，"), c("detail"), lit("，"), c("ask"), lit("。"))
    text = (
        pl.when(c("tpl") == 0)
        .then(
            pl.concat_str(
                lit("本人"),
                c("name"),
                lit("，电话"),
                c("phone"),
                lit("，反映"),
                c("addr"),
                c("topic"),
                lit("问题"),
                *tail,
            )
        )
        .when(c("tpl") == 1)
        .then(
            pl.concat_str(
                lit("来电人反映："),
                c("addr"),
                c("topic"),
                lit("，"),
                c("detail"),
                lit("，联系电话"),
                c("phone"),
                lit("，"),
                c("ask"),
                lit("。"),
            )
        )
        .when(c("tpl") == 2)
        .then(pl.concat_str(lit("市民来电反映"), c("addr"), lit("存在"), c("topic"), lit("情况"), *tail))
        .when(c("tpl") == 3)
        .then(
            pl.concat_str(
                c("name"),
                lit("（身份证号"),
                c("rid"),
                lit("，电话"),
                c("phone"),
                lit("）反映"),
                c("addr"),
                c("topic"),
                lit("问题"),
                *tail,
            )
        )
        .otherwise(
            pl.concat_str(
                lit("来电人称邻居"),
                c("other"),
                lit("住在"),
                c("other_addr"),
                lit("，"),
                c("topic"),
                lit("问题"),
                c("detail"),
                lit("，"),
                c("ask"),
                lit("。来电号码"),
                c("phone"),
                lit("。"),
            )
        )
    )
    return frame.select(text).to_series().to_numpy()


# ----------------------------------------------------------------------------- government app / WeChat
def gov_app(
    world: World, ds: Dataset, days: list[dt.date], per_day: int, linked: Linked, rng: np.random.Generator
) -> tuple[Table, np.ndarray]:
    """Returns the table and, for each of its rows, the linked hotline order (None if not linked)."""
    lc = world.local["app_category"]
    sources = [s for s in APP_SOURCES if s in world.dictionary.codes("channel")] or [ds.channel or ""]
    parts: list[dict[str, np.ndarray]] = []
    for d, day in enumerate(days):
        li = np.flatnonzero(linked.day == d)
        k = len(li)
        fresh = max(per_day - k, 0)
        places = np.concatenate([linked.place[li], world.sample_places(rng, fresh)]).astype(np.int64)
        # Linked reports: same person and place, within two hours of the call, clipped to the same day.
        offset = rng.integers(-7200, 7201, size=k).astype("timedelta64[s]")
        lo, hi = np.datetime64(day, "s"), np.datetime64(day, "s") + np.timedelta64(86399, "s")
        t_linked = np.clip(linked.report[li] + offset, lo, hi)
        t_fresh = _times(rng, day, fresh, HOURS_CITIZEN)
        # Category: an app code for the same unified category when the app has one.
        cat_fresh = world.sample_local("app_category", rng, fresh)
        cat_linked = np.empty(k, dtype=np.int64)
        for j, u in enumerate(linked.unified[li].tolist()):
            same = np.flatnonzero(lc.unified == u)
            cat_linked[j] = rng.choice(same) if len(same) else world.sample_local("app_category", rng, 1)[0]
        part = {
            "t": np.concatenate([t_linked, t_fresh]),
            "place": places,
            "name": np.concatenate([linked.name[li], world.names(rng, fresh)]),
            "phone": np.concatenate([linked.phone[li], world.phones(rng, fresh)]),
            "address": np.concatenate([linked.address[li], world.addresses(rng, places[k:])]),
            "cat": np.concatenate([cat_linked, cat_fresh]),
            "order": np.concatenate([linked.work_order_id[li], np.full(fresh, None, dtype=object)]),
            "linked": np.concatenate([np.ones(k, dtype=bool), np.zeros(fresh, dtype=bool)]),
        }
        order = np.argsort(part["t"], kind="stable")
        parts.append({key: v[order] for key, v in part.items()})
    p = {key: np.concatenate([x[key] for x in parts]) for key in parts[0]}
    n = len(p["t"])
    counts = [len(x["t"]) for x in parts]
    lon, lat = world.points(rng, p["place"])
    has_point = p["linked"] | (rng.random(n) < 0.85)
    has_name = p["linked"] | (rng.random(n) < 0.8)
    has_street = p["linked"] | (rng.random(n) < 0.9)
    related = _opt(p["order"], p["linked"] & (rng.random(n) < RELATED_SHARE))
    topic = lc.names[p["cat"]].tolist()
    tpl = rng.integers(0, 3, size=n).tolist()
    detail, ask, ad = _pick(rng, DETAILS, n), _pick(rng, APP_ASKS, n), p["address"].tolist()
    content = []
    for i in range(n):
        if tpl[i] == 0:
            content.append(f"{topic[i]}，地点：{ad[i]}。{detail[i]}，{ask[i]}。")
        elif tpl[i] == 1:
            content.append(f"在{ad[i]}附近发现{topic[i]}的情况，{detail[i]}。{ask[i]}")
        else:
            content.append(f"{ad[i]}的{topic[i]}问题反映过好几次了，{detail[i]}，{ask[i]}！")
    ts = fmt(p["t"], "%Y-%m-%dT%H:%M:%S+08:00")
    cols = {
        "report_id": ids("APP", days, counts),
        "submitted_at": ts,
        "source": np.array(sources, dtype=object)[(rng.random(n) < 0.3).astype(int) % len(sources)],
        "user_name": _opt(p["name"], has_name),
        "user_phone": p["phone"].astype(object),
        "content": np.array(content, dtype=object),
        "category": lc.codes[p["cat"]].copy(),
        "district_code": world.place_district_name[p["place"]].copy(),
        "street_code": _opt(world.place_street_name[p["place"]], has_street),
        "address": p["address"].astype(object),
        "longitude": _opt(np.array(lon.tolist(), dtype=object), has_point),
        "latitude": _opt(np.array(lat.tolist(), dtype=object), has_point),
        "related_order_id": related,
    }
    table = Table(
        ds, cols, p["linked"].copy(), text=False, by_name=frozenset({"district_code", "street_code"})
    )
    links = _opt(p["order"], p["linked"])
    return table, links


# ----------------------------------------------------------------------------- digital urban management
def citymgmt(world: World, ds: Dataset, days: list[dt.date], per_day: int, rng: np.random.Generator) -> Table:
    t = np.concatenate([_times(rng, d, per_day, HOURS_PATROL) for d in days])
    n = len(t)
    grid_street = np.array([g.street_index for g in world.grids])
    w = world.place_p[grid_street]
    gi = rng.choice(len(world.grids), size=n, p=w / w.sum())
    grids = [world.grids[i] for i in gi.tolist()]
    places = grid_street[gi]
    sev = world.sample_local("citymgmt_severity", rng, n)
    cat = world.sample_local("citymgmt_category", rng, n)
    stage = rng.choice(4, size=n, p=[0.04, 0.06, 0.12, 0.78])
    dispatch = _after(rng, t, 25 * 60, 0.6, stage >= 1)
    handle = _after(rng, dispatch, 4 * 3600, 0.9, stage >= 2)
    close = _after(rng, handle, 1.5 * 3600, 0.7, stage >= 3)
    topic = world.local["citymgmt_category"].names[cat].tolist()
    addr = world.addresses(rng, places, with_area=False).tolist()
    note = _pick(rng, PATROL_FINDINGS, n)
    desc = [f"巡查发现{addr[i]}{topic[i]}，{note[i]}。" for i in range(n)]
    pattern = "%Y-%m-%d %H:%M:%S"
    cols = {
        "case_id": ids("CG", days, [per_day] * len(days)),
        "discover_time": fmt(t, pattern),
        "grid_officer_name": np.array([g.officer_name for g in grids], dtype=object),
        "grid_officer_id": np.array([g.officer_id for g in grids], dtype=object),
        "grid_code": np.array([g.code for g in grids], dtype=object),
        "severity": world.local["citymgmt_severity"].codes[sev].copy(),
        "category": world.local["citymgmt_category"].codes[cat].copy(),
        "description": np.array(desc, dtype=object),
        "longitude": np.array(
            [f"{g.lon + x:.6f}" for g, x in zip(grids, rng.normal(0, 0.002, n), strict=True)], dtype=object
        ),
        "latitude": np.array(
            [f"{g.lat + x:.6f}" for g, x in zip(grids, rng.normal(0, 0.002, n), strict=True)], dtype=object
        ),
        "district_code": world.place_district[places].copy(),
        "street_code": world.place_street[places].copy(),
        "dispatch_time": fmt(dispatch, pattern),
        "handle_time": fmt(handle, pattern),
        "close_time": fmt(close, pattern),
        "is_closed": np.where(stage >= 3, "是", "否").astype(object),
    }
    return Table(ds, cols, np.zeros(n, dtype=bool), text=True)


# ----------------------------------------------------------------------------- police 110 transfers
def police(world: World, ds: Dataset, days: list[dt.date], per_day: int, rng: np.random.Generator) -> Table:
    t = np.concatenate([_times(rng, d, per_day, HOURS_POLICE) for d in days])
    n = len(t)
    places = world.sample_places(rng, n)
    transfer = _after(rng, t, 35 * 60, 0.6, np.ones(n, dtype=bool), low_s=300)
    sev = world.sample_local("police_severity", rng, n)
    cat = world.sample_local("police_category", rng, n)
    lc = world.local["police_category"]
    address = world.addresses(rng, places)
    topic = lc.names[cat].tolist()
    note = _pick(rng, POLICE_NOTES, n)
    ad = address.tolist()
    summary = [f"报警人称{ad[i]}发生{topic[i]}，{note[i]}，现移交相关部门处理。" for i in range(n)]
    units = [
        f"{dn}公安分局{sn.removesuffix('街道').removesuffix('镇')}派出所"
        for dn, sn in zip(
            world.place_district_name[places].tolist(), world.place_street_name[places].tolist(), strict=True
        )
    ]
    cols = {
        "incident_id": ids("JQ", days, [per_day] * len(days)),
        "report_time": to_py(t),
        "transfer_time": to_py(transfer),
        "severity": world.local["police_severity"].codes[sev].copy(),
        "category": lc.codes[cat].copy(),
        "caller_name": _opt(world.names(rng, n), rng.random(n) < 0.85),
        "caller_id_number": _opt(world.resident_ids(rng, n), rng.random(n) < 0.5),
        "caller_phone": world.phones(rng, n),
        "summary": np.array(summary, dtype=object),
        "district_code": world.place_district_name[places].copy(),
        "address": address,
        "police_unit": np.array(units, dtype=object),
        "target_department": np.array(
            [world.category_department[u] for u in lc.unified[cat].tolist()], dtype=object
        ),
    }
    return Table(ds, cols, np.zeros(n, dtype=bool), text=False, by_name=frozenset({"district_code"}))


# ----------------------------------------------------------------------------- IoT sensor readings
STUCK_VALUE = 888.0


def sensors(
    world: World, ds: Dataset, days: list[dt.date], stuck_days: set[dt.date], rng: np.random.Generator
) -> Table:
    """Every sensor every 15 minutes; sensor 0 is stuck at a constant on ``stuck_days``."""
    slots = np.concatenate(
        [np.datetime64(d, "s") + (np.arange(96) * 900).astype("timedelta64[s]") for d in days]
    )
    s = world.sensors
    t_n, s_n = len(slots), len(s)
    hour = ((slots - slots.astype("datetime64[D]")).astype(np.int64) / 3600.0)[:, None]
    mean = np.array([world.sensor_level(x)[0] for x in s])[None, :]
    sd = np.array([world.sensor_level(x)[1] for x in s])[None, :]
    # Smooth daily cycle plus autocorrelated noise.
    phase = rng.uniform(0, 2 * np.pi, s_n)[None, :]
    noise = np.cumsum(rng.normal(0, 0.25, (t_n, s_n)), axis=0)
    noise = noise - np.linspace(0, 1, t_n)[:, None] * noise[-1:, :]  # no long drift
    values = mean + sd * (0.6 * np.sin(2 * np.pi * hour / 24 + phase) + 0.5 * np.tanh(noise / 3))
    low = np.array([x.low for x in s])[None, :]
    high = np.array([x.high for x in s])[None, :]
    values = np.round(np.clip(values, np.maximum(low, -50), np.minimum(high, 100000)), 1)
    stuck = np.zeros((t_n, s_n), dtype=bool)
    if stuck_days:
        day_of_slot = slots.astype("datetime64[D]").astype(object)
        stuck[:, 0] = [d in stuck_days for d in day_of_slot]
        values[stuck[:, 0], 0] = min(STUCK_VALUE, s[0].high)
    n = t_n * s_n
    py_slots = to_py(slots)
    cols = {
        "sensor_id": np.tile(np.array([x.id for x in s], dtype=object), t_n),
        "reading_time": np.repeat(py_slots, s_n),
        "sensor_type": np.tile(np.array([x.type for x in s], dtype=object), t_n),
        "value": np.array(values.reshape(n).tolist(), dtype=object),
        "unit": np.tile(np.array([x.unit or None for x in s], dtype=object), t_n),
        "district_code": np.tile(np.array([x.district for x in s], dtype=object), t_n),
        "longitude": np.tile(np.array([x.lon for x in s], dtype=object), t_n),
        "latitude": np.tile(np.array([x.lat for x in s], dtype=object), t_n),
    }
    table = Table(ds, cols, stuck.reshape(n).copy(), text=False, typed=True)
    return table


# ----------------------------------------------------------------------------- emergency stock
def resources(world: World, ds: Dataset, day: dt.date, rng: np.random.Generator) -> Table:
    types = list(world.dictionary.codes("resource_type").values())
    rows = [(w, t) for w in world.warehouses for t in types]
    n = len(rows)
    scale = {t.code: float(rng.lognormal(5.5, 1.0)) for t in types}
    qty = [max(0, int(rng.lognormal(np.log(scale[t.code]), 0.5))) for _, t in rows]
    base = np.datetime64(day, "s") - np.timedelta64(2, "D")
    upd = base + rng.integers(8 * 3600, 3 * 86400 - 6 * 3600, size=n).astype("timedelta64[s]")
    cols = {
        "warehouse_id": np.array([w.id for w, _ in rows], dtype=object),
        "warehouse_name": np.array([w.name for w, _ in rows], dtype=object),
        "district_code": np.array([w.district for w, _ in rows], dtype=object),
        "resource_type": np.array([t.name_zh for _, t in rows], dtype=object),
        "quantity": np.array(qty, dtype=object),
        "unit": np.array([t.attributes.get("unit") or None for _, t in rows], dtype=object),
        "update_time": to_py(upd),
    }
    return Table(ds, cols, np.zeros(n, dtype=bool), text=False, by_name=frozenset({"resource_type"}))


# ----------------------------------------------------------------------------- population by grid
STALE_DAYS = 180


def population(world: World, ds: Dataset, delivered: dt.date, rng: np.random.Generator) -> Table:
    """A census that has not been updated for half a year (the stale delivery)."""
    grids = world.grids
    n = len(grids)
    updated = np.datetime64(delivered - dt.timedelta(days=STALE_DAYS), "s") + rng.integers(
        9 * 3600, 17 * 3600, size=n
    ).astype("timedelta64[s]")
    stat = (delivered - dt.timedelta(days=STALE_DAYS + 3)).isoformat()
    pop = np.array([g.population for g in grids]) + rng.integers(-50, 50, size=n)
    pop = np.maximum(pop, 0)
    households = np.round(pop / rng.uniform(2.3, 3.1, size=n)).astype(np.int64)
    cols = {
        "grid_code": np.array([g.code for g in grids], dtype=object),
        "district_code": world.place_district[[g.street_index for g in grids]].copy(),
        "street_code": world.place_street[[g.street_index for g in grids]].copy(),
        "population": np.array([str(v) for v in pop.tolist()], dtype=object),
        "households": np.array([str(v) for v in households.tolist()], dtype=object),
        "stat_date": np.full(n, stat, dtype=object),
        "update_time": fmt(updated, "%Y-%m-%d %H:%M:%S"),
    }
    return Table(ds, cols, np.zeros(n, dtype=bool), text=True)
