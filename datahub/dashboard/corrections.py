"""What the dashboard's 校核纠错 page shows (datahub/access/corrections.py has the rules).

Stewards and admins see every request and answer any; a department sees its inbox (the requests it
answers) and answers them; anyone signed in also sees the requests it filed itself, with their outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from datahub.access import Principal, Role
from datahub.access.corrections import Corrections
from datahub.access.grants import DECIDERS, last_answer_day
from datahub.dashboard import labels
from datahub.dashboard.pages import column_title, department_name
from datahub.metadata import CorrectionStatus
from datahub.serving.service import Service

ANSWERED_SHOWN = 20


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.removesuffix("Z")) if text else None


def _row(
    service: Service, corrections: Corrections, principal: Principal, c: dict[str, Any]
) -> dict[str, Any]:
    served = service.catalog.get(str(c["view"]))
    view = served.contract if served else None
    due = _when(c["due_at"])
    answers = _answers(principal, c)
    return {
        **c,
        "view_title": view.title if view else c["view"],
        "field_title": column_title(view, c["field"]) if view else c["field"],
        "keys_text": "；".join("、".join(str(v) for v in key.values()) for key in c["keys"]),
        "owner": department_name(service.platform, c["owner_department"]),
        "status_name": labels.label(labels.CORRECTION_STATUS_NAMES, str(c["status"])),
        "due_day": last_answer_day(due) if due else None,
        "requested": _when(c["requested_at"]),
        "answered": _when(c["answered_at"]),
        "answers": answers,
        "deliveries": corrections.candidates(int(c["correction_id"]), principal)
        if answers and c["status"] in (CorrectionStatus.open, CorrectionStatus.accepted)
        else [],
    }


def _answers(principal: Principal, c: dict[str, Any]) -> bool:
    if principal.role in DECIDERS:
        return True
    return principal.role is Role.department and principal.department == c["owner_department"]


def corrections_page(service: Service, principal: Principal) -> dict[str, Any]:
    """The inbox (open first, the earliest due first), answered requests, and the viewer's own."""
    corrections = Corrections(service)
    seen = corrections.find(principal)
    inbox = [c for c in seen if _answers(principal, c)]
    waiting = sorted(
        (c for c in inbox if c["status"] in (CorrectionStatus.open, CorrectionStatus.accepted)),
        key=lambda c: (c["status"] != CorrectionStatus.open, c["due_at"]),
    )
    answered = [c for c in inbox if c["status"] in (CorrectionStatus.rejected, CorrectionStatus.corrected)]
    mine = [c for c in seen if c["client_id"] == principal.client_id]
    open_inbox = [c for c in inbox if c["status"] == CorrectionStatus.open]
    return {
        "answers_any": principal.role in DECIDERS or principal.role is Role.department,
        "waiting": [_row(service, corrections, principal, c) for c in waiting],
        "answered": [_row(service, corrections, principal, c) for c in answered[:ANSWERED_SHOWN]],
        "mine": [_row(service, corrections, principal, c) for c in mine],
        "open_count": len(open_inbox),
        "overdue_count": sum(1 for c in open_inbox if c["overdue"]),
        "late_count": sum(1 for c in inbox if c["answered_at"] and c["overdue"]),
    }
