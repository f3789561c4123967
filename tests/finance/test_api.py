"""Finance API: accounts, periods (close / reopen), vouchers (draft, post, reverse), reports,
reconciliation queues and the ledger feed; 400 with field messages, 409 for a wrong state, roles."""

import pytest
from django.utils import timezone

from erp.tenancy.roles import Role
from finance import chart, services
from finance.models import Account, Voucher

from .conftest import D, bill, line, settle, ship

pytestmark = pytest.mark.django_db
API = "/api/v1/finance"


@pytest.fixture
def api(books):
    return books.api(Role.FINANCE)


def today():
    return timezone.localdate().isoformat()


def voucher_payload(amount="100.00", credit=None, post=False):
    return {"date": today(), "memo": "capital", "post": post, "lines": [
        {"account_code": chart.BANK, "debit": amount}, {"account_code": "3001", "credit": credit or amount}]}


def test_manual_voucher_draft_post_and_reverse(api):
    draft = api.post(f"{API}/vouchers/", voucher_payload(), format="json")
    assert draft.status_code == 201, draft.json()
    body = draft.json()
    assert body["status"] == "draft" and body["number"] is None and len(body["lines"]) == 2
    vid = body["id"]
    edited = api.patch(f"{API}/vouchers/{vid}/", {"memo": "paid-in capital"}, format="json")
    assert edited.status_code == 200 and edited.json()["memo"] == "paid-in capital"
    posted = api.post(f"{API}/vouchers/{vid}/post/")
    assert posted.status_code == 200 and posted.json()["status"] == "posted" and posted.json()["number"] == 1
    assert api.post(f"{API}/vouchers/{vid}/post/").status_code == 409
    for method in ("put", "patch"):
        response = getattr(api, method)(f"{API}/vouchers/{vid}/", voucher_payload(), format="json")
        assert response.status_code == 409, response.json()
    assert api.delete(f"{API}/vouchers/{vid}/").status_code == 409
    reversal = api.post(f"{API}/vouchers/{vid}/reverse/", {}, format="json")
    assert reversal.status_code == 201 and reversal.json()["reversal_of"] == vid
    assert api.post(f"{API}/vouchers/{vid}/reverse/", {}, format="json").status_code == 409
    assert api.get(f"{API}/vouchers/{vid}/").json()["reversed_by"] == reversal.json()["id"]


@pytest.mark.parametrize("payload, field", [
    ({"date": "2026-11-05", "lines": []}, "lines"),
    ({"date": "not a date", "lines": [{"account_code": chart.BANK, "debit": "1"}]}, "date"),
    ({"date": "2026-11-05", "lines": [{"account_code": "0000", "debit": "1"}, {"account_code": "3001", "credit": "1"}]}, "lines"),
    ({"date": "2026-11-05", "lines": [{"account_code": chart.BANK, "debit": "-5"}, {"account_code": "3001", "credit": "-5"}]}, "lines"),
    ({"date": "2026-11-05", "lines": [{"account_code": chart.BANK, "debit": "abc"}, {"account_code": "3001", "credit": "1"}]}, "lines"),
    ({"date": "2026-11-05", "post": True, "lines": [{"account_code": chart.BANK, "debit": "10"},
                                                   {"account_code": "3001", "credit": "9"}]}, "lines"),
])
def test_bad_vouchers_are_400_with_field_messages(api, payload, field):
    response = api.post(f"{API}/vouchers/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert not Voucher.objects.exists()


def test_closed_period_is_409(api):
    day = timezone.localdate()
    created = api.post(f"{API}/periods/", {"year": day.year, "month": day.month}, format="json")
    assert created.status_code == 201, created.json()
    again = api.post(f"{API}/periods/", {"year": day.year, "month": day.month}, format="json")
    assert again.status_code == 400
    pid = created.json()["id"]
    closed = api.post(f"{API}/periods/{pid}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert api.post(f"{API}/periods/{pid}/close/").status_code == 409
    refused = api.post(f"{API}/vouchers/", voucher_payload(post=True), format="json")
    assert refused.status_code == 409 and "closed" in refused.json()["detail"]
    assert api.post(f"{API}/periods/{pid}/reopen/").json()["status"] == "open"
    assert api.post(f"{API}/vouchers/", voucher_payload(post=True), format="json").status_code == 201
    assert api.post(f"{API}/periods/", {"year": 2026, "month": 13}, format="json").status_code == 400


def test_accounts_crud_and_protection(api):
    response = api.post(f"{API}/accounts/", {"code": "660105", "name": "销售费用-推广费", "type": "expense",
                                             "parent": Account.objects.get(code=chart.SELLING).pk}, format="json")
    assert response.status_code == 201, response.json()
    assert api.post(f"{API}/accounts/", {"code": "660105", "name": "dup", "type": "expense"},
                    format="json").status_code == 400
    wrong_parent = api.post(f"{API}/accounts/", {"code": "9001", "name": "x", "type": "asset",
                                                 "parent": Account.objects.get(code=chart.SELLING).pk}, format="json")
    assert wrong_parent.status_code == 400 and "parent" in wrong_parent.json()["errors"]
    api.post(f"{API}/vouchers/", voucher_payload(post=True), format="json")
    bank = Account.objects.get(code=chart.BANK)
    assert api.delete(f"{API}/accounts/{bank.pk}/").status_code == 409
    assert api.patch(f"{API}/accounts/{bank.pk}/", {"code": "1003"}, format="json").status_code == 400
    assert api.get(f"{API}/accounts/?search=推广").json()["count"] == 1


def test_reports_and_ledger(api, world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    settle(shop, bill("P1", "sale", "29.00"), bill("P1", "commission", "-0.90"))
    month = timezone.localdate().strftime("%Y-%m")
    tb = api.get(f"{API}/reports/trial-balance/?period={month}")
    assert tb.status_code == 200 and tb.json()["balanced"] is True
    assert tb.json()["totals"]["debit"] == tb.json()["totals"]["credit"]
    assert api.get(f"{API}/reports/trial-balance/?period=2026-13").status_code == 400
    pl = api.get(f"{API}/reports/profit-and-loss/").json()
    assert D(pl["total"]["revenue"]) == D("30.00") and D(pl["total"]["gross_profit"]) == D("23.10")
    by = api.get(f"{API}/reports/profit-by/?by=sku").json()
    assert by["rows"][0]["key"] == world["A"].pk and D(by["total"]["cogs"]) == D("6.00")
    assert api.get(f"{API}/reports/profit-by/?by=colour").status_code == 400
    assert api.get(f"{API}/reports/profit-by/?by=shop&date_from=yesterday").status_code == 400
    summary = api.get(f"{API}/reports/reconciliation/").json()["rows"]
    assert {r["status"]: r["orders"] for r in summary}["difference"] == 1
    queue = api.get(f"{API}/reconciliations/?status=difference").json()
    assert queue["count"] == 1 and D(queue["results"][0]["difference"]) == D("-1.00")
    rid = queue["results"][0]["id"]
    assert api.post(f"{API}/reconciliations/{rid}/resolve/", {}, format="json").status_code == 400
    ok = api.post(f"{API}/reconciliations/{rid}/resolve/", {"note": "rounding"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"
    assert api.post(f"{API}/reconciliations/{rid}/resolve/", {"note": "again"}, format="json").status_code == 409
    ledger = api.get(f"{API}/ledger/?account_code=1122").json()
    assert ledger["count"] == 2 and {r["account_code"] for r in ledger["results"]} == {"112201"}
    assert api.get(f"{API}/ledger/?date_from=bad").status_code == 400
    assert api.get(f"{API}/settlement-lines/?platform_order_id=P1").json()["count"] == 2


def test_roles(books):
    assert books.api(Role.OPERATOR).get(f"{API}/vouchers/").status_code == 403
    assert books.api(Role.OPERATOR).get(f"{API}/reports/trial-balance/").status_code == 403
    assert books.api(Role.OWNER).get(f"{API}/reports/trial-balance/").status_code == 200
    assert books.api(Role.FINANCE).get(f"{API}/reports/profit-and-loss/?year=abc").status_code == 400


def test_schema_documents_the_actions(api):
    schema = api.get("/api/schema/").content.decode()
    for path in ("/api/v1/finance/vouchers/{id}/post/", "/api/v1/finance/vouchers/{id}/reverse/",
                 "/api/v1/finance/periods/{id}/close/", "/api/v1/finance/reports/trial-balance/"):
        assert path in schema


def test_seed_is_idempotent(books):
    from finance.seed import seed_demo

    seed_demo(tenant=books.tenant)
    counts = (Account.objects.count(), Voucher.objects.count())
    seed_demo(tenant=books.tenant)
    assert (Account.objects.count(), Voucher.objects.count()) == counts
    assert counts[1] == 1 and services.period_get(year=timezone.localdate().year,
                                                  month=timezone.localdate().month).is_open


def test_settings(api):
    assert api.get(f"{API}/settings/current/").json()["settlement_due_days"] == 20
    assert api.patch(f"{API}/settings/current/", {"settlement_due_days": 0}, format="json").status_code == 400
    changed = api.patch(f"{API}/settings/current/", {"settlement_due_days": 12}, format="json")
    assert changed.status_code == 200 and services.settings_get().settlement_due_days == 12
