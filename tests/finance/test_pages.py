"""Operator pages render for the finance role (and are refused to others), act through the
services, export CSV / XLSX, and the dashboard shows the finance cards."""

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.tenancy.roles import Role
from finance import chart, services
from finance.models import Reconciliation, Voucher

from .conftest import D, bill, line, settle, ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def fin(client, world, tenant_a):
    ship(world["shop"], "P1", line("A", 1, price="30.00"))
    settle(world["shop"], bill("P1", "sale", "28.00"))
    client.force_login(tenant_a.members[Role.FINANCE].user)
    return client


def test_pages_render(fin):
    month = timezone.localdate().strftime("%Y-%m")
    for name, params in [("vouchers", {}), ("vouchers", {"status": "posted", "source": "order.shipped", "q": "P1"}),
                         ("trial-balance", {"period": month}), ("trial-balance", {"period": "junk"}),
                         ("profit", {"by": "sku"}), ("profit", {"by": "platform", "year": "2026"}),
                         ("reconciliation", {"status": "difference"})]:
        response = fin.get(reverse(f"finance:{name}"), params)
        assert response.status_code == 200, (name, params)
    body = fin.get(reverse("finance:reconciliation"), {"status": "difference"}).content.decode()
    assert "P1" in body and "-2.00" in body
    assert "Amounts in CNY." in fin.get(reverse("finance:profit")).content.decode()  # the amounts' currency
    voucher = Voucher.objects.filter(source_type="order.shipped").get()
    detail = fin.get(reverse("finance:voucher", args=[voucher.pk])).content.decode()
    assert "112201" in detail and "30.00" in detail


def test_exports(fin):
    month = timezone.localdate().strftime("%Y-%m")
    csv = fin.get(reverse("finance:trial-balance"), {"period": month, "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert "112201" in csv.getvalue().decode("utf-8-sig")
    for name, params in [("trial-balance", {"period": month}), ("profit", {"by": "shop"}),
                         ("profit", {"report": "months"}), ("reconciliation", {})]:
        response = fin.get(reverse(f"finance:{name}"), {**params, "format": "xlsx"})
        assert response.status_code == 200 and response.content[:2] == b"PK", name


def test_actions_on_pages(fin):
    draft = services.voucher_create(date=timezone.localdate(), lines=[
        services.LineSpec(account=chart.BANK, debit=D("5.00")), services.LineSpec(account="3001", credit=D("5.00"))])
    fin.post(reverse("finance:voucher", args=[draft.pk]), {"action": "post"})
    draft.refresh_from_db()
    assert draft.status == "posted"
    response = fin.post(reverse("finance:voucher", args=[draft.pk]), {"action": "reverse"})
    assert response.status_code == 302 and Voucher.objects.filter(reversal_of=draft).exists()
    rec = Reconciliation.objects.get(platform_order_id="P1")
    fin.post(reverse("finance:reconciliation"), {"rec": rec.pk, "note": "subsidy"})
    rec.refresh_from_db()
    assert rec.status == "resolved"


def test_dashboard_cards_and_roles(fin, client, tenant_a):
    from types import SimpleNamespace

    from finance.apps import finance_cards

    cards = {str(c.title): c for c in finance_cards(SimpleNamespace(membership=tenant_a.members[Role.FINANCE]))}
    assert cards["Unreconciled orders"].value == 0
    assert cards["Settlement differences"].value == 1 and cards["Settlement differences"].tone == "bad"
    assert cards["Gross profit this month"].value == "¥24.00"  # 30.00 revenue - 6.00 cost
    assert finance_cards(SimpleNamespace(membership=tenant_a.members[Role.WAREHOUSE])) == []
    client.force_login(tenant_a.members[Role.WAREHOUSE].user)
    assert client.get(reverse("finance:vouchers")).status_code == 403


def test_pages_in_chinese(fin):
    fin.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = fin.get(reverse("finance:reconciliation")).content.decode()
    assert "对账" in body
    assert "凭证" in fin.get(reverse("finance:vouchers")).content.decode()


def test_admin_pages_render(fin, client, tenant_a):
    from finance.models import Account, Period, PostingIssue, SettlementLine

    client.force_login(tenant_a.owner.user)
    voucher = Voucher.objects.filter(source_type="order.shipped").get()
    for model, obj in [(Voucher, voucher), (Account, Account.objects.get(code=chart.BANK)),
                       (Period, Period.objects.first()), (Reconciliation, Reconciliation.objects.first()),
                       (SettlementLine, SettlementLine.objects.first()), (PostingIssue, None)]:
        info = (model._meta.app_label, model._meta.model_name)
        assert client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200, model
        if obj is not None:
            assert client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200, model
    period = Period.objects.first()
    client.post(reverse("admin:finance_period_changelist"), {"action": "close_periods", "_selected_action": [period.pk]})
    period.refresh_from_db()
    assert period.status == "closed"


def test_new_voucher_page(fin):
    url = reverse("finance:voucher-new")
    assert fin.get(url).status_code == 200
    from finance.models import Account

    bank, capital = Account.objects.get(code=chart.BANK), Account.objects.get(code="3001")
    form = {"date": timezone.localdate().isoformat(), "memo": "capital", "post": "1",
            "account-0": bank.pk, "debit-0": "100", "account-1": capital.pk, "credit-1": "90"}
    response = fin.post(url, form)
    assert response.status_code == 200 and "do not balance" in response.content.decode()
    response = fin.post(url, {**form, "credit-1": "100"})
    assert response.status_code == 302
    voucher = Voucher.objects.get(memo="capital")
    assert voucher.status == "posted" and voucher.lines.count() == 2
    draft = fin.post(url, {**form, "credit-1": "100", "post": "0", "memo": "draft one"})
    assert draft.status_code == 302 and Voucher.objects.get(memo="draft one").status == "draft"


def test_account_ledger_and_reconciliation_detail(fin):
    from finance.models import Account

    month = timezone.localdate().strftime("%Y-%m")
    receivable = Account.objects.get(code=chart.RECEIVABLE)  # the parent shows its sub-accounts' lines
    body = fin.get(reverse("finance:account-ledger", args=[receivable.pk]), {"period": month}).content.decode()
    assert "112201" in body and "30.00" in body and "2.00" in body  # 30 shipped - 28 settled
    ledger = fin.get(reverse("finance:account-ledger", args=[receivable.pk]), {"period": month, "format": "xlsx"})
    assert ledger.content[:2] == b"PK"
    rec = Reconciliation.objects.get(platform_order_id="P1")
    body = fin.get(reverse("finance:reconciliation-detail", args=[rec.pk])).content.decode()
    assert "28.00" in body and "-2.00" in body and "记-" in body


def test_voucher_search_finds_a_settlement_by_a_bill_id_inside_a_grouped_voucher(fin):
    voucher = services.voucher_create(date=timezone.localdate(), memo="Platform settlement", post=True, lines=[
        services.LineSpec(account=chart.BANK, debit=D("9.00"), memo="bill 880011"),
        services.LineSpec(account="3001", credit=D("9.00"), memo="bill 880011")])
    body = fin.get(reverse("finance:vouchers"), {"q": "880011"}).content.decode()
    assert voucher.display_no in body
    assert voucher.display_no not in fin.get(reverse("finance:vouchers"), {"q": "nothing-like-it"}).content.decode()
