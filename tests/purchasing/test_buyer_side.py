"""The buyer's side of supplier collaboration: notifications page / API with the unread count, a
refused purchase order revised, edited and sent again, and the demo seed's supplier statement."""

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from purchasing import services
from purchasing.models import Notification, POStatus, PurchaseOrder

pytestmark = pytest.mark.django_db
API = "/api/v1/purchasing"


def refused_po(pw):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 100}])
    return services.po_refuse(po_id=po.pk, supplier_id=pw.supplier.pk, why="100 is below our MOQ of 200")


def test_buyer_notifications_page_api_and_unread_count(client, pw, tenant_b):
    refused_po(pw)
    operator = pw.world.members[Role.OPERATOR]
    mine = Notification.objects.filter(membership=operator)
    assert mine.count() >= 1 and mine.filter(read_at__isnull=True).exists()
    unread = mine.filter(read_at__isnull=True).count()
    client.force_login(operator.user)
    body = client.get(reverse("purchasing:notifications")).content.decode()
    assert "refused by the supplier" in body and 'id="unread-count"' in body and f"{unread} unread" in body
    listing = client.get(reverse("purchasing:list")).content.decode()
    assert 'id="buyer-unread"' in listing and reverse("purchasing:notifications") in listing
    api = pw.world.api(Role.OPERATOR)
    assert api.get(f"{API}/notifications/unread/").json() == {"count": unread}
    rows = api.get(f"{API}/notifications/").json()["results"]
    assert {r["id"] for r in rows} == set(mine.values_list("pk", flat=True))
    assert api.post(f"{API}/notifications/read/", {"ids": [rows[0]["id"]]}, format="json").json() == {"count": 1}
    assert api.get(f"{API}/notifications/unread/").json() == {"count": unread - 1}
    client.post(reverse("purchasing:notifications"))
    assert not mine.filter(read_at__isnull=True).exists()
    assert 'id="unread-count"' not in client.get(reverse("purchasing:notifications")).content.decode()
    # another member sees only their own, another tenant none
    owner_rows = pw.world.api(Role.OWNER).get(f"{API}/notifications/").json()["results"]
    assert not {r["id"] for r in owner_rows} & set(mine.values_list("pk", flat=True))
    assert tenant_b.api(Role.OPERATOR).get(f"{API}/notifications/").json()["count"] == 0
    # the supplier portal's users do not reach the buyer's page
    user = services.supplier_user_invite(supplier=pw.supplier, username="s1-user", password="x-Pass-12345").user
    client.force_login(user)
    assert client.get(reverse("purchasing:notifications")).status_code in (302, 403, 404)


def test_a_refused_order_is_revised_edited_and_sent_again(client, pw):
    from purchasing.models import Notification as N

    services.supplier_user_invite(supplier=pw.supplier, username="s1-user", password="x-Pass-12345")
    po = refused_po(pw)
    assert po.status == POStatus.REFUSED
    client.force_login(pw.world.members[Role.OPERATOR].user)
    body = client.get(reverse("purchasing:detail", args=[po.pk])).content.decode()
    assert 'value="revise"' in body and "Revise and send again" in body
    client.post(reverse("purchasing:action", args=[po.pk]), {"action": "revise", "why": "raise to 200"})
    po.refresh_from_db()
    assert po.status == POStatus.DRAFT
    services.po_lines_set(po_id=po.pk, lines=[{"sku": pw.sku, "quantity": 200}], actor=pw.user)
    before = N.objects.filter(code="po_sent").count()
    api = pw.world.api(Role.OPERATOR)
    assert api.post(f"{API}/purchase-orders/{po.pk}/approve/", {}, format="json").status_code == 200
    r = api.post(f"{API}/purchase-orders/{po.pk}/send/", {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == POStatus.SENT
    po.refresh_from_db()
    assert po.total_quantity == 200 and N.objects.filter(code="po_sent").count() > before  # the supplier is told again
    codes = [e.code for e in po.events.order_by("id")]
    assert codes.index("refused") < codes.index("revised") < len(codes) - 1
    # only a refused order can be revised: 409 otherwise
    assert api.post(f"{API}/purchase-orders/{po.pk}/revise/", {}, format="json").status_code == 409
    again = services.po_confirm(po_id=po.pk, supplier_id=pw.supplier.pk)
    assert again.status == POStatus.CONFIRMED


def test_demo_seed_has_a_confirmed_statement_with_payable_and_payment(pw):
    from finance.models import StatementStatus, SupplierStatement, Voucher
    from finance.seed import seed_demo as finance_seed
    from inventory.seed import seed_demo as inventory_seed
    from purchasing.seed import seed_demo as purchasing_seed

    inventory_seed(tenant=pw.tenant)
    purchasing_seed(tenant=pw.tenant)
    summary = finance_seed(tenant=pw.tenant)
    statement = SupplierStatement.objects.get()
    assert "supplier statement" in summary and statement.number in summary
    assert statement.status == StatementStatus.POSTED and statement.total_amount > 0
    payment = statement.payments.get()
    assert payment.amount == statement.paid_amount == (statement.total_amount / 2).quantize(payment.amount)
    for voucher in Voucher.objects.all():
        lines = list(voucher.lines.all())
        assert sum(ln.debit for ln in lines) == sum(ln.credit for ln in lines)
    counts = (SupplierStatement.objects.count(), Voucher.objects.count(), statement.payments.count())
    finance_seed(tenant=pw.tenant)
    assert (SupplierStatement.objects.count(), Voucher.objects.count(), statement.payments.count()) == counts
    assert PurchaseOrder.objects.filter(status=POStatus.PARTIALLY_RECEIVED).count() == 1
