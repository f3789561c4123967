"""Finance's "today" and wall-clock times are the tenant's, not the server's (Asia/Shanghai here): a
tenant in London at 20:00 UTC on New Year's Eve is still in December."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.tenancy.roles import Role
from finance import chart, selectors, services
from finance.models import Reconciliation

pytestmark = pytest.mark.django_db
EVE = dt.datetime(2026, 12, 31, 20, 0, tzinfo=dt.UTC)  # 2027-01-01 04:00 in Shanghai


@pytest.fixture
def london(in_tenant_a, monkeypatch):
    tenant = in_tenant_a.tenant
    tenant.timezone = "Europe/London"
    tenant.save(update_fields=["timezone"])
    monkeypatch.setattr(timezone, "now", lambda: EVE)
    chart.chart_ensure()
    return in_tenant_a


def test_booking_dates_and_the_current_period_follow_the_tenant(london):
    assert timezone.localdate(EVE) == dt.date(2027, 1, 1)  # the server's zone is a day ahead
    assert services.local_date(None) == dt.date(2026, 12, 31)
    assert services.local_date(EVE) == dt.date(2026, 12, 31)
    assert services.local_date("2026-12-31T23:30:00+00:00") == dt.date(2026, 12, 31)
    assert services.local_date(dt.date(2026, 5, 1)) == dt.date(2026, 5, 1)
    assert selectors.current_period().key == "2026-12"
    voucher = services.voucher_create(date=dt.date(2026, 12, 1), memo="capital", post=True, lines=[
        services.LineSpec(account=chart.BANK, debit="10.00"), services.LineSpec(account="3001", credit="10.00")])
    reversal = services.voucher_reverse(voucher=voucher)
    assert reversal.date == dt.date(2026, 12, 31) and reversal.period.key == "2026-12"


def test_pages_default_to_the_tenants_today_and_export_its_wall_clock(london, client):
    client.force_login(london.members[Role.FINANCE].user)
    assert 'value="2026-12-31"' in client.get(reverse("finance:voucher-new")).content.decode()
    profit = client.get(reverse("finance:profit")).content.decode()
    assert 'name="from" value="2026-12-01"' in profit and 'name="to" value="2026-12-31"' in profit
    Reconciliation.objects.create(shop_id=1, platform_order_id="P-EVE", shipped_at=EVE, last_bill_at=EVE)
    response = client.get(reverse("finance:reconciliation"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")
                                       if response.streaming else response.content.decode("utf-8-sig"))))
    row = next(r for r in rows if r and r[0] == "P-EVE")
    assert row[9].startswith("2026-12-31 20:00") and row[10].startswith("2026-12-31 20:00")
