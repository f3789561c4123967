"""Inventory's dates are the tenant's (erp.tenancy.dates), not the server's: document numbers, the
stock health window and promotion lock windows given as dates or wall-clock times."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory import selectors, services
from inventory.models import MoveKind, StockMove

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"  # UTC-8 in December; the server's zone is Asia/Shanghai (UTC+8)


def _tenant_zone(stock, name):
    stock.tenant.timezone = name
    stock.tenant.save(update_fields=["timezone"])


def _at(monkeypatch, when):
    monkeypatch.setattr(timezone, "now", lambda: when)


def test_document_numbers_carry_the_tenants_date(stock, monkeypatch):
    _tenant_zone(stock, LA)
    _at(monkeypatch, dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC))  # LA: Dec 6, 19:00; Shanghai: Dec 7
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    transfer = services.transfer_create(from_warehouse=stock.wh1, to_warehouse=stock.wh2, lines=[(stock.sku, 1)])
    assert transfer.number == "TR20261206-0001"
    assert services.stocktake_create(warehouse=stock.wh1).number == "ST20261206-0001"
    _at(monkeypatch, dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC))  # LA: Dec 7, 01:00: a new day, numbers restart
    again = services.transfer_create(from_warehouse=stock.wh1, to_warehouse=stock.wh2, lines=[(stock.sku, 1)])
    assert again.number == "TR20261207-0001"


def test_stock_health_counts_the_tenants_days(stock, monkeypatch):
    _tenant_zone(stock, LA)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=20)
    for at, units in ((dt.datetime(2026, 12, 7, 7, 30, tzinfo=dt.UTC), 2),  # LA Dec 6, 23:30
                      (dt.datetime(2026, 12, 7, 8, 10, tzinfo=dt.UTC), 3)):  # LA Dec 7, 00:10
        StockMove.objects.create(warehouse=stock.wh1, sku=stock.sku, kind=MoveKind.SHIPMENT, on_hand_delta=-units,
                                 on_hand_after=0, reason="shipment", created_at=at)
    _at(monkeypatch, dt.datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC))  # LA Dec 7, 00:30 (24 h back is Dec 6 00:30)
    assert {ln.code: ln.sold for ln in selectors.stock_health(days=1)}[stock.sku.code] == 3  # today only
    assert {ln.code: ln.sold for ln in selectors.stock_health(days=2)}[stock.sku.code] == 5


def test_lock_window_given_as_dates_or_wall_clock_is_the_tenants(stock, monkeypatch):
    _tenant_zone(stock, LA)
    _at(monkeypatch, dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC))  # LA Dec 7, 04:00
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    lock = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=2, name="双12", warehouse=stock.wh1,
                                      starts_at=dt.date(2026, 12, 12), ends_at=dt.date(2026, 12, 12))
    assert lock.starts_at == dt.datetime(2026, 12, 12, 8, 0, tzinfo=dt.UTC)  # LA midnight
    assert lock.ends_at == dt.datetime(2026, 12, 13, 8, 0, tzinfo=dt.UTC)  # the whole day
    wall = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=1, name="flash", warehouse=stock.wh1,
                                      starts_at=dt.datetime(2026, 12, 8, 20, 0), ends_at=dt.datetime(2026, 12, 8, 22, 0))
    assert wall.starts_at == dt.datetime(2026, 12, 9, 4, 0, tzinfo=dt.UTC)
    aware = dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC)
    kept = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=1, name="x", warehouse=stock.wh1,
                                      starts_at=aware, ends_at=aware + dt.timedelta(hours=1))
    assert kept.starts_at == aware
    for bad in (None, "tomorrow", 5):
        with pytest.raises(ValidationError) as exc:
            services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=1, name="x", warehouse=stock.wh1,
                                       starts_at=bad, ends_at=aware)
        assert "starts_at" in exc.value.message_dict
