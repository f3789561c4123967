"""Demo data for after-sales: settings and, once the demo has shipped orders, a few tickets in
various states made through the services. Idempotent."""

from decimal import Decimal

from . import ports, services
from .models import Ticket, TicketKind


def _shipped_demo_orders() -> list:
    """Shipped demo orders (orders.seed names them DEMO-<shop>-NNN), shipping an allocated one
    through orders' services when none has shipped yet."""
    from integrations.selectors import shops_with_platform

    found, allocated = [], []
    for shop in shops_with_platform():
        ids = [f"DEMO-{shop.code}-{i:03d}" for i in range(40)]
        snaps = ports.order_snapshots_by_platform_ids(shop_id=shop.pk, platform_order_ids=ids)
        for poid in sorted(snaps):
            snap = ports.order_snapshot(snaps[poid].id)
            if snap is None or not snap.lines:
                continue
            if ports.order_shipped(snap):
                found.append(snap)
            elif snap.status == "allocated":
                allocated.append(snap)
    if not found and allocated:
        from orders.services import order_ship

        order_ship(order_id=allocated[0].id)
        found.append(ports.order_snapshot(allocated[0].id))
    return found


def seed_demo(*, tenant) -> str:
    settings = services.aftersales_settings()
    if settings.auto_approve_refund_below is None:
        settings.auto_approve_refund_below = Decimal("20.00")
        settings.save()
    existing = Ticket.objects.count()
    if existing:
        return f"{existing} after-sales tickets already there"
    try:
        orders = _shipped_demo_orders()
    except RuntimeError as exc:  # orders' contracts not there
        return f"settings only ({exc})"
    if not orders:
        return "settings; demo tickets come once the demo has shipped orders (run seed_demo again)"
    made = []
    first = orders[0]
    second = orders[1] if len(orders) > 1 else first
    # rejected first: it holds no goods, so the open return below may take the same line
    rejected = services.ticket_create(order_id=second.id, kind=TicketKind.RETURN_REFUND, reason="不想要了 / changed mind",
                                      lines=[{"order_line_id": second.lines[0].id, "quantity": 1}])
    services.ticket_reject(ticket_id=rejected.pk, why="demo: past the return window")
    made.append(rejected)
    made.append(services.ticket_create(order_id=first.id, kind=TicketKind.RETURN_REFUND, reason="尺码不合适 / wrong size",
                                       lines=[{"order_line_id": first.lines[0].id, "quantity": 1}]))
    refund_only = services.ticket_create(order_id=first.id, kind=TicketKind.REFUND_ONLY, reason="包装破损 / damaged box",
                                         requested_amount=min(Decimal("8.00"), Decimal(first.paid_amount or 8)))
    made.append(refund_only)
    if refund_only.status == "open":
        services.ticket_approve(ticket_id=refund_only.pk, why="demo")
    services.ticket_refund(ticket_id=refund_only.pk, why="demo")
    services.ticket_complete(ticket_id=refund_only.pk, why="demo: refunded on the platform")
    reship = services.ticket_create(order_id=second.id, kind=TicketKind.RESHIP, reason="少发一件 / item missing",
                                    lines=[{"order_line_id": second.lines[0].id, "quantity": 1}])
    services.ticket_approve(ticket_id=reship.pk, why="demo")
    made.append(reship)
    return f"{len(made)} demo after-sales tickets"
