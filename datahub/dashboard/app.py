"""The steward dashboard (数据治理看板) at ``/dashboard``: server-rendered Chinese pages over the platform.

A small application of its own, mounted by :func:`datahub.api.create_app`, so that its errors are
pages rather than the API's JSON and none of its routes enter the API's OpenAPI description. Routes
are thin: they check the session and the role (:mod:`datahub.dashboard.access`), gather a page from
:mod:`datahub.dashboard.pages` and render a Jinja2 template. Nothing is fetched from outside the
server: the stylesheet is shipped in the package, charts are inline SVG, and there is no JavaScript.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from datahub.access import Principal
from datahub.access.corrections import Corrections
from datahub.audit import AuditEntry
from datahub.contracts import Dataset
from datahub.contracts.registry import ContractRegistry
from datahub.dashboard import corrections as correction_pages
from datahub.dashboard import labels, pages, summaries, versions
from datahub.dashboard.access import (
    decides_grants,
    department_scope,
    may_open_dataset,
    may_use,
    opens_datasets,
    sees_reads,
)
from datahub.dashboard.session import (
    LOGIN_COOKIE,
    LOGIN_LIFETIME,
    SESSION_COOKIE,
    Session,
    Sessions,
)
from datahub.errors import Conflict, DatahubError, Forbidden, InputError, NotFound
from datahub.platform import Platform
from datahub.quality.history import PASS_RATE_TARGET, export_quarantine
from datahub.quality.scores import DIMENSION_NAMES
from datahub.serving.service import Service

DASHBOARD_PATH = "/dashboard"
STATIC_DIR = Path(__file__).parent / "static"
FORM_LIMIT = 16_384  # bytes of a posted form
NOTE_MAX = 500  # characters of a decision note

# Every response: nothing loaded from elsewhere, no script at all, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ERROR_TITLES = {
    400: "请求无效",
    403: "无权访问",
    404: "找不到页面",
    405: "不支持的操作",
    409: "操作冲突",
    422: "请求无效",
}

DatasetName = Annotated[str, PathParam(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")]
DeliveryId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
GrantId = Annotated[int, PathParam(ge=1, le=2**62)]
ContractVersionNumber = Annotated[str, PathParam(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$")]
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


LEADER_SUMMARIES_ONLY = "领导视图只含汇总（总览、事件指标、共享率），不含数据集明细、隔离数据和原始记录。"
CONSUMER_REFUSED = "接入系统（consumer）的密钥只用于调用共享接口，不能登录数据治理看板。"


class SignInNeeded(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class FormRefused(DatahubError):
    """A posted form that cannot be used: expired, without its CSRF token, or not a form at all."""

    code = "invalid_form"
    http_status = 400


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of a request: who, their session, and the CSRF token of their forms."""

    principal: Principal
    session: Session
    csrf: str


# --------------------------------------------------------------------------------------- rendering


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}%"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _shown(value: Any) -> str:
    """A value of a contract change: text as it is, structures as compact JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("datahub.dashboard", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(bjt=pages.as_beijing, pct=_pct, num=_num, shown=_shown)
    # Charts come from datahub.reports.charts, which escapes every text it draws.
    env.filters["svg"] = Markup
    env.globals["labels"] = labels
    return env


def _nav(principal: Principal) -> list[tuple[str, str]]:
    items = [("", "总览")]
    if opens_datasets(principal):
        items.append(("/datasets", "数据集"))
    items += [("/sharing", "共享"), ("/corrections", "校核纠错"), ("/kpis", "事件指标")]
    return items


_BASE_KEY = "datahub.dashboard.base"


def _base(request: Request) -> str:
    """Where the dashboard is mounted (``/dashboard`` under the server's own root path), as noted by
    the middleware before routing into a sub-mount (the static files) moves ``root_path`` on."""
    noted = request.scope.get(_BASE_KEY)
    if noted is not None:
        return str(noted)
    return str(request.scope.get("root_path") or DASHBOARD_PATH).rstrip("/")


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None = None,
    status: int = 200,
    active: str | None = None,
    **context: Any,
) -> HTMLResponse:
    env: Environment = request.app.state.templates
    platform: Platform = request.app.state.platform
    principal = viewer.principal if viewer else None
    html = env.get_template(template).render(
        base=_base(request),
        viewer=viewer,
        nav=_nav(principal) if principal else [],
        active=active,
        role_name=labels.label(labels.ROLE_NAMES, principal.role.value) if principal else None,
        department_name=pages.department_name(platform, principal.department)
        if principal and principal.department
        else None,
        **context,
    )
    return HTMLResponse(html, status_code=status)


# ------------------------------------------------------------------------------------ dependencies


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def get_viewer(request: Request) -> Viewer:
    """The signed-in person, read again on every request; consumers are refused (403)."""
    sessions: Sessions = request.app.state.sessions
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInNeeded()
    principal = sessions.signed_in(session)
    if principal is None:
        raise SignInNeeded()
    if not may_use(principal):
        raise Forbidden(CONSUMER_REFUSED)
    return Viewer(principal, session, sessions.csrf_token(session))


async def posted_form(request: Request) -> dict[str, str]:
    """A urlencoded form of at most FORM_LIMIT bytes (the dashboard posts nothing else)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused("请通过看板页面上的表单提交。")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise FormRefused("表单内容过长。")
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than any form of the dashboard has
        raise FormRefused("请通过看板页面上的表单提交。") from None
    return {name: values[0] for name, values in fields.items()}


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
FormDep = Annotated[dict[str, str], Depends(posted_form)]
PlatformDep = Annotated[Platform, Depends(_platform)]
ServiceDep = Annotated[Service, Depends(_service)]


def checked_form(request: Request, viewer: ViewerDep, form: FormDep) -> dict[str, str]:
    """A form of this session: its CSRF token must match."""
    sessions: Sessions = request.app.state.sessions
    if not sessions.csrf_ok(viewer.session, form.get("csrf")):
        raise FormRefused("表单已失效（页面停留过久或来自其他网站），请刷新页面后重试。")
    return form


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def _dataset(platform: Platform, viewer: Viewer, name: str) -> Dataset:
    try:
        dataset = platform.catalog.get(name)
    except NotFound:
        raise NotFound(f"没有名为“{name}”的数据集。") from None
    if not opens_datasets(viewer.principal):
        raise Forbidden(LEADER_SUMMARIES_ONLY)
    if not may_open_dataset(viewer.principal, dataset):
        owner = pages.department_name(platform, dataset.owner_department)
        raise Forbidden(f"“{dataset.title}”属于{owner}；部门只能查看本部门的数据集。")
    return dataset


def _safe_next(base: str, target: str | None) -> str:
    """Where to go after signing in: a page of the dashboard, never another site."""
    if target and target.startswith(base + "/") and re.fullmatch(r"[A-Za-z0-9_/.\-]*", target):
        return target
    return base + "/"


# ----------------------------------------------------------------------------------------- routes

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    sessions: Sessions = request.app.state.sessions
    base = _base(request)
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is not None and sessions.signed_in(session) is not None:
        return RedirectResponse(_safe_next(base, next), status_code=303)
    return _login_page(request, next=next)


def _login_page(
    request: Request, *, next: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    sessions: Sessions = request.app.state.sessions
    nonce = sessions.login_nonce()
    response = render(
        request,
        "login.html",
        status=status,
        login_token=sessions.login_token(nonce),
        next=_safe_next(_base(request), next),
        error=error,
        signed_out=request.query_params.get("signed_out") == "1",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        path=_base(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/login")
def login(request: Request, form: FormDep) -> Response:
    sessions: Sessions = request.app.state.sessions
    if not sessions.login_ok(request.cookies.get(LOGIN_COOKIE), form.get("login_token")):
        return _login_page(request, error="登录表单已过期，请重新输入密钥。", status=400)
    key = form.get("api_key", "").strip()
    principal = request.app.state.service.clients.authenticate(key) if key else None
    if principal is None:
        return _login_page(
            request, next=form.get("next"), error="密钥无效或已停用，请检查后重试。", status=401
        )
    if not may_use(principal):
        raise Forbidden(CONSUMER_REFUSED)
    cookie, _ = sessions.issue(principal.client_id)
    response = RedirectResponse(_safe_next(_base(request), form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(sessions.lifetime.total_seconds()),
        path=_base(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=_base(request))
    return response


@router.post("/logout")
def logout(request: Request, viewer: ViewerDep, _form: CheckedForm) -> Response:
    sessions: Sessions = request.app.state.sessions
    sessions.revoke(viewer.session)  # on the server: a copy of the cookie ends with it
    response = RedirectResponse(f"{_base(request)}/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=_base(request), httponly=True, samesite="strict")
    return response


@router.get("/")
def overview(request: Request, viewer: ViewerDep, service: ServiceDep, month: MonthQuery = None) -> Response:
    platform = service.platform
    chosen = summaries.choose_month(platform, month)
    scope = department_scope(viewer.principal)
    page = summaries.overview_page(platform, request.app.state.months, chosen, scope)
    return render(
        request,
        "overview.html",
        viewer=viewer,
        active="",
        month=chosen,
        opens_datasets=opens_datasets(viewer.principal),
        dimension_names=DIMENSION_NAMES,
        titles={d.name: d.title for d in platform.catalog},
        dimension_rows=summaries.dimension_rows(page["departments"]) if page["figures"] else [],
        contract_notices=versions.notice_rows(service, viewer.principal),
        **page,
    )


@router.get("/datasets")
def datasets(request: Request, viewer: ViewerDep, platform: PlatformDep) -> Response:
    if not opens_datasets(viewer.principal):
        raise Forbidden(LEADER_SUMMARIES_ONLY)
    rows = pages.dataset_rows(platform, viewer.principal)
    return render(
        request, "datasets.html", viewer=viewer, active="/datasets", datasets=rows, target=PASS_RATE_TARGET
    )


@router.get("/datasets/{name}")
def dataset(request: Request, name: DatasetName, viewer: ViewerDep, platform: PlatformDep) -> Response:
    found = _dataset(platform, viewer, name)
    registry = ContractRegistry(platform.metadata, platform.dictionary)
    page = pages.dataset_page(platform, registry, found)
    query = request.query_params
    return render(
        request,
        "dataset.html",
        viewer=viewer,
        active="/datasets",
        decides_versions=versions.decides_versions(viewer.principal),
        version_notice=versions.done_notice(query.get("done"), query.get("version"), registry, found),
        **page,
    )


def _decide_version(
    request: Request, viewer: Viewer, service: Service, name: str, version: str, form: dict[str, str]
) -> Response:
    """Approve or reject a breaking contract version through the same registry calls as
    ``POST /api/v1/contracts/{id}/versions/{v}/approve|reject``, recorded in the audit log."""
    found = _dataset(service.platform, viewer, name)
    approve = request.url.path.endswith("/approve")
    versions.decide(service, viewer.principal, found, version, approve, form)
    done = "approved" if approve else "rejected"
    target = f"{_base(request)}/datasets/{name}?done={done}&version={quote(version)}#contract"
    return RedirectResponse(target, status_code=303)


@router.post("/datasets/{name}/versions/{version}/approve")
def approve_version(
    request: Request,
    name: DatasetName,
    version: ContractVersionNumber,
    viewer: ViewerDep,
    service: ServiceDep,
    form: CheckedForm,
) -> Response:
    return _decide_version(request, viewer, service, name, version, form)


@router.post("/datasets/{name}/versions/{version}/reject")
def reject_version(
    request: Request,
    name: DatasetName,
    version: ContractVersionNumber,
    viewer: ViewerDep,
    service: ServiceDep,
    form: CheckedForm,
) -> Response:
    return _decide_version(request, viewer, service, name, version, form)


@router.get("/datasets/{name}/quarantine/{delivery_id}.csv")
def quarantine_csv(
    name: DatasetName, delivery_id: DeliveryId, viewer: ViewerDep, service: ServiceDep
) -> Response:
    """The delivery's quarantined rows as delivered, with their reasons, for the owner to fix and
    re-submit: the owner department and stewards only (the page never shows these values unmasked),
    and every download is a record in the audit log."""
    platform = service.platform
    found = _dataset(platform, viewer, name)
    if not pages.has_quarantine(platform, found, delivery_id):
        raise NotFound(f"“{found.title}”没有交付批次 {delivery_id} 的隔离数据。")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "quarantine.csv"
        rows = export_quarantine(platform, found, delivery_id, out)
        body = out.read_bytes()
    principal = viewer.principal
    service.audit_writer.record(
        AuditEntry(
            client_id=principal.client_id,
            client_name=principal.name,
            role=principal.role.value,
            action="quarantine.export",
            view=found.name,
            rows=rows,
            purpose="质量整改：下载隔离数据",
            detail={"delivery_id": delivery_id, "unmasked": True, "channel": "dashboard"},
        ),
        wait=True,  # recorded before the rows leave
    )
    filename = f"{found.name}_{delivery_id[:12]}_隔离数据.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/sharing")
def sharing(request: Request, viewer: ViewerDep, service: ServiceDep) -> Response:
    principal = viewer.principal
    page = pages.sharing_page(service.platform, service, principal)
    reads = pages.recent_reads(service) if sees_reads(principal) else None
    month = summaries.choose_month(service.platform, None)
    figures = None
    if month.month is not None and department_scope(principal) is None:
        figures = request.app.state.months.get(service.platform, month.month).sharing
    done = request.query_params.get("done")
    grant = request.query_params.get("grant", "")
    notice = None
    if done in ("approved", "refused") and grant.isdigit():
        notice = f"已{'批准' if done == 'approved' else '拒绝'}授权申请 #{grant}，并已写入审计日志。"
    return render(
        request,
        "sharing.html",
        viewer=viewer,
        active="/sharing",
        decides=decides_grants(principal),
        contract_notices=versions.notice_rows(service, principal),
        reads=reads,
        notice=notice,
        month=month,
        sharing=figures,
        sharing_charts=summaries.sharing_charts(figures) if figures else {},
        **page,
    )


def _decide(
    request: Request, viewer: Viewer, service: Service, grant_id: int, form: dict[str, str]
) -> Response:
    """Approve or refuse through the same library calls as ``POST /api/v1/grants/{id}/approve|refuse``:
    the grant's decision, then its audit record."""
    principal = viewer.principal
    if not decides_grants(principal):
        raise Forbidden("只有数据管理员（大数据局）和平台管理员可以审批共享授权。")
    approve = request.url.path.endswith("/approve")
    note = form.get("note", "").strip()[:NOTE_MAX] or None
    try:
        if approve:
            grant = service.grants.approve(grant_id, principal, note)
        else:
            grant = service.grants.refuse(grant_id, principal, note)
    except Conflict:
        raise Conflict(f"授权申请 #{grant_id} 已被处理过，不能再次审批。") from None
    except NotFound:
        raise NotFound(f"没有编号为 {grant_id} 的授权申请。") from None
    service.record_grant(principal, "grant.approve" if approve else "grant.refuse", grant)
    done = "approved" if approve else "refused"
    return RedirectResponse(f"{_base(request)}/sharing?done={done}&grant={grant_id}", status_code=303)


@router.post("/grants/{grant_id}/approve")
def approve_grant(
    request: Request, grant_id: GrantId, viewer: ViewerDep, service: ServiceDep, form: CheckedForm
) -> Response:
    return _decide(request, viewer, service, grant_id, form)


@router.post("/grants/{grant_id}/refuse")
def refuse_grant(
    request: Request, grant_id: GrantId, viewer: ViewerDep, service: ServiceDep, form: CheckedForm
) -> Response:
    return _decide(request, viewer, service, grant_id, form)


@router.get("/corrections")
def corrections(request: Request, viewer: ViewerDep, service: ServiceDep) -> Response:
    page = correction_pages.corrections_page(service, viewer.principal)
    done = request.query_params.get("done")
    number = request.query_params.get("correction", "")
    notice = None
    if done in CORRECTION_DONE and number.isdigit():
        notice = f"校核纠错申请 #{number} {CORRECTION_DONE[done]}，并已写入审计日志。"
    return render(request, "corrections.html", viewer=viewer, active="/corrections", notice=notice, **page)


CorrectionId = Annotated[int, PathParam(ge=1, le=2**62)]
CORRECTION_DONE = {"accepted": "已受理", "rejected": "已驳回", "corrected": "已关联更正交付，办结"}


def _answer_correction(
    request: Request, viewer: Viewer, service: Service, correction_id: int, form: dict[str, str]
) -> Response:
    """Accept, reject or link through the same library calls as ``POST /api/v1/corrections/{id}/…``
    (each writes its audit record)."""
    step = request.url.path.rsplit("/", 1)[-1]
    answers = Corrections(service)
    note = form.get("note", "").strip()[:NOTE_MAX] or None
    delivery = form.get("delivery", "").strip() or None
    try:
        if step == "accept":
            done = answers.accept(correction_id, viewer.principal, note, delivery)
        elif step == "reject":
            reason = form.get("reason", "").strip()[:NOTE_MAX]
            if not reason:
                raise InputError("驳回校核纠错申请须填写理由（核实的情况）。", path="reason")
            done = answers.reject(correction_id, viewer.principal, reason)
        else:
            if delivery is None:
                raise InputError("请选择更正数据的交付批次。", path="delivery")
            done = answers.corrected(correction_id, viewer.principal, delivery)
    except Conflict:
        raise Conflict(f"校核纠错申请 #{correction_id} 已被处理过。") from None
    except NotFound:
        raise NotFound(f"没有编号为 {correction_id} 的校核纠错申请。") from None
    target = f"{_base(request)}/corrections?done={done['status']}&correction={correction_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/corrections/{correction_id}/accept")
def accept_correction(
    request: Request, correction_id: CorrectionId, viewer: ViewerDep, service: ServiceDep, form: CheckedForm
) -> Response:
    return _answer_correction(request, viewer, service, correction_id, form)


@router.post("/corrections/{correction_id}/reject")
def reject_correction(
    request: Request, correction_id: CorrectionId, viewer: ViewerDep, service: ServiceDep, form: CheckedForm
) -> Response:
    return _answer_correction(request, viewer, service, correction_id, form)


@router.post("/corrections/{correction_id}/corrected")
def link_correction(
    request: Request, correction_id: CorrectionId, viewer: ViewerDep, service: ServiceDep, form: CheckedForm
) -> Response:
    return _answer_correction(request, viewer, service, correction_id, form)


@router.get("/kpis")
def kpis(request: Request, viewer: ViewerDep, platform: PlatformDep, month: MonthQuery = None) -> Response:
    chosen = summaries.kpi_month(platform, request.app.state.months, month)
    page = summaries.kpi_page(platform, request.app.state.months, chosen)
    return render(request, "kpis.html", viewer=viewer, active="/kpis", month=chosen, **page)


# ----------------------------------------------------------------------------------------- errors


def _error_page(request: Request, status: int, message: str) -> Response:
    viewer = None
    try:
        viewer = get_viewer(request)
    except (SignInNeeded, DatahubError):
        viewer = None
    return render(
        request, "error.html", viewer=viewer, status=status, title=ERROR_TITLES.get(status, "出错了"),
        message=message,
    )  # fmt: skip


async def _sign_in(request: Request, _exc: Exception) -> Response:
    base = _base(request)
    target = request.url.path if request.method == "GET" else f"{base}/"
    response = RedirectResponse(f"{base}/login?next={quote(target)}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path=base, httponly=True, samesite="strict")
    return response


def _datahub_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DatahubError)
    return _error_page(request, exc.http_status, exc.message)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _error_page(request, 404, f"看板中没有 {request.url.path} 这个页面。")
    if exc.status_code == 405:
        return _error_page(request, 405, "这个地址不支持该操作。")
    return _error_page(request, exc.status_code, "请求无法处理。")


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if any(e.get("loc", ("",))[0] == "query" for e in exc.errors()):
        return _error_page(request, 400, "地址中的查询参数无效（月份写作 YYYY-MM，如 2026-10）。")
    return _error_page(request, 404, f"看板中没有 {request.url.path} 这个页面。")


def create_dashboard(service: Service) -> FastAPI:
    """The dashboard application over the API's service (mounted at :data:`DASHBOARD_PATH`)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.service = service
    app.state.platform = service.platform
    app.state.sessions = Sessions(service.platform.settings.secret_key, service.platform.metadata)
    app.state.templates = _environment()
    app.state.months = summaries.MonthCache()
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(DatahubError, _datahub_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        base = request.scope[_BASE_KEY] = _base(request)
        static = request.url.path.startswith(f"{base}/static/")
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if static:
            response.headers["Cache-Control"] = "max-age=3600"  # the stylesheet holds no data
        return response

    return app
