"""Supplier statements (对账单), payables and payments: a hand-computed month.

Supplier S1 (payment terms 30 days), PO at 12.00 for TEE and 5.00 for MUG:
  receipt 1: 100 TEE            = 1200.00
  receipt 2:  20 MUG            =  100.00
  return:     10 TEE (-10×12)   = -120.00
  agreed price change on TEE (rebate 0.50 on 90 kept) = -45.00
  statement total               = 1135.00
The receipts and the return already booked Dr 1405 / Cr 2202 = 1200 + 100 - 120 = 1180.00, so the
statement's voucher books only the adjustment: Dr 2202 45.00 / Cr 1405 45.00.
"""

import datetime
from decimal import Decimal

import pytest

from finance import chart, selectors
from finance.models import SourceType, StatementStatus, SupplierStatement, Voucher, VoucherLine
from finance.services import payables
from purchasing import services as purchasing
from purchasing.models import Supplier, SupplierItem
from tests.inventory.factories import SKUFactory, WarehouseFactory

D = Decimal


class Month:
    def __init__(self, world):
        self.world = world
        self.user = world.members["finance"].user
        self.op = world.members["operator"].user
        chart.chart_ensure()
        self.wh = WarehouseFactory(tenant=world.tenant, code="HZ", name="杭州仓", priority=1)
        self.tee = SKUFactory(tenant=world.tenant, code="TEE", unit_cost="10.00")
        self.mug = SKUFactory(tenant=world.tenant, code="MUG", unit_cost="4.00")
        self.supplier = Supplier.objects.create(code="S1", name="纺织厂", payment_terms_days=30)
        self.other = Supplier.objects.create(code="S2", name="日用品厂", payment_terms_days=60)
        for sup in (self.supplier, self.other):
            purchasing.supplier_item_save(item=SupplierItem(supplier=sup, sku=self.tee, unit_price=D("12.00")))
            purchasing.supplier_item_save(item=SupplierItem(supplier=sup, sku=self.mug, unit_price=D("5.00")))

    def po(self, supplier=None, lines=None):
        po = purchasing.po_create(supplier=supplier or self.supplier, warehouse=self.wh, actor=self.op,
                                  lines=lines or [{"sku": self.tee, "quantity": 100}, {"sku": self.mug, "quantity": 20}])
        purchasing.po_approve(po_id=po.pk, actor=self.op)
        return purchasing.po_send(po_id=po.pk, actor=self.op)

    def line_of(self, po, sku):
        return po.lines.get(sku=sku)

    def receive(self, po, sku, qty, ref):
        return purchasing.po_receive(po_id=po.pk, reference=ref, actor=self.op,
                                     lines=[{"line": self.line_of(po, sku).pk, "quantity": qty}])

    def give_back(self, po, sku, qty, ref):
        return purchasing.po_return(po_id=po.pk, reference=ref, actor=self.op, why="damaged",
                                    lines=[{"line": self.line_of(po, sku).pk, "quantity": qty}])


@pytest.fixture
def m(in_tenant_a):
    return Month(in_tenant_a)


def _generate(m, supplier=None):
    from erp.tenancy.dates import tenant_today

    today = tenant_today()
    return payables.statement_generate(supplier_id=(supplier or m.supplier).pk, year=today.year, month=today.month,
                                       user=m.user)


def _payable_by_supplier(supplier_id):
    lines = VoucherLine.objects.filter(account__code=chart.PAYABLE, supplier_id=supplier_id)
    return sum((ln.credit - ln.debit for ln in lines), D("0"))


def test_statement_month_hand_computed(m):
    po = m.po()
    r1 = m.receive(po, m.tee, 100, "r1")
    m.receive(po, m.mug, 20, "r2")
    ret = m.give_back(po, m.tee, 10, "b1")
    other_po = m.po(supplier=m.other, lines=[{"sku": m.tee, "quantity": 5}])
    m.receive(other_po, m.tee, 5, "o1")

    st = _generate(m)
    assert st.status == StatementStatus.DRAFT
    lines = list(st.lines.order_by("id"))
    assert [(ln.kind, ln.quantity, ln.amount) for ln in lines] == [
        ("receipt", 100, D("1200.00")), ("receipt", 20, D("100.00")), ("return", -10, D("-120.00"))]
    assert lines[0].receipt_id == r1.pk and lines[0].receipt_number == r1.number
    assert lines[0].purchase_order_number == po.number and lines[2].receipt_id == ret.pk
    assert st.total_amount == D("1180.00")
    assert st.due_date == payables._last_day(st.year, st.month) + datetime.timedelta(days=30)

    # regenerating does not duplicate; a new receipt in the open draft is added
    assert _generate(m).lines.count() == 3
    po2 = m.po(lines=[{"sku": m.mug, "quantity": 4}])
    m.receive(po2, m.mug, 4, "r3")
    st = _generate(m)
    assert st.lines.count() == 4 and st.total_amount == D("1200.00")
    assert SupplierStatement.objects.filter(supplier_id=m.supplier.pk).count() == 1

    payables.statement_adjust(statement=st, amount="-20.00", memo="test adj", user=m.user)
    st.refresh_from_db()
    assert st.total_amount == D("1180.00")
    payables.statement_adjust(statement=st, amount="-45.00", memo="TEE rebate 0.50 × 90", sku_id=m.tee.pk, user=m.user)
    st.refresh_from_db()
    assert st.total_amount == D("1135.00")

    payables.statement_send(statement=st, user=m.user)
    st.refresh_from_db()
    assert st.status == StatementStatus.SENT
    # sent: generating again changes nothing, even with a new receipt
    po3 = m.po(lines=[{"sku": m.mug, "quantity": 2}])
    m.receive(po3, m.mug, 2, "r4")
    assert _generate(m).lines.count() == 6

    # the supplier disputes the test adjustment; the buyer corrects it and re-sends
    test_line = st.lines.get(memo="test adj")
    payables.statement_dispute(statement=st, supplier_id=m.supplier.pk, lines=[{"line": test_line.pk, "reason": "never agreed"}])
    st.refresh_from_db()
    assert st.status == StatementStatus.DISPUTED
    payables.statement_adjust(statement=st, amount="20.00", memo="withdrawn", corrects=test_line.pk, user=m.user)
    payables.statement_send(statement=st, user=m.user)
    st.refresh_from_db()
    assert st.status == StatementStatus.SENT and st.total_amount == D("1155.00")

    # booked at receipt: 1200 + 100 - 120 + 20 (r3) + 10 (r4, received after the statement was sent)
    assert _payable_by_supplier(m.supplier.pk) == D("1210.00")
    payables.statement_confirm(statement=st, supplier_id=m.supplier.pk)
    st.refresh_from_db()
    assert st.status == StatementStatus.POSTED
    assert st.booked_amount == D("1200.00")
    v = Voucher.objects.get(source_type=SourceType.SUPPLIER_STATEMENT, source_ref=str(st.pk))
    assert st.voucher_id == v.pk
    vlines = [(ln.account.code, ln.debit, ln.credit) for ln in v.lines.select_related("account").order_by("line_no")]
    assert sorted(vlines) == sorted([
        (chart.PAYABLE, D("20.00"), D("0.00")), (chart.INVENTORY, D("0.00"), D("20.00")),
        (chart.PAYABLE, D("45.00"), D("0.00")), (chart.INVENTORY, D("0.00"), D("45.00")),
        (chart.INVENTORY, D("20.00"), D("0.00")), (chart.PAYABLE, D("0.00"), D("20.00"))])
    assert sum(ln.debit for ln in v.lines.all()) == sum(ln.credit for ln in v.lines.all()) == D("85.00")
    # the ledger now owes the statement plus r4 (on no statement yet)
    assert _payable_by_supplier(m.supplier.pk) == D("1165.00") == st.total_amount + D("10.00")

    # two partial payments
    from erp.tenancy.dates import tenant_today

    today = tenant_today()
    p1 = payables.statement_pay(statement=st, amount="500.00", paid_on=today, reference="BANK-1", user=m.user)
    st.refresh_from_db()
    assert st.status == StatementStatus.POSTED and st.paid_amount == D("500.00")
    pv = p1.voucher
    assert [(ln.account.code, ln.debit, ln.credit) for ln in pv.lines.select_related("account").order_by("line_no")] == [
        (chart.PAYABLE, D("500.00"), D("0.00")), (chart.BANK, D("0.00"), D("500.00"))]
    # the same bank reference again records nothing new
    assert payables.statement_pay(statement=st, amount="500.00", reference="BANK-1").pk == p1.pk

    ageing = selectors.supplier_ageing(as_of=st.due_date + datetime.timedelta(days=45))
    row = ageing["rows"][0]
    assert row["supplier_id"] == m.supplier.pk and row["d31_60"] == D("655.00") and row["total"] == D("655.00")
    assert row["ledger"] == D("665.00")
    assert selectors.supplier_ageing(as_of=st.due_date - datetime.timedelta(days=1))["rows"][0]["not_due"] == D("655.00")
    assert selectors.supplier_ageing(as_of=st.due_date + datetime.timedelta(days=91))["totals"]["d90_plus"] == D("655.00")

    payables.statement_pay(statement=st, amount="655.00", paid_on=today, user=m.user)
    st.refresh_from_db()
    assert st.status == StatementStatus.PAID and st.outstanding == 0
    assert _payable_by_supplier(m.supplier.pk) == D("10.00")
    assert selectors.supplier_ageing(as_of=today)["rows"] == []


def test_wrong_states_and_bad_input(m):
    from django.core.exceptions import ValidationError

    from erp.api.exceptions import Conflict

    po = m.po()
    m.receive(po, m.tee, 10, "r1")
    st = _generate(m)
    with pytest.raises(Conflict):
        payables.statement_confirm(statement=st, supplier_id=m.supplier.pk)
    with pytest.raises(Conflict):
        payables.statement_pay(statement=st, amount="1.00")
    with pytest.raises(ValidationError):
        payables.statement_adjust(statement=st, amount="0", memo="x")
    with pytest.raises(ValidationError):
        payables.statement_adjust(statement=st, amount="5", memo=" ")
    payables.statement_send(statement=st)
    with pytest.raises(ValidationError):
        payables.statement_dispute(statement=st, supplier_id=m.supplier.pk, lines=[{"line": 999999, "reason": "x"}])
    with pytest.raises(ValidationError):
        payables.statement_dispute(statement=st, supplier_id=m.supplier.pk, lines=[])
    from django.http import Http404

    with pytest.raises(Http404):  # another supplier's statement
        payables.statement_confirm(statement=st, supplier_id=m.other.pk)
    payables.statement_confirm(statement=st, supplier_id=m.supplier.pk)
    st.refresh_from_db()
    assert st.status == StatementStatus.POSTED and st.voucher_id is None  # booked on receipt exactly
    with pytest.raises(ValidationError):
        payables.statement_pay(statement=st, amount="120.01")
    with pytest.raises(ValidationError):
        payables.statement_pay(statement=st, amount="-1")
    with pytest.raises(ValidationError):
        payables.statement_generate(supplier_id=m.supplier.pk, year=2026, month=13)


def test_a_receipt_entered_late_goes_on_the_next_statement(m):
    from erp.tenancy.dates import day_start, tenant_today

    today = tenant_today()
    last_month = today.replace(day=1) - datetime.timedelta(days=1)
    po = m.po()
    m.receive(po, m.tee, 10, "early")
    from purchasing.models import GoodsReceipt

    GoodsReceipt.objects.update(received_at=day_start(last_month.replace(day=10)))
    old = payables.statement_generate(supplier_id=m.supplier.pk, year=last_month.year, month=last_month.month)
    assert old.total_amount == D("120.00")
    payables.statement_send(statement=old)
    purchasing.po_receive(po_id=po.pk, reference="late", actor=m.op, received_at=day_start(last_month.replace(day=20)),
                          lines=[{"line": m.line_of(po, m.tee).pk, "quantity": 5}])
    assert payables.statement_generate(supplier_id=m.supplier.pk, year=last_month.year,
                                       month=last_month.month).lines.count() == 1  # sent: unchanged
    new = _generate(m)
    assert [(ln.quantity, ln.amount, ln.date) for ln in new.lines.all()] == [(5, D("60.00"), last_month.replace(day=20))]


def test_monthly_job_drafts_last_months_statements_once(m, tenant_a):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from erp.tenancy.dates import day_start, tenant_today
    from finance.tasks import generate_supplier_statements_for_tenant
    from purchasing.models import GoodsReceipt

    # the beat schedule the migration installs (run again here: a flushing test may have emptied the table)
    importlib.import_module("finance.migrations.0006_statements_beat").add_schedule(apps, None)
    task = PeriodicTask.objects.get(task="finance.generate_supplier_statements", enabled=True)
    assert task.crontab.day_of_month == "1"
    last_month = tenant_today().replace(day=1) - datetime.timedelta(days=1)
    po = m.po()
    m.receive(po, m.tee, 10, "r1")
    GoodsReceipt.objects.update(received_at=day_start(last_month.replace(day=3)))
    assert generate_supplier_statements_for_tenant.run(tenant_id=tenant_a.tenant.pk) == 1
    assert generate_supplier_statements_for_tenant.run(tenant_id=tenant_a.tenant.pk) == 1
    st = SupplierStatement.objects.get()
    assert (st.year, st.month, st.supplier_id, st.total_amount) == (last_month.year, last_month.month, m.supplier.pk,
                                                                   D("120.00"))
    assert st.lines.count() == 1
