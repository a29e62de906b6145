"""The OpenAPI document lists every route, with an example for every parameter, and docs/api.md
documents every route."""

from __future__ import annotations

from pathlib import Path

import httpx

import datahub

ROOT = Path(__file__).resolve().parents[2]
API_ROUTES = [
    ("GET", "/api/v1/views"),
    ("GET", "/api/v1/views/{name}"),
    ("GET", "/api/v1/views/{name}/rows"),
    ("GET", "/api/v1/views/{name}/export"),
    ("GET", "/api/v1/events/{event_id}"),
    ("POST", "/api/v1/grants"),
    ("GET", "/api/v1/grants"),
    ("GET", "/api/v1/grants/{grant_id}"),
    ("POST", "/api/v1/grants/{grant_id}/approve"),
    ("POST", "/api/v1/grants/{grant_id}/refuse"),
    ("POST", "/api/v1/grants/{grant_id}/revoke"),
    ("POST", "/api/v1/corrections"),
    ("GET", "/api/v1/corrections"),
    ("GET", "/api/v1/corrections/{correction_id}"),
    ("POST", "/api/v1/corrections/{correction_id}/accept"),
    ("POST", "/api/v1/corrections/{correction_id}/reject"),
    ("POST", "/api/v1/corrections/{correction_id}/corrected"),
    ("GET", "/api/v1/dictionary"),
    ("GET", "/api/v1/dictionary/code-tables/{table_id}"),
    ("GET", "/api/v1/quality"),
    ("GET", "/api/v1/quality/{dataset}"),
    ("GET", "/api/v1/contracts"),
    ("POST", "/api/v1/contracts"),
    ("GET", "/api/v1/contracts/{contract_id}"),
    ("GET", "/api/v1/contracts/{contract_id}/versions/{version}"),
    ("GET", "/api/v1/contracts/{contract_id}/diff"),
    ("POST", "/api/v1/contracts/{contract_id}/versions/{version}/approve"),
    ("POST", "/api/v1/contracts/{contract_id}/versions/{version}/reject"),
    ("GET", "/api/v1/notices"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/reports/{month}.pdf"),
    ("GET", "/api/v1/reports/{month}.html"),
    ("GET", "/open311/v2/services.json"),
    ("GET", "/open311/v2/requests.json"),
    ("GET", "/open311/v2/requests/{request_id}.json"),
]


def test_openapi_lists_every_route_with_examples(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert (spec["info"]["title"], spec["info"]["version"]) == ("城市数据中台 API", datahub.__version__)
    listed = sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item)
    assert listed == sorted(API_ROUTES)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    has = (
                        "examples" in parameter.get("schema", {})
                        or "examples" in parameter
                        or "example" in parameter
                    )
                    assert has, f"{method.upper()} {path}: path parameter {parameter['name']} has no example"
            assert "401" in operation["responses"] or path.startswith("/open311/v2/services"), (method, path)
    body = spec["paths"]["/api/v1/contracts"]["post"]["requestBody"]["content"]
    assert {"application/yaml", "application/json"} <= set(body)
    security = spec["components"]["securitySchemes"]
    assert {s["type"] for s in security.values()} == {"http", "apiKey"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_every_route_is_documented() -> None:
    docs = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for method, path in API_ROUTES:
        assert f"{method} {path}" in docs, f"docs/api.md does not document {method} {path}"
