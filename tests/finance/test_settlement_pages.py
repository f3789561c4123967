"""A page of platform bill lines is settled set-based: one settlement voucher per booking date (each
bill line with its own voucher lines, named in their memo), the same idempotency as bill by bill,
and a number of SQL statements that does not grow with the page."""

import datetime
from collections import defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp.api.exceptions import Conflict
from finance import services
from finance.models import PostingIssue, Reconciliation, SettlementLine, SourceType, Voucher, VoucherLine
from finance.selectors import books_verify
from finance.services import settlement

from .conftest import T0, D, bill, line, settle, ship

pytestmark = pytest.mark.django_db
DAY2 = T0 + datetime.timedelta(days=1)


def bill_vouchers():
    return Voucher.objects.filter(source_type=SourceType.PLATFORM_BILL).order_by("date", "id")


def status(poid):
    r = Reconciliation.objects.get(platform_order_id=poid)
    return r.status, r.difference


def test_a_page_posts_one_voucher_per_booking_date_and_traces_every_bill_line(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 2, price="25.00"))
    ship(shop, "P2", line("B", 1, price="20.00"), freight="5.00")
    page = [bill("P1", "sale", "50.00", bill_id="S1", booked_at=T0),
            bill("P1", "commission", "-1.50", bill_id="C1", booked_at=T0),
            bill("P2", "sale", "20.00", bill_id="S2", booked_at=T0),
            bill("P2", "freight", "5.00", bill_id="F2", booked_at=T0),
            bill("NOPE", "sale", "10.00", bill_id="N1", booked_at=T0),
            bill("P2", "commission", "-0.40", bill_id="C2", booked_at=DAY2)]
    assert settle(shop, *page) == {"posted": 6, "unchanged": 0}
    first, second = bill_vouchers()
    assert (first.date, second.date) == (services.local_date(T0), services.local_date(DAY2))
    assert first.source_ref.startswith(f"{shop.pk}:{first.date.isoformat()}:5:")  # five bill lines
    assert second.source_ref == f"{shop.pk}:C2"  # a voucher of one bill line keeps its own reference
    # each bill line has its own balanced lines in its date's voucher, its bill id in their memo
    sides = defaultdict(lambda: [D("0"), D("0"), set()])
    for ln in VoucherLine.objects.filter(voucher__source_type=SourceType.PLATFORM_BILL):
        (bill_id,) = set(ln.memo.split()) & {b.platform_bill_id for b in page}
        sides[bill_id][0] += ln.debit
        sides[bill_id][1] += ln.credit
        sides[bill_id][2].add(ln.voucher_id)
    assert {b: (dr, cr, v) for b, (dr, cr, v) in sides.items()} == {
        "S1": (D("50.00"), D("50.00"), {first.pk}), "C1": (D("1.50"), D("1.50"), {first.pk}),
        "S2": (D("20.00"), D("20.00"), {first.pk}), "F2": (D("5.00"), D("5.00"), {first.pk}),
        "N1": (D("10.00"), D("10.00"), {first.pk}), "C2": (D("0.40"), D("0.40"), {second.pk})}
    assert [status(p) for p in ("P1", "P2", "NOPE")] == [
        ("matched", D("0.00")), ("matched", D("0.00")), ("no_order", D("10.00"))]
    assert Reconciliation.objects.get(platform_order_id="P2").fees_amount == D("0.40")
    assert books_verify() == []

    # the same page again posts nothing
    assert settle(shop, *page) == {"posted": 0, "unchanged": 6}
    assert bill_vouchers().count() == 2

    # two amounts changed on one date: one voucher with only the differences
    page[0] = bill("P1", "sale", "52.00", bill_id="S1", booked_at=T0)
    page[2] = bill("P2", "sale", "19.00", bill_id="S2", booked_at=T0)
    assert settle(shop, *page) == {"posted": 2, "unchanged": 4}
    third = bill_vouchers().order_by("id").last()
    lines = list(third.lines.all())
    assert sum((ln.debit for ln in lines), D("0")) == D("3.00") == sum((ln.credit for ln in lines), D("0"))
    assert all("(adjustment)" in ln.memo for ln in lines)
    assert [status(p) for p in ("P1", "P2")] == [("difference", D("2.00")), ("difference", D("-1.00"))]
    assert dict(SettlementLine.objects.values_list("platform_bill_id", "postings")) == {
        "S1": 2, "C1": 1, "S2": 2, "F2": 1, "N1": 1, "C2": 1}
    assert settle(shop, *page) == {"posted": 0, "unchanged": 6}
    assert bill_vouchers().count() == 3 and books_verify() == []


def test_statements_per_page_do_not_grow_with_the_page(world):
    shop = world["shop"]
    for poid in ("P1", "P2", "P3", "P4"):
        ship(shop, poid, line("A", 1, price="30.00"))
    settle(shop, bill("WARM", "sale", "1.00", booked_at=T0))  # accounts, period: made on first use

    def page(poids, unknown):
        bills = [b for p in poids for b in (bill(p, "sale", "30.00", booked_at=T0),
                                            bill(p, "commission", "-0.90", booked_at=T0))]
        return bills + [bill(f"U{n}", "sale", "5.00", booked_at=T0) for n in range(unknown)]

    counts = []
    for bills in (page(["P1"], 2), page(["P2", "P3", "P4"], 12)):
        with CaptureQueriesContext(connection) as queries:
            settle(shop, *bills)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert [status(p)[0] for p in ("P1", "P2", "P3", "P4", "U11")] == ["matched"] * 4 + ["no_order"]
    assert bill_vouchers().count() == 3 and books_verify() == []


def test_a_page_too_long_for_one_voucher_is_split_in_page_order(world, monkeypatch):
    monkeypatch.setattr(settlement, "SETTLEMENT_VOUCHER_MAX_LINES", 4)  # two sale bill lines per voucher
    shop = world["shop"]
    settle(shop, *[bill(f"U{n}", "sale", "5.00", bill_id=f"X{n}", booked_at=T0) for n in range(5)])
    vouchers = list(bill_vouchers())
    assert [v.lines.count() for v in vouchers] == [4, 4, 2]
    assert vouchers[-1].source_ref == f"{shop.pk}:X4"
    assert SettlementLine.objects.count() == 5 and books_verify() == []


def test_a_bill_line_whose_voucher_exists_is_not_recorded_without_it(world, monkeypatch):
    """A voucher reference posted meanwhile (a concurrent pull of the same bill) stops the page:
    nothing is recorded without its voucher (through the event: a posting issue to retry)."""
    shop = world["shop"]
    services.vouchers_post_auto([services.VoucherSpec(
        date=services.local_date(T0), memo="elsewhere", source_type=SourceType.PLATFORM_BILL,
        source_ref=f"{shop.pk}:X1", lines=[services.LineSpec(account="1002", debit=D("1.00")),
                                           services.LineSpec(account="6001", credit=D("1.00"))])])
    with pytest.raises(Conflict):
        settle(shop, bill("U1", "sale", "5.00", bill_id="X1", booked_at=T0))
    assert SettlementLine.objects.count() == 0 and not Reconciliation.objects.exists()
    assert bill_vouchers().count() == 1

    import integrations.selectors

    monkeypatch.setattr(integrations.selectors, "normalized_bill_lines", lambda *, shop_id, platform_bill_ids: [
        bill("U1", "sale", "5.00", bill_id=pid, booked_at=T0) for pid in platform_bill_ids])
    assert services.on_platform_bills_changed(shop_id=shop.pk, platform_bill_ids=["X1"]) is None
    issue = PostingIssue.objects.get(source_type="platform_bills.changed")
    assert "Conflict" in issue.error and SettlementLine.objects.count() == 0
