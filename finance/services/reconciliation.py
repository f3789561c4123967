"""Reconciliation of platform orders: what was shipped and refunded against what the platform's bills
settled (one Reconciliation row per shop and platform order), its status, the operator's resolution of
an exception and the daily flag of shipped orders still unsettled past the due days."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant

from ..models import FEE_KINDS, SETTLED_KINDS, Reconciliation, ReconStatus, SettlementLine
from .ledger import ZERO, settings_get


def _recon_row(shop_id: int, poid: str, *, platform: str = "") -> Reconciliation:
    rec = Reconciliation.objects.select_for_update().filter(shop_id=shop_id, platform_order_id=poid).first()
    if rec is None:
        rec, _created = Reconciliation.objects.get_or_create(shop_id=shop_id, platform_order_id=poid,
                                                             defaults={"platform": platform})
    if platform and not rec.platform:
        rec.platform = platform
    return rec


def _recon_rows(shop_id: int, wanted: dict[str, str]) -> dict[str, Reconciliation]:
    """_recon_row for many platform orders ({platform order id: platform}), locked, in one query (three
    when some are new)."""
    rows = {r.platform_order_id: r for r in Reconciliation.objects.select_for_update().filter(
        shop_id=shop_id, platform_order_id__in=list(wanted)).order_by("platform_order_id")}
    missing = [poid for poid in wanted if poid not in rows]
    if missing:
        tenant = require_tenant()
        Reconciliation.objects.bulk_create(
            [Reconciliation(tenant=tenant, shop_id=shop_id, platform_order_id=poid, platform=wanted[poid])
             for poid in missing], ignore_conflicts=True)  # made concurrently: theirs is as good
        rows.update({r.platform_order_id: r for r in Reconciliation.objects.select_for_update().filter(
            shop_id=shop_id, platform_order_id__in=missing).order_by("platform_order_id")})
    for poid, platform in wanted.items():
        if platform and not rows[poid].platform:
            rows[poid].platform = platform
    return rows


_RECON_SETTLEMENT_FIELDS = ["platform", "order_id", "settled_amount", "fees_amount", "bill_lines", "last_bill_at",
                            "difference", "status", "updated_at"]


def _refresh_recons(shop_id: int, poids: list[str], snapshots: dict, platforms: dict | None = None) -> None:
    """Settled amount, fees, bill count and status of these platform orders from all their settlement
    lines. Four statements whatever their number (six when some have no reconciliation yet)."""
    if not poids:
        return
    sums = {row["platform_order_id"]: row for row in SettlementLine.objects.filter(
        shop_id=shop_id, platform_order_id__in=poids).values("platform_order_id").order_by().annotate(
        settled=Sum("amount", filter=Q(kind__in=SETTLED_KINDS)), fees=Sum("amount", filter=Q(kind__in=FEE_KINDS)),
        n=Count("id"), last=Max("booked_at"))}
    recs = _recon_rows(shop_id, {poid: snapshots[poid].platform if poid in snapshots else (platforms or {}).get(poid, "")
                                 for poid in poids})
    now = timezone.now()
    for poid in poids:
        snapshot = snapshots.get(poid)
        rec = recs[poid]
        agg = sums.get(poid) or {}
        rec.settled_amount = agg.get("settled") or ZERO
        rec.fees_amount = -(agg.get("fees") or ZERO)
        rec.bill_lines = agg.get("n") or 0
        rec.last_bill_at = agg.get("last")
        if snapshot is not None and rec.order_id is None:
            rec.order_id = snapshot.id
        _recompute_status(rec)
        rec.updated_at = now
    _update_rows(Reconciliation, [recs[poid] for poid in poids], _RECON_SETTLEMENT_FIELDS)


def _update_rows(model, rows: list, fields: list[str], *, batch: int = 1000) -> None:
    """Write ``fields`` of these (tenant's) rows: on Postgres one UPDATE ... FROM (VALUES ...) per
    ``batch`` rows (Django's bulk_update builds a CASE per field and row, whose compiling cost more
    than the settlement itself); elsewhere bulk_update. Row-level security applies as to any query."""
    from django.db import connection

    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields)
        return
    qn = connection.ops.quote_name
    meta = model._meta
    cols = [meta.pk, *(meta.get_field(name) for name in fields)]
    cell = "(" + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in cols) + ")"
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in cols[1:])
    names = ", ".join(qn(f.column) for f in cols)
    pk = qn(meta.pk.column)
    tenant_id = require_tenant().pk
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in part for f in cols]
            cursor.execute(f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM (VALUES {', '.join([cell] * len(part))}) "
                           f"AS v({names}) WHERE t.{pk} = v.{pk} AND t.tenant_id = %s", [*params, tenant_id])


def _recompute_status(rec: Reconciliation) -> None:
    rec.difference = rec.settled_amount - (rec.shipped_amount - rec.refunded_amount)
    if rec.bill_lines == 0:
        rec.status = ReconStatus.UNSETTLED if rec.status == ReconStatus.UNSETTLED else ReconStatus.AWAITING
    elif rec.order_id is None and rec.shipped_at is None:
        rec.status = ReconStatus.NO_ORDER
    elif rec.difference == 0:
        rec.status = ReconStatus.MATCHED
    else:
        rec.status = ReconStatus.DIFFERENCE


def _recompute(rec: Reconciliation) -> None:
    _recompute_status(rec)
    rec.save()


@transaction.atomic
def reconciliation_resolve(*, reconciliation: Reconciliation, note: str, user=None) -> Reconciliation:
    """An operator accepts an exception (a subsidy, a write-off booked by hand); new bills reopen it."""
    rec = Reconciliation.objects.select_for_update().get(pk=reconciliation.pk)
    if rec.status not in (ReconStatus.DIFFERENCE, ReconStatus.NO_ORDER, ReconStatus.UNSETTLED):
        raise Conflict(_("Only an exception (difference, bill without order, unsettled) can be resolved."))
    if not (note or "").strip():
        raise ValidationError({"note": [_("Say why the exception is accepted.")]})
    rec.status, rec.note = ReconStatus.RESOLVED, note.strip()[:300]
    rec.save(update_fields=["status", "note", "updated_at"])
    return rec


@transaction.atomic
def reconciliation_flag_unsettled(*, now=None) -> int:
    """Shipped orders with no bill line after the tenant's settlement_due_days go to the unsettled queue."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings_get().settlement_due_days)
    return Reconciliation.objects.filter(status=ReconStatus.AWAITING, bill_lines=0, shipped_at__lt=cutoff).update(
        status=ReconStatus.UNSETTLED, updated_at=now)
