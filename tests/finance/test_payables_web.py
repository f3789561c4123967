"""Payables over the API and the pages: the buyer's statements (generate, adjust, send, pay), the
supplier portal's (only its own supplier's, never drafts; confirm, dispute), 400 / 404 / 409, another
tenant's and another supplier's statements invisible, the ageing report and its export, both languages."""

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from erp.tenancy.dates import tenant_today
from erp.tenancy.roles import Role
from erp.tenancy.services import api_token_issue
from finance.models import StatementStatus, SupplierStatement
from finance.services import payables
from purchasing import services as purchasing

from .test_payables import Month

pytestmark = pytest.mark.django_db
D = Decimal


def api(membership) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(membership=membership)}")
    return client


@pytest.fixture
def w(in_tenant_a):
    m = Month(in_tenant_a)
    m.s1_user = purchasing.supplier_user_invite(supplier=m.supplier, username="s1-user", email="s1@example.com")
    m.s2_user = purchasing.supplier_user_invite(supplier=m.other, username="s2-user", email="s2@example.com")
    po = m.po()
    m.receive(po, m.tee, 100, "r1")
    m.receive(po, m.mug, 20, "r2")
    po2 = m.po(supplier=m.other, lines=[{"sku": m.tee, "quantity": 5}])
    m.receive(po2, m.tee, 5, "o1")
    m.today = tenant_today()
    m.fin = in_tenant_a.api(Role.FINANCE)
    return m


def test_api_flow(w, tenant_b):
    body = {"supplier": w.supplier.pk, "year": w.today.year, "month": w.today.month}
    r = w.fin.post("/api/v1/finance/statements/generate/", body, format="json")
    assert r.status_code == 200, r.content
    st = r.json()
    assert st["total_amount"] == "1300.00" and len(st["lines"]) == 2 and st["status"] == "draft"
    again = w.fin.post("/api/v1/finance/statements/generate/", body, format="json").json()
    assert again["id"] == st["id"] and len(again["lines"]) == 2
    # bad input: 400 with the field
    r = w.fin.post("/api/v1/finance/statements/generate/", {**body, "month": 13}, format="json")
    assert r.status_code == 400 and "month" in r.json()["errors"]
    r = w.fin.post(f"/api/v1/finance/statements/{st['id']}/adjust/", {"amount": "x", "memo": "m"}, format="json")
    assert r.status_code == 400 and "amount" in r.json()["errors"]
    r = w.fin.post(f"/api/v1/finance/statements/{st['id']}/adjust/", {"amount": "-30.00", "memo": "agreed price TEE -0.30"},
                   format="json")
    assert r.status_code == 200 and r.json()["total_amount"] == "1270.00"
    # a POST to the list is not a statement action; posting a draft is a 409
    assert w.fin.post("/api/v1/finance/statements/", {}, format="json").status_code == 405
    assert w.fin.post(f"/api/v1/finance/statements/{st['id']}/post/").status_code == 409
    # wrong state: 409
    r = w.fin.post(f"/api/v1/finance/statements/{st['id']}/pay/", {"amount": "1.00"}, format="json")
    assert r.status_code == 409

    s1, s2 = api(w.s1_user), api(w.s2_user)
    assert s1.get("/api/v1/finance/portal/statements/").json()["results"] == []  # a draft is not shown
    assert w.fin.post(f"/api/v1/finance/statements/{st['id']}/send/", {}, format="json").status_code == 200
    listed = s1.get("/api/v1/finance/portal/statements/").json()["results"]
    assert [x["id"] for x in listed] == [st["id"]] and "booked_amount" not in listed[0]
    assert s2.get("/api/v1/finance/portal/statements/").json()["results"] == []
    assert s2.get(f"/api/v1/finance/portal/statements/{st['id']}/").status_code == 404
    assert s2.post(f"/api/v1/finance/portal/statements/{st['id']}/confirm/").status_code == 404
    # a supplier user has no internal API; staff have no portal API
    assert s1.get("/api/v1/finance/statements/").status_code == 403
    assert w.fin.get("/api/v1/finance/portal/statements/").status_code == 403
    # another tenant sees nothing
    other = tenant_b.api(Role.FINANCE)
    assert other.get("/api/v1/finance/statements/").json()["results"] == []
    assert other.get(f"/api/v1/finance/statements/{st['id']}/").status_code == 404

    # the supplier disputes, the buyer corrects and re-sends, the supplier confirms
    line_id = st["lines"][1]["id"]
    r = s1.post(f"/api/v1/finance/portal/statements/{st['id']}/dispute/", {"lines": []}, format="json")
    assert r.status_code == 400
    r = s1.post(f"/api/v1/finance/portal/statements/{st['id']}/dispute/",
                {"lines": [{"line": line_id, "reason": "we shipped 18 mugs"}]}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "disputed"
    assert s1.post(f"/api/v1/finance/portal/statements/{st['id']}/confirm/").status_code == 409
    r = w.fin.post(f"/api/v1/finance/statements/{st['id']}/adjust/",
                   {"amount": "-10.00", "memo": "2 mugs short", "corrects": line_id}, format="json")
    assert r.json()["total_amount"] == "1260.00"
    assert w.fin.post(f"/api/v1/finance/statements/{st['id']}/send/", {}, format="json").status_code == 200
    r = s1.post(f"/api/v1/finance/portal/statements/{st['id']}/confirm/")
    assert r.status_code == 200 and r.json()["status"] == "posted"
    full = w.fin.get(f"/api/v1/finance/statements/{st['id']}/").json()
    assert full["booked_amount"] == "1300.00" and full["voucher"]

    r = w.fin.post(f"/api/v1/finance/statements/{st['id']}/pay/", {"amount": "2000.00"}, format="json")
    assert r.status_code == 400 and "amount" in r.json()["errors"]
    assert w.fin.post(f"/api/v1/finance/statements/{st['id']}/pay/", {"amount": "1000.00", "reference": "B1"},
                      format="json").status_code == 201
    ageing = w.fin.get("/api/v1/finance/reports/supplier-ageing/").json()
    assert ageing["totals"]["total"] == "260.00" and ageing["rows"][0]["not_due"] == "260.00"
    assert w.fin.get("/api/v1/finance/reports/supplier-ageing/", {"as_of": "junk"}).status_code == 400
    assert w.fin.post(f"/api/v1/finance/statements/{st['id']}/pay/", {"amount": "260.00"}, format="json").status_code == 201
    assert w.fin.get(f"/api/v1/finance/statements/{st['id']}/").json()["status"] == "paid"
    # notifications: the supplier heard of sent and paid, finance of disputed and confirmed
    from purchasing.models import Notification

    codes = sorted(Notification.objects.values_list("code", flat=True))
    assert codes.count("statement.sent") == 2 and "statement.paid" in codes
    assert "statement.disputed" in codes and "statement.confirmed" in codes
    assert not Notification.objects.filter(membership=w.s2_user, code__startswith="statement.").exists()


def _statement(w, send=True):
    st = payables.statement_generate(supplier_id=w.supplier.pk, year=w.today.year, month=w.today.month)
    if send:
        payables.statement_send(statement=st)
    return SupplierStatement.objects.get(pk=st.pk)


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_pages(w, client, tenant_a, lang):
    client.force_login(tenant_a.members[Role.FINANCE].user)
    headers = {"HTTP_ACCEPT_LANGUAGE": lang}
    month = f"{w.today.year}-{w.today.month:02d}"
    r = client.post(reverse("finance:statements"), {"supplier": w.supplier.pk, "month": month}, **headers)
    st = SupplierStatement.objects.get(supplier_id=w.supplier.pk)
    assert r.status_code == 302 and r["Location"] == reverse("finance:statement", args=[st.pk])
    page = client.get(reverse("finance:statements"), **headers).content.decode()
    assert f'lang="{lang}"' in page and st.number in page
    detail = client.get(reverse("finance:statement", args=[st.pk]), **headers).content.decode()
    assert "1200.00" in detail and "GR" in detail
    client.post(reverse("finance:statement", args=[st.pk]), {"action": "adjust", "amount": "junk", "memo": "x"}, **headers)
    st.refresh_from_db()
    assert st.total_amount == D("1300.00")  # refused with a message, no 500
    client.post(reverse("finance:statement", args=[st.pk]), {"action": "send"}, **headers)
    st.refresh_from_db()
    assert st.status == StatementStatus.SENT
    if lang == "en":  # the timeline names the statuses in words, not their codes ("status.sent → sent")
        timeline = client.get(reverse("finance:statement", args=[st.pk]), **headers).content.decode()
        timeline = timeline[timeline.index('id="statement-timeline"'):]
        timeline = timeline[:timeline.index("</ul>")]
        assert "Draft → Sent to supplier" in timeline and "status.sent" not in timeline, timeline
    # the supplier's portal
    client.force_login(w.s1_user.user)
    listing = client.get(reverse("finance:portal-statements"), **headers).content.decode()
    assert st.number in listing and f'lang="{lang}"' in listing
    line = st.lines.order_by("id").first()
    client.post(reverse("finance:portal-statement", args=[st.pk]),
                {"action": "dispute", "line": [line.pk], f"reason-{line.pk}": "price was 11.50"}, **headers)
    st.refresh_from_db()
    assert st.status == StatementStatus.DISPUTED
    assert client.get(reverse("finance:statements")).status_code == 403  # no internal page for a supplier
    client.force_login(w.s2_user.user)
    assert client.get(reverse("finance:portal-statement", args=[st.pk])).status_code == 404
    assert st.number not in client.get(reverse("finance:portal-statements")).content.decode()
    # staff get no portal page
    client.force_login(tenant_a.members[Role.FINANCE].user)
    assert client.get(reverse("finance:portal-statements")).status_code == 403
    client.post(reverse("finance:statement", args=[st.pk]), {"action": "send", "why": "the price stands"}, **headers)
    client.force_login(w.s1_user.user)
    client.post(reverse("finance:portal-statement", args=[st.pk]), {"action": "confirm"}, **headers)
    st.refresh_from_db()
    assert st.status == StatementStatus.POSTED
    client.force_login(tenant_a.members[Role.FINANCE].user)
    client.post(reverse("finance:statement", args=[st.pk]), {"action": "pay", "amount": "300.00", "paid_on": "junk"},
                **headers)
    st.refresh_from_db()
    assert st.paid_amount == 0
    client.post(reverse("finance:statement", args=[st.pk]), {"action": "pay", "amount": "300.00"}, **headers)
    st.refresh_from_db()
    assert st.paid_amount == D("300.00")
    ageing = client.get(reverse("finance:supplier-ageing"), **headers).content.decode()
    assert "1000.00" in ageing and f'lang="{lang}"' in ageing
    xlsx = client.get(reverse("finance:supplier-ageing"), {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    csv = b"".join(client.get(reverse("finance:supplier-ageing"), {"format": "csv"}).streaming_content).decode()
    assert "1000.00" in csv and "纺织厂" in csv


def test_warehouse_role_may_not_pay(w, client, tenant_a):
    st = _statement(w)
    payables.statement_confirm(statement=st, supplier_id=w.supplier.pk)
    r = tenant_a.api(Role.WAREHOUSE).post(f"/api/v1/finance/statements/{st.pk}/pay/", {"amount": "1.00"}, format="json")
    assert r.status_code == 403
