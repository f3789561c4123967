"""Bill lines as the simulated platforms render them (Taobao amounts in fen, JD and Pinduoduo in
yuan), mapped by the real adapters and stored by integrations, reconcile against shipped orders."""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from finance.models import Reconciliation
from finance.selectors import account_balances, books_verify
from integrations.adapters import adapter_class
from integrations.mock_platforms import jd, pdd, taobao
from integrations.mock_platforms.scenario import Bill
from integrations.models import Shop
from integrations.store import store_bill_lines

from .conftest import D, line, ship

pytestmark = pytest.mark.django_db
RENDER = {"taobao": taobao.render_bill, "jd": jd.render_bill, "pdd": pdd.render_bill}
WHEN = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def platform_bills(shop, order_id, rows):
    """Render mock bills the platform's way and map them back with the shop's adapter."""
    adapter = adapter_class(shop.platform)(shop)
    out = []
    for n, (kind, fen) in enumerate(rows):
        raw = RENDER[shop.platform](Bill(id=f"{order_id}{n:02d}", platform=shop.platform, shop=shop.code,
                                         order_id=order_id, line_id=f"{order_id}-1", kind=kind, amount=fen,
                                         booked_at=WHEN, biz_time=WHEN))
        out.append(adapter.map_bill(raw))
    return out


@pytest.mark.parametrize("platform", ["taobao", "jd", "pdd"])
def test_rendered_bills_reconcile(world, platform):
    shop = world["shop"] if platform == "taobao" else Shop.objects.create(code=f"{platform}1", name=platform,
                                                                         platform=platform)
    poid = "7001" if platform != "pdd" else "261120-7001"
    ship(shop, poid, line("A", 2, price="25.00"), freight="6.00")
    bills = platform_bills(shop, poid, [("sale", 5000), ("freight", 600), ("commission", -150),
                                        ("service_fee", -30)])
    with transaction.atomic():
        result = store_bill_lines(shop=shop, lines=bills)
    assert result.consumer_error == ""
    rec = Reconciliation.objects.get(shop_id=shop.pk, platform_order_id=poid)
    assert (rec.status, rec.settled_amount, rec.fees_amount) == ("matched", D("56.00"), D("1.80")), platform
    balances = account_balances()
    suffix = {"taobao": "01", "jd": "02", "pdd": "03"}[platform]
    assert balances[f"1122{suffix}"] == D("0.00") and balances[f"1012{suffix}"] == D("54.20")
    # the same page again (a re-pull): nothing changes
    with transaction.atomic():
        store_bill_lines(shop=shop, lines=bills)
    assert Reconciliation.objects.get(pk=rec.pk).settled_amount == D("56.00")
    assert books_verify() == []
