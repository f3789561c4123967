"""Demo data for finance: the standard chart of accounts (with platform sub-accounts), the current
and previous month open, the settings row, an opening voucher (paid-in capital in the bank) and
the opening stock at cost.
Idempotent: running it again changes nothing."""

from decimal import Decimal

from erp.tenancy.dates import tenant_today

from . import chart, services
from .models import Account, SourceType, Voucher


def seed_demo(*, tenant) -> str:
    made = chart.chart_ensure()
    services.settings_get()
    today = tenant_today()
    period = services.period_get(year=today.year, month=today.month)
    opening = 0
    if not Voucher.objects.filter(source_type=SourceType.MANUAL, source_ref="seed:opening").exists() and period.is_open:
        services.voucher_create(
            date=today.replace(day=1), memo="期初：股东投入资本", source_ref="seed:opening", post=True,
            lines=[services.LineSpec(account=chart.BANK, debit=Decimal("200000.00"), memo="实收资本入账"),
                   services.LineSpec(account="3001", credit=Decimal("200000.00"), memo="实收资本")])
        opening = 1
    opening += _opening_stock(today, period)
    statement = _demo_statement(today, period)
    total = Account.objects.count()
    return (f"chart of {total} accounts ({made} new), period {period.key} ({period.status}), {opening} opening voucher(s)"
            f"{statement}")


def _demo_statement(today, period) -> str:
    """A supplier statement (对账单) of this month for the demo's partly received purchase order
    (purchasing's seed, supplier SUP-HJ): sent, confirmed by the supplier (the payable is posted) and
    half of it paid. Each run takes it one step further only where it has not been taken yet."""
    from erp.tenancy.dates import month_range
    from purchasing.selectors import supplier_ids_with_documents, suppliers_brief

    from .models import StatementStatus as S
    from .services import payables

    if not period.is_open:
        return ""
    supplier = next((s for s in suppliers_brief().values() if s["code"] == "SUP-HJ"), None)
    start, end = month_range(today.year, today.month)
    if supplier is None or supplier["id"] not in supplier_ids_with_documents(start=start, end=end):
        return ""
    statement = payables.statement_generate(supplier_id=supplier["id"], year=today.year, month=today.month)
    if statement.total_amount <= 0:
        return ""
    if statement.status == S.DRAFT:
        statement = payables.statement_send(statement=statement, why="demo")
    if statement.status == S.SENT:
        statement = payables.statement_confirm(statement=statement)
    if statement.status == S.POSTED and not statement.payments.exists():
        payables.statement_pay(statement=statement, amount=(statement.total_amount / 2).quantize(Decimal("0.01")),
                               paid_on=today, reference=f"seed:{statement.number}")
        statement.refresh_from_db()
    return f", supplier statement {statement.number} ({statement.status}, paid {statement.paid_amount})"


def _opening_stock(today, period) -> int:
    """The demo's opening stock (inventory's "OPENING" receipts) booked at cost against capital, so
    the stock account does not go negative when the demo ships."""
    from inventory.selectors import receipts_value

    if Voucher.objects.filter(source_type=SourceType.MANUAL, source_ref="seed:opening-stock").exists() or not period.is_open:
        return 0
    value = receipts_value(source_doc="OPENING")
    if value <= 0:
        return 0
    services.voucher_create(
        date=today.replace(day=1), memo="期初：库存商品", source_ref="seed:opening-stock", post=True,
        lines=[services.LineSpec(account=chart.INVENTORY, debit=value, memo="期初库存（按成本）"),
               services.LineSpec(account="3001", credit=value, memo="实收资本（实物投入）")])
    return 1
