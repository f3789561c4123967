"""Operator pages: list with cards and filters, detail with actions and receive form, export,
suggestions with create-POs; dashboard cards and nav; the seed; the nightly task."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from inventory.models import StockLevel
from purchasing import services
from purchasing.models import POStatus, PurchaseOrder, ReorderSuggestion, Supplier, SupplierItem

pytestmark = pytest.mark.django_db


def login(client, pw, role=Role.OPERATOR):
    client.force_login(pw.world.members[role].user)
    return client


def text(response):
    return response.content.decode()


def test_list_and_detail_render(client, pw):
    draft = pw.po()
    sent = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    login(client, pw)
    body = text(client.get(reverse("purchasing:list")))
    assert draft.number in body and sent.number in body and "Awaiting receipt" in body
    body = text(client.get(reverse("purchasing:list"), {"status": "awaiting"}))
    assert sent.number in body and draft.number not in body
    response = client.get(reverse("purchasing:list"), {"status": "bogus", "supplier": "x"})
    assert response.status_code == 200
    body = text(client.get(reverse("purchasing:detail", args=[draft.pk])))
    assert 'value="approve"' in body and pw.sku.code in body and "po-timeline" in body
    body = text(client.get(reverse("purchasing:detail", args=[sent.pk])))
    assert 'id="po-receive"' in body
    assert client.get(reverse("purchasing:detail", args=[10**9])).status_code == 404


def test_actions_and_receive_from_the_page(client, pw):
    po = pw.po([{"sku": pw.sku, "quantity": 10}])
    login(client, pw)
    client.post(reverse("purchasing:action", args=[po.pk]), {"action": "approve", "why": "ok"})
    client.post(reverse("purchasing:action", args=[po.pk]), {"action": "send"})
    po.refresh_from_db()
    assert po.status == POStatus.SENT
    response = client.post(reverse("purchasing:action", args=[po.pk]), {"action": "approve"}, follow=True)
    assert "cannot approve" in text(response)
    line = po.lines.get()
    url = reverse("purchasing:receive", args=[po.pk])
    response = client.post(url, {"reference": "P1", f"qty_{line.pk}": "4", "kind": "receive"}, follow=True)
    assert "Recorded" in text(response)
    response = client.post(url, {"reference": "P1", f"qty_{line.pk}": "4", "kind": "receive"}, follow=True)
    assert "nothing was done again" in text(response)
    response = client.post(url, {"reference": "P2", f"qty_{line.pk}": "99", "kind": "receive"}, follow=True)
    assert "at most 10" in text(response)
    assert StockLevel.objects.get(warehouse=pw.wh, sku=pw.sku).on_hand == 4
    po.refresh_from_db()
    assert po.status == POStatus.PARTIALLY_RECEIVED


def test_finance_may_read_but_not_act(client, pw):
    po = pw.po()
    login(client, pw, Role.FINANCE)
    assert client.get(reverse("purchasing:detail", args=[po.pk])).status_code == 200
    assert client.post(reverse("purchasing:action", args=[po.pk]), {"action": "approve"}).status_code == 403
    login(client, pw, Role.SERVICE)
    assert client.get(reverse("purchasing:list")).status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_of_a_purchase_order(client, pw, fmt):
    po = pw.po([{"sku": pw.sku, "quantity": 100}])
    login(client, pw)
    response = client.get(reverse("purchasing:export", args=[po.pk]), {"format": fmt})
    assert response.status_code == 200 and po.number in response["Content-Disposition"]
    if fmt == "csv":
        body = response.getvalue().decode("utf-8-sig")
        assert po.number in body and pw.sku.code in body and "1200.00" in body
    else:
        from io import BytesIO

        from openpyxl import load_workbook

        ws = load_workbook(BytesIO(response.content)).active
        values = [cell for row in ws.iter_rows(values_only=True) for cell in row]
        assert po.number in values and pw.sku.code in values


def test_suggestions_page_and_one_click_purchase_orders(client, pw, monkeypatch):
    from orders.selectors import DailySales

    today = date.today()
    rows = [DailySales(day=today - timedelta(days=n), sku_id=s.pk, quantity=q, amount=Decimal("0"))
            for n in range(1, 57) for s, q in ((pw.sku, 10), (pw.sku2, 2), (pw.sku3, 1))]
    monkeypatch.setattr("orders.selectors.daily_sales", lambda **kw: rows)
    login(client, pw)
    client.post(reverse("purchasing:suggestions-action"), {"action": "recompute"})
    body = text(client.get(reverse("purchasing:suggestions")))
    assert pw.sku.code in body and pw.supplier.name in body and "No supplier item" in body
    assert "Daily demand" in body and "Days of cover" in body and "Safety stock" in body
    s1 = ReorderSuggestion.objects.get(sku=pw.sku)
    s2 = ReorderSuggestion.objects.get(sku=pw.sku2)
    response = client.post(reverse("purchasing:suggestions-action"),
                           {"action": "create", "ids": [s1.pk, s2.pk], f"qty_{s1.pk}": "500", "warehouse": pw.wh2.pk})
    assert response.status_code == 302
    pos = list(PurchaseOrder.objects.order_by("pk"))
    assert len(pos) == 2 and {po.warehouse_id for po in pos} == {pw.wh2.pk}
    assert pos[0].lines.get().quantity == 500
    response = client.post(reverse("purchasing:suggestions-action"), {"action": "create", "ids": [s1.pk]}, follow=True)
    assert "already ordered" in text(response)
    body = text(client.get(reverse("dashboard")))
    assert "SKUs to reorder" in body and "POs awaiting receipt" in body and reverse("purchasing:suggestions") in body
    assert reverse("admin:purchasing_supplier_changelist") in body and reverse("purchasing:list") in body


def test_seed_is_idempotent(pw):
    from inventory.seed import seed_demo as inventory_seed
    from purchasing.seed import seed_demo

    inventory_seed(tenant=pw.tenant)
    first = seed_demo(tenant=pw.tenant)
    counts = (Supplier.objects.count(), SupplierItem.objects.count(), PurchaseOrder.objects.count())
    assert counts[0] >= 3 and counts[1] > 10 and counts[2] == 3, first  # draft, partly received, sent to the portal
    from erp.tenancy.models import Membership

    assert Membership.objects.filter(tenant=pw.tenant, user__username=f"{pw.tenant.slug}-supplier", role="supplier").exists()
    seed_demo(tenant=pw.tenant)
    assert (Supplier.objects.count(), SupplierItem.objects.count(), PurchaseOrder.objects.count()) == counts
    assert PurchaseOrder.objects.filter(status=POStatus.PARTIALLY_RECEIVED).count() == 1


def test_nightly_task_recomputes_per_tenant(pw, tenant_b, monkeypatch):
    from erp.tenancy.context import tenant_context
    from orders.selectors import DailySales
    from purchasing.tasks import recompute_suggestions_tick

    today = date.today()
    rows = [DailySales(day=today - timedelta(days=n), sku_id=pw.sku.pk, quantity=10, amount=Decimal("0"))
            for n in range(1, 57)]
    monkeypatch.setattr("orders.selectors.daily_sales",
                        lambda **kw: rows if kw.get("sku_ids") is None and _tenant_is(pw.tenant) else [])
    with tenant_context(None):
        assert recompute_suggestions_tick.delay().get() >= 2
    assert ReorderSuggestion.objects.filter(sku=pw.sku).count() == 1


def _tenant_is(tenant):
    from erp.tenancy.context import get_current_tenant

    current = get_current_tenant()
    return current is not None and current.pk == tenant.pk


def test_pages_in_chinese(client, pw):
    po = pw.po()
    login(client, pw)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert "采购单" in body and "时间线" in body and "草稿" in body
    assert "采购建议" in text(client.get(reverse("purchasing:suggestions")))


def test_warehouse_staff_receive_on_the_page(client, pw):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    login(client, pw, Role.WAREHOUSE)
    body = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert 'id="po-receive"' in body and 'id="po-actions"' not in body
    line = po.lines.get()
    client.post(reverse("purchasing:receive", args=[po.pk]), {"reference": "WH1", f"qty_{line.pk}": "10"})
    po.refresh_from_db()
    assert po.status == POStatus.RECEIVED
    assert client.post(reverse("purchasing:action", args=[po.pk]), {"action": "close"}).status_code == 403
    login(client, pw, Role.FINANCE)
    assert client.post(reverse("purchasing:receive", args=[po.pk]), {"reference": "F"}).status_code == 403
    assert 'id="po-receive"' not in text(client.get(reverse("purchasing:detail", args=[po.pk])))


def test_new_purchase_order_typed_by_hand_and_draft_lines_edited(client, pw):
    login(client, pw)
    assert client.get(reverse("purchasing:new")).status_code == 200
    response = client.post(reverse("purchasing:new"), {"supplier": pw.supplier.pk, "warehouse": pw.wh.pk,
                                                       "lines": f"{pw.sku.code}, 100\nNOPE, 3\n", "expected_date": ""},
                           follow=True)
    assert "Unknown SKU codes: NOPE" in text(response) and not PurchaseOrder.objects.exists()
    response = client.post(reverse("purchasing:new"), {"supplier": pw.supplier.pk, "warehouse": pw.wh.pk,
                                                       "lines": f"{pw.sku.code}, 100\n\n{pw.sku3.code}\t5\t7.50",
                                                       "expected_date": "2026-12-30", "note": "hand made"})
    po = PurchaseOrder.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("purchasing:detail", args=[po.pk])
    assert (po.total_quantity, po.total_amount, str(po.expected_date)) == (105, Decimal("1237.50"), "2026-12-30")
    body = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert 'id="po-edit-lines"' in body and f"{pw.sku3.code}, 5, 7.50" in body
    client.post(reverse("purchasing:lines", args=[po.pk]), {"lines": f"{pw.sku.code}, 60", "why": "less"})
    po.refresh_from_db()
    assert po.total_quantity == 60
    services.po_approve(po_id=po.pk)
    response = client.post(reverse("purchasing:lines", args=[po.pk]), {"lines": f"{pw.sku.code}, 1"}, follow=True)
    assert "cannot edit the lines" in text(response)
    assert 'id="po-edit-lines"' not in text(response)
    response = client.post(reverse("purchasing:new"), {"supplier": "", "warehouse": pw.wh.pk, "lines": "x"}, follow=True)
    assert response.status_code == 200 and PurchaseOrder.objects.count() == 1


def test_admin_pages(client, pw):
    po = pw.sent_po()
    services.po_receive(po_id=po.pk, reference="ADM", lines=[{"sku": pw.sku.pk, "quantity": 1}])
    services.purchasing_settings()
    login(client, pw, Role.OWNER)
    for name in ("supplier", "supplieritem", "purchaseorder", "goodsreceipt", "reordersuggestion", "purchasingsettings"):
        assert client.get(reverse(f"admin:purchasing_{name}_changelist")).status_code == 200, name
    assert client.get(reverse("admin:purchasing_purchaseorder_change", args=[po.pk])).status_code == 200
    assert client.get(reverse("admin:purchasing_supplier_change", args=[pw.supplier.pk])).status_code == 200
    # a supplier item made preferred in the admin takes the flag from the other supplier's item
    response = client.post(reverse("admin:purchasing_supplieritem_add"), {
        "supplier": pw.supplier2.pk, "sku": pw.sku.pk, "supplier_sku_code": "", "unit_price": "11.00",
        "min_order_quantity": 1, "order_multiple": 1, "lead_time_days": 3, "is_preferred": "on", "is_active": "on"})
    assert response.status_code == 302
    assert list(SupplierItem.objects.filter(sku=pw.sku, is_preferred=True).values_list("supplier_id", flat=True)) == [
        pw.supplier2.pk]


def test_return_to_supplier_from_the_page(client, pw):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    services.po_receive(po_id=po.pk, reference="PG", lines=[{"sku": pw.sku.pk, "quantity": 10}])
    login(client, pw)
    body = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert 'id="po-return"' in body and 'id="po-receive"' not in body
    line = po.lines.get()
    url = reverse("purchasing:receive", args=[po.pk])
    response = client.post(url, {"kind": "return", "reference": "RT-P", f"ret_{line.pk}": "3", "why": ""}, follow=True)
    assert "why" in text(response)
    client.post(url, {"kind": "return", "reference": "RT-P", f"ret_{line.pk}": "3", "why": "scratched"})
    line.refresh_from_db()
    assert line.returned_quantity == 3 and StockLevel.objects.get(warehouse=pw.wh, sku=pw.sku).on_hand == 7
    body = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert "Received → " not in body and "Sent to supplier → Received" in body
