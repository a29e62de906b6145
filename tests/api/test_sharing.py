"""The sharing API over a real server on a small published city: the authorisation matrix, grants with
row filters and raw columns, paging, exports, Open311, the audit log, rate limits and the canary."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from datahub.cli import app as cli
from tests.api.world import CANARY_ID, CANARY_PHONE, CANARY_ROWS, ROLES, World, build_world
from tests.fixtures.injection_corpus import HOSTILE

API = "/api/v1"
# One view of each sharing class, with its owner department.
CLASSES = {
    "unconditional": ("iot_sensor_readings", "EE"),
    "conditional": ("hotline_12345", "OC"),
    "not_shared": ("police_110_transfers", "PS"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("sharing")) as built:
        yield built


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=60) as client:
        yield client


def _department(who: str) -> str | None:
    return ROLES[who][1]


def _reads(who: str, sharing: str, owner: str) -> bool:
    """The rule the matrix asserts, cell by cell (no grants involved)."""
    return who in ("steward", "admin") or _department(who) == owner or sharing == "unconditional"


# --- the authorisation matrix --------------------------------------------------------------------------


@pytest.mark.parametrize("who", list(ROLES))
@pytest.mark.parametrize("sharing", list(CLASSES))
@pytest.mark.parametrize("route", ["schema", "rows", "export"])
def test_view_routes_by_role_and_sharing_class(
    world: World, http: httpx.Client, who: str, sharing: str, route: str
) -> None:
    view, owner = CLASSES[sharing]
    path = {
        "schema": f"{API}/views/{view}",
        "rows": f"{API}/views/{view}/rows",
        "export": f"{API}/views/{view}/export",
    }[route]
    response = http.get(
        path, headers=world.headers(who), params={"format": "arrow"} if route == "export" else None
    )
    expected = 200 if _reads(who, sharing, owner) else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["error"]["code"] == "forbidden"
    assert http.get(path).status_code == 401


@pytest.mark.parametrize("who", list(ROLES))
def test_the_listing_shows_what_each_role_may_read_or_request(
    world: World, http: httpx.Client, who: str
) -> None:
    listed = {v["name"]: v for v in http.get(f"{API}/views", headers=world.headers(who)).json()["data"]}
    for sharing, (view, owner) in CLASSES.items():
        readable = _reads(who, sharing, owner)
        if sharing == "not_shared" and not readable:
            assert view not in listed
            continue
        assert listed[view]["sharing_class"] == sharing
        assert listed[view]["access"] == ("allowed" if readable else "needs_grant")
        assert (listed[view]["rows"] is not None) == readable
    assert {"events_unified", "event_kpis_daily", "resources_available", "sensor_alerts"} <= set(listed)


STATUS_BY_ROUTE: dict[str, dict[str, int]] = {
    # route -> status for each caller (no grants): every role × every route
    "GET /views": dict.fromkeys(ROLES, 200),
    "GET /grants": dict.fromkeys(ROLES, 200),
    "POST /grants conditional": {**dict.fromkeys(ROLES, 201), "steward": 403, "admin": 403},
    "POST /grants not_shared": dict.fromkeys(ROLES, 403),
    "GET /audit": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200},
    "GET /reports/{month}.pdf": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200, "leader": 200},
    "GET /reports/{month}.html": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200, "leader": 200},
    "GET /quality": dict.fromkeys(ROLES, 200),
    "GET /quality/hotline_12345": {**dict.fromkeys(ROLES, 200), "dept_ps": 403, "dept_em": 403},
    "GET /dictionary": dict.fromkeys(ROLES, 200),
    "GET /dictionary/code-tables/district": dict.fromkeys(ROLES, 200),
    "GET /contracts": dict.fromkeys(ROLES, 200),
    "GET /events/{id}": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200, "dept_oc": 200},
    "GET /open311/services": dict.fromkeys(ROLES, 200),
    "GET /open311/requests": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200, "dept_oc": 200},
    "GET /open311/requests/{id}": {**dict.fromkeys(ROLES, 403), "steward": 200, "admin": 200, "dept_oc": 200},
}


def _event_id(world: World, http: httpx.Client) -> str:
    page = http.get(f"{API}/views/events_unified/rows", headers=world.headers("steward"), params={"limit": 1})
    return str(page.json()["data"][0]["event_id"])


def _call(world: World, http: httpx.Client, route: str, who: str | None) -> httpx.Response:
    headers = world.headers(who) if who else {}
    event = _event_id(world, http)
    since = (datetime(2026, 10, 1)).isoformat()
    calls = {
        "GET /views": lambda: http.get(f"{API}/views", headers=headers),
        "GET /grants": lambda: http.get(f"{API}/grants", headers=headers),
        "POST /grants conditional": lambda: http.post(
            f"{API}/grants", headers=headers, json={"view": "hotline_12345", "purpose": "研判"}
        ),
        "POST /grants not_shared": lambda: http.post(
            f"{API}/grants", headers=headers, json={"view": "police_110_transfers", "purpose": "研判"}
        ),
        "GET /audit": lambda: http.get(f"{API}/audit", headers=headers),
        "GET /reports/{month}.pdf": lambda: http.get(f"{API}/reports/2026-10.pdf", headers=headers),
        "GET /reports/{month}.html": lambda: http.get(f"{API}/reports/2026-10.html", headers=headers),
        "GET /quality": lambda: http.get(f"{API}/quality", headers=headers),
        "GET /quality/hotline_12345": lambda: http.get(f"{API}/quality/hotline_12345", headers=headers),
        "GET /dictionary": lambda: http.get(f"{API}/dictionary", headers=headers),
        "GET /dictionary/code-tables/district": lambda: http.get(
            f"{API}/dictionary/code-tables/district", headers=headers
        ),
        "GET /contracts": lambda: http.get(f"{API}/contracts", headers=headers),
        "GET /events/{id}": lambda: http.get(f"{API}/events/{event}", headers=headers),
        "GET /open311/services": lambda: http.get("/open311/v2/services.json", headers=headers),
        "GET /open311/requests": lambda: http.get(
            "/open311/v2/requests.json",
            headers=headers,
            params={"start_date": since, "end_date": "2026-11-15"},
        ),
        "GET /open311/requests/{id}": lambda: http.get(f"/open311/v2/requests/{event}.json", headers=headers),
    }
    return calls[route]()


@pytest.mark.parametrize("route", list(STATUS_BY_ROUTE))
def test_every_other_route_by_role(world: World, http: httpx.Client, route: str) -> None:
    for who, expected in STATUS_BY_ROUTE[route].items():
        response = _call(world, http, route, who)
        assert response.status_code == expected, (who, response.text)
    assert _call(world, http, route, None).status_code == 401


@pytest.mark.parametrize("who", list(ROLES))
def test_deciding_grants_by_role(world: World, http: httpx.Client, who: str) -> None:
    requester = world.client(f"requester-for-{who}", "consumer")
    asked = []
    for _ in range(3):
        made = http.post(
            f"{API}/grants",
            headers={"Authorization": f"Bearer {requester}"},
            json={"view": "events_unified", "purpose": "应急指挥调度"},
        )
        assert made.status_code == 201
        asked.append(made.json()["grant_id"])
    decider = who in ("steward", "admin")
    approve = http.post(f"{API}/grants/{asked[0]}/approve", headers=world.headers(who))
    refuse = http.post(
        f"{API}/grants/{asked[1]}/refuse", headers=world.headers(who), json={"note": "用途不明"}
    )
    revoke = http.post(f"{API}/grants/{asked[2]}/revoke", headers=world.headers(who))
    assert (approve.status_code, refuse.status_code) == ((200, 200) if decider else (403, 403))
    assert revoke.status_code == (200 if decider else 404)  # another client's grant is not even visible
    own = http.post(f"{API}/grants/{asked[2]}/revoke", headers={"Authorization": f"Bearer {requester}"})
    assert own.status_code == (409 if decider else 200)


# --- grants at work ------------------------------------------------------------------------------------


def _rows(http: httpx.Client, key: str, view: str, **params: object) -> httpx.Response:
    return http.get(f"{API}/views/{view}/rows", headers={"Authorization": f"Bearer {key}"}, params=params)


def _steward_approves(world: World, http: httpx.Client, grant_id: int) -> None:
    response = http.post(f"{API}/grants/{grant_id}/approve", headers=world.headers("steward"))
    assert response.status_code == 200 and response.json()["active"]


def test_a_grant_narrows_columns_and_rows_and_releases_raw_only_with_a_legal_basis(
    world: World, http: httpx.Client
) -> None:
    key = world.client("district-platform", "consumer")
    auth = {"Authorization": f"Bearer {key}"}
    district = (
        world.platform.lake.scan_current("hotline_12345").select("district_code").first().collect().item()
    )
    wanted = ["work_order_id", "district_code", "caller_phone", "complaint_text"]
    body = {
        "view": "hotline_12345",
        "purpose": "辖区诉求研判",
        "columns": wanted,
        "row_filter": f"district_code = '{district}'",
    }
    made = http.post(f"{API}/grants", headers=auth, json=body)
    assert made.status_code == 201 and made.json()["status"] == "requested"
    assert _rows(http, key, "hotline_12345").status_code == 403  # not before approval
    _steward_approves(world, http, made.json()["grant_id"])
    page = _rows(http, key, "hotline_12345", limit=1000)
    assert page.status_code == 200, page.text
    data = page.json()["data"]
    published = world.platform.lake.scan_current("hotline_12345").collect()
    assert len(data) == published.filter(pl.col("district_code") == district).height > 0
    in_view_order = [c for c in _columns(world, "hotline_12345") if c in wanted]
    assert page.json()["columns"] == in_view_order and {r["district_code"] for r in data} == {district}
    masked = dict(zip(published["work_order_id"], published["caller_phone"], strict=True))
    assert all(r["caller_phone"] == masked[r["work_order_id"]] for r in data)  # pseudonyms: no legal basis
    schema = http.get(f"{API}/views/hotline_12345", headers=auth).json()
    assert {c["name"]: c["masking"] for c in schema["columns"]}["caller_phone"] == "pseudonym"
    assert _rows(http, key, "hotline_12345", fields="caller_name").status_code == 422  # not granted
    # A second grant with a legal basis releases the phone, raw, inside the same row filter.
    legal = http.post(
        f"{API}/grants", headers=auth, json={**body, "legal_basis": "《云江市12345热线条例》第十二条"}
    )
    _steward_approves(world, http, legal.json()["grant_id"])
    raw = _rows(http, key, "hotline_12345", limit=1000, fields="work_order_id,caller_phone").json()["data"]
    conformed = pl.concat(
        pl.read_parquet(p)
        for p in (world.platform.lake.root / "conformed" / "hotline_12345").glob("*.parquet")
    )
    phones = dict(zip(conformed["work_order_id"], conformed["caller_phone"], strict=True))
    assert len(raw) == len(data) and all(r["caller_phone"] == phones[r["work_order_id"]] for r in raw)
    schema = http.get(f"{API}/views/hotline_12345", headers=auth).json()
    assert {c["name"]: c["masking"] for c in schema["columns"]}["caller_phone"] == "raw"
    # Revocation takes effect on the very next request.
    for grant in (made.json()["grant_id"], legal.json()["grant_id"]):
        assert http.post(f"{API}/grants/{grant}/revoke", headers=auth).status_code == 200
    assert _rows(http, key, "hotline_12345").status_code == 403


def test_an_expired_grant_stops_at_once(world: World, http: httpx.Client) -> None:
    key = world.client("short-lived", "consumer")
    expires = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    made = http.post(
        f"{API}/grants",
        headers={"Authorization": f"Bearer {key}"},
        json={"view": "events_unified", "purpose": "演练", "expires_at": expires},
    )
    _steward_approves(world, http, made.json()["grant_id"])
    assert _rows(http, key, "events_unified", limit=1).status_code == 200
    time.sleep(3.2)
    assert _rows(http, key, "events_unified", limit=1).status_code == 403


def test_bad_grant_requests_are_refused(world: World, http: httpx.Client) -> None:
    auth = world.headers("consumer")
    cases = [
        ({"view": "hotline_12345", "purpose": "x", "row_filter": "district_code = 1"}, 422, "invalid_query"),
        ({"view": "hotline_12345", "purpose": "x", "columns": ["nope"]}, 422, "invalid_input"),
        ({"view": "nope", "purpose": "x"}, 404, "not_found"),
        ({"view": "hotline_12345"}, 422, "invalid_request"),
        (
            {"view": "hotline_12345", "purpose": "x", "expires_at": "2020-01-01T00:00:00Z"},
            422,
            "invalid_input",
        ),
    ]
    for body, status, code in cases:
        response = http.post(f"{API}/grants", headers=auth, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body


# --- reading -------------------------------------------------------------------------------------------


def _walk(
    http: httpx.Client, headers: dict[str, str], view: str, **params: object
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    cursor = None
    while True:
        response = http.get(
            f"{API}/views/{view}/rows",
            headers=headers,
            params={**params, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_pages_walk_every_row_once_in_order(world: World, http: httpx.Client) -> None:
    events = world.platform.lake.scan_current("events_unified").collect()
    walked = _walk(
        http,
        world.headers("steward"),
        "events_unified",
        limit=97,
        order="-report_time",
        fields="event_id,report_time",
    )
    assert len(walked) == events.height and len({r["event_id"] for r in walked}) == events.height
    times = [r["report_time"] for r in walked if r["report_time"] is not None]
    assert times == sorted(times, reverse=True)
    district = events["district_code"].drop_nulls()[0]
    subset = _walk(
        http,
        world.headers("steward"),
        "events_unified",
        limit=50,
        filter=f"district_code = '{district}' and source_count >= 1",
    )
    assert len(subset) == events.filter(pl.col("district_code") == district).height


def test_an_event_and_its_sources(world: World, http: httpx.Client) -> None:
    events = world.platform.lake.scan_current("events_unified").collect()
    linked = events.filter(pl.col("source_count") == 2).row(0, named=True)
    response = http.get(f"{API}/events/{linked['event_id']}", headers=world.headers("steward"))
    assert response.status_code == 200
    assert response.json()["data"]["source_records"] == linked["source_records"]
    assert http.get(f"{API}/events/EV-none", headers=world.headers("steward")).status_code == 404


@pytest.mark.parametrize("fmt", ["arrow", "parquet", "csv", "jsonl"])
def test_exports_hold_every_row_the_caller_may_read(world: World, http: httpx.Client, fmt: str) -> None:
    response = http.get(
        f"{API}/views/events_unified/export",
        headers=world.headers("dept_oc"),
        params={"format": fmt, "fields": "event_id,category,report_time"},
    )
    assert response.status_code == 200, response.text
    body = response.content
    if fmt == "arrow":
        frame = pl.from_arrow(pa.ipc.open_stream(body).read_all())
    elif fmt == "parquet":
        frame = pl.from_arrow(pq.read_table(io.BytesIO(body)))
    elif fmt == "csv":
        assert body.startswith(b"\xef\xbb\xbf")
        frame = pl.read_csv(io.BytesIO(body[3:]))
    else:
        frame = pl.read_ndjson(io.BytesIO(body))
    assert isinstance(frame, pl.DataFrame)
    events = world.platform.lake.scan_current("events_unified").collect()
    assert frame.columns == ["event_id", "category", "report_time"]
    assert sorted(frame["event_id"].to_list()) == sorted(events["event_id"].to_list())
    assert (
        response.headers["X-Datahub-Version"] == world.platform.lake.current_version("events_unified").version
    )


@pytest.mark.parametrize("parameter", ["filter", "order", "fields"])
def test_hostile_parameters_get_4xx_never_5xx_never_other_data(
    world: World, http: httpx.Client, parameter: str
) -> None:
    key = world.client(f"hostile-{parameter}", "consumer", rate_limit=100_000)
    auth = {"Authorization": f"Bearer {key}"}
    for text_ in HOSTILE:
        # Sent byte for byte, percent-encoded: lone surrogates arrive as the invalid UTF-8 they are.
        raw = quote_from_bytes(text_.encode("utf-8", "surrogatepass"), safe="")
        for path in ("rows", "export"):
            url = f"{API}/views/iot_sensor_readings/{path}?format=jsonl&{parameter}={raw}"
            response = http.get(url, headers=auth)
            assert response.status_code < 500, (parameter, text_, response.text)
            if response.status_code == 200 and path == "rows":
                assert set(response.json()["columns"]) <= set(_columns(world, "iot_sensor_readings"))
    # The hostile client never read a view it may not read, whatever it sent.
    assert http.get(f"{API}/views/police_110_transfers/rows", headers=auth).status_code == 403


def _columns(world: World, view: str) -> list[str]:
    return [c.name for c in world.platform.catalog.get(view).columns]


# --- Open311 -------------------------------------------------------------------------------------------


def test_open311(world: World, http: httpx.Client) -> None:
    auth = world.headers("steward")
    services = http.get("/open311/v2/services.json", headers=auth).json()
    assert len(services) == len(world.platform.dictionary.codes("event_category"))
    assert {"service_code", "service_name", "metadata", "type", "group"} <= set(services[0])
    params = {"start_date": "2026-10-01T00:00:00+08:00", "end_date": "2026-10-08T00:00:00+08:00"}
    found = http.get("/open311/v2/requests.json", headers=auth, params=params)
    assert found.status_code == 200, found.text
    requests = found.json()
    events = world.platform.lake.scan_current("events_unified").collect()
    window = events.filter(pl.col("report_time").is_between(datetime(2026, 10, 1), datetime(2026, 10, 8)))
    assert len(requests) == min(1000, window.height)
    first = requests[0]
    assert first["requested_datetime"].endswith("+08:00") and first["status"] in ("open", "closed")
    one = http.get(f"/open311/v2/requests/{first['service_request_id']}.json", headers=auth).json()
    assert one == [first]
    closed = http.get("/open311/v2/requests.json", headers=auth, params={**params, "status": "closed"}).json()
    assert closed and all(r["status"] == "closed" for r in closed)
    code = first["service_code"]
    by_code = http.get(
        "/open311/v2/requests.json", headers=auth, params={**params, "service_code": code}
    ).json()
    assert by_code and all(r["service_code"] == code for r in by_code)
    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-10-08T00:00:00+08:00"}
    assert http.get("/open311/v2/requests.json", headers=auth, params=too_long).status_code == 422


# --- audit, rate limits, the canary ---------------------------------------------------------------------


def test_every_read_is_audited_and_the_chain_verifies(
    world: World, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = world.client("audited", "consumer")
    auth = {"Authorization": f"Bearer {key}"}
    http.get(
        f"{API}/views/iot_sensor_readings/rows",
        headers=auth,
        params={"fields": "sensor_id,value", "filter": "value > 10", "limit": 7, "purpose": "空气质量研判"},
    )
    records = http.get(
        f"{API}/audit", headers=world.headers("steward"), params={"client_id": _client_id(world, key)}
    )
    assert records.status_code == 200
    read = records.json()["data"][0]
    assert (read["action"], read["view"], read["columns"], read["filter"], read["rows"], read["purpose"]) == (
        "read",
        "iot_sensor_readings",
        ["sensor_id", "value"],
        "value > 10",
        7,
        "空气质量研判",
    )
    world.server.app.state.service.audit_writer.flush()
    monkeypatch.setenv("DATAHUB_HOME", str(world.platform.settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    runner = CliRunner()
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
    listed = runner.invoke(cli, ["audit", "list", "--client", _client_id(world, key), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["purpose"] == "空气质量研判"
    with world.platform.metadata.session() as s:
        seq = s.execute(text("SELECT max(seq) FROM audit_log")).scalar_one() - 1
        s.execute(text("UPDATE audit_log SET rows = rows + 1 WHERE seq = :seq"), {"seq": seq})
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1 and f"record {seq}" in broken.output
    with world.platform.metadata.session() as s:
        s.execute(text("UPDATE audit_log SET rows = rows - 1 WHERE seq = :seq"), {"seq": seq})
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0


def _client_id(world: World, key: str) -> str:
    principal = world.server.app.state.clients.authenticate(key)
    assert principal is not None
    return str(principal.client_id)


def test_a_client_over_its_rate_limit_gets_429(world: World, http: httpx.Client) -> None:
    key = world.client("slow-client", "consumer", rate_limit=1)  # one a second: the second at once is over
    statuses = [http.get(f"{API}/views", headers={"X-API-Key": key}) for _ in range(4)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and statuses[0].status_code == 200
    assert (
        limited[0].json()["error"]["code"] == "rate_limited" and int(limited[0].headers["Retry-After"]) >= 1
    )
    time.sleep(1.1)
    assert http.get(f"{API}/views", headers={"X-API-Key": key}).status_code == 200


def test_the_canary_never_leaves_raw_without_a_pii_grant(
    world: World, http: httpx.Client, tmp_path: Path
) -> None:
    key = world.client("canary-reader", "consumer")
    auth = {"Authorization": f"Bearer {key}"}
    made = http.post(f"{API}/grants", headers=auth, json={"view": "hotline_12345", "purpose": "研判"})
    _steward_approves(world, http, made.json()["grant_id"])
    seen: list[bytes] = []
    for who_headers in (auth, world.headers("steward"), world.headers("dept_oc"), world.headers("leader")):
        for view in ("hotline_12345", "events_unified", "event_kpis_daily"):
            for fmt in ("csv", "jsonl", "parquet", "arrow"):
                seen.append(
                    http.get(
                        f"{API}/views/{view}/export", headers=who_headers, params={"format": fmt}
                    ).content
                )
            seen.append(
                http.get(f"{API}/views/{view}/rows", headers=who_headers, params={"limit": 1000}).content
            )
        seen.append(
            http.get(
                "/open311/v2/requests.json",
                headers=who_headers,
                params={"start_date": "2026-09-01", "end_date": "2026-11-20"},
            ).content
        )
    seen.append(http.get(f"{API}/audit", headers=world.headers("steward"), params={"limit": 1000}).content)
    seen.append(http.get(f"{API}/quality/hotline_12345", headers=world.headers("steward")).content)
    hotline = world.platform.lake.scan_current("hotline_12345").collect()
    assert hotline.height > CANARY_ROWS
    for body in seen:
        for canary in (CANARY_PHONE, CANARY_ID):
            assert canary.encode() not in body
    # The control: with a legal basis the same reader gets the phone raw, so the search above can find it.
    legal = http.post(
        f"{API}/grants",
        headers=auth,
        json={
            "view": "hotline_12345",
            "purpose": "核查",
            "columns": ["work_order_id", "caller_phone"],
            "legal_basis": "《个人信息保护法》第十三条",
        },
    )
    _steward_approves(world, http, legal.json()["grant_id"])
    raw = http.get(f"{API}/views/hotline_12345/export", headers=auth, params={"format": "csv"}).content
    assert raw.count(CANARY_PHONE.encode()) == CANARY_ROWS


def test_pages_read_by_key_equal_pages_read_by_query(world: World, http: httpx.Client) -> None:
    """A page in key order without a filter is read from the key-ordered frame (binary search and slice);
    a filter that keeps every row takes the SQL path. Both must give the same rows, in the same order."""
    auth = world.headers("steward")
    fast = _walk(http, auth, "events_unified", limit=37)
    general = _walk(http, auth, "events_unified", limit=37, filter="source_count >= 1")
    events = world.platform.lake.scan_current("events_unified").collect()
    assert len(fast) == events.height and fast == general
    assert [r["event_id"] for r in fast] == sorted(events["event_id"].to_list())
    one = http.get(f"{API}/views/events_unified/rows", headers=auth, params={"limit": 1}).json()
    assert set(one["data"][0]) == set(one["columns"]) and one["data"][0]["event_id"] == fast[0]["event_id"]


def test_which_pages_are_read_on_the_event_loop(world: World, http: httpx.Client) -> None:
    """Only a page read by key from a version in memory skips the thread pool."""
    service = world.server.app.state.service
    steward = service.clients.authenticate(world.keys["steward"])
    consumer = service.clients.authenticate(world.keys["consumer"])
    assert steward is not None and consumer is not None
    assert http.get(f"{API}/views/events_unified/rows", headers=world.headers("steward")).status_code == 200
    at_once = service.answers_at_once
    assert at_once(steward, "events_unified", filter=None, order=None)
    assert at_once(steward, "events_unified", filter="  ", order="event_id")
    assert not at_once(steward, "events_unified", filter="source_count >= 1", order=None)
    assert not at_once(steward, "events_unified", filter=None, order="-event_id")
    assert not at_once(
        steward, "events_unified", filter=None, order="nope"
    )  # the error is raised in a thread
    assert not at_once(consumer, "events_unified", filter=None, order=None)  # conditional: not readable
    assert not at_once(steward, "nope", filter=None, order=None)
