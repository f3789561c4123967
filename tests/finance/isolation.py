"""Row builders for finance models the generic isolation test cannot build automatically."""

from decimal import Decimal

from erp.tenancy.testing import register_row_builder
from finance import chart, services
from finance.models import Voucher, VoucherLine


def _voucher():
    import datetime

    chart.chart_ensure()
    return services.voucher_create(date=datetime.date(2026, 11, 5), memo="iso", lines=[
        services.LineSpec(account=chart.BANK, debit=Decimal("1.00")), services.LineSpec(account="3001", credit=Decimal("1.00"))])


def _voucher_line():
    return _voucher().lines.first()


register_row_builder(Voucher, _voucher)
register_row_builder(VoucherLine, _voucher_line)
