"""The ledger check: re-derive every stock level from moves, reservations and locks, report the
drift and optionally repair it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import LockStatus, Reservation, ReservationStatus, StockLevel, StockLock, StockMove


@dataclass
class Drift:
    warehouse_id: int
    sku_id: int
    field: str
    recorded: int
    derived: int


@transaction.atomic
def stock_verify(*, repair: bool = False) -> list[Drift]:
    """Re-derive every level of the current tenant: on_hand / in_transit / defective from the moves,
    reserved from open reservations, locked from active promotion locks. Returns the differences;
    with ``repair`` the levels are set to the derived figures (all levels locked meanwhile)."""
    from django.db.models import Sum

    levels = {(lv.warehouse_id, lv.sku_id): lv for lv in StockLevel.objects.select_for_update().order_by("id")}
    derived: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(stock_sql.BUCKETS, 0))
    for w, s, oh, it, df in (StockMove.objects.values("warehouse_id", "sku_id")
                             .annotate(oh=Sum("on_hand_delta"), it=Sum("in_transit_delta"), df=Sum("defective_delta"))
                             .values_list("warehouse_id", "sku_id", "oh", "it", "df")):
        derived[(w, s)].update(on_hand=oh or 0, in_transit=it or 0, defective=df or 0)
    for w, s, n in (Reservation.objects.filter(status=ReservationStatus.OPEN).values("warehouse_id", "sku_id")
                    .annotate(n=Sum("quantity")).values_list("warehouse_id", "sku_id", "n")):
        derived[(w, s)]["reserved"] = n or 0
    for w, s, n in (StockLock.objects.filter(status=LockStatus.ACTIVE).values("warehouse_id", "sku_id")
                    .annotate(n=Sum("remaining")).values_list("warehouse_id", "sku_id", "n")):
        derived[(w, s)]["locked"] = n or 0
    drifts = []
    for key in sorted(set(levels) | set(derived)):
        level = levels.get(key)
        want = derived[key]
        for field in stock_sql.BUCKETS:
            have = getattr(level, field) if level else 0
            if have != want[field]:
                drifts.append(Drift(warehouse_id=key[0], sku_id=key[1], field=field, recorded=have, derived=want[field]))
    if repair and drifts:
        stock_sql.ensure_levels({(d.warehouse_id, d.sku_id) for d in drifts})
        for key in sorted({(d.warehouse_id, d.sku_id) for d in drifts}):
            want = derived[key]
            try:
                with transaction.atomic():
                    StockLevel.objects.filter(warehouse_id=key[0], sku_id=key[1]).update(
                        **want, version=F("version") + 1, needs_push=True, updated_at=timezone.now())
            except IntegrityError:
                raise ValidationError(
                    _("Warehouse %(w)s SKU %(s)s: the ledger itself breaks a rule (%(want)s); fix the documents.")
                    % {"w": key[0], "s": key[1], "want": want})
    return drifts
