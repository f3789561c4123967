"""Sellers' refund decisions: each adapter's request in its platform's shape, refund_decision_enqueue and
the outbox relay against the simulated platforms over HTTP (retried after a 5xx, never applied twice)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.adapters import RefundAction, RefundDecision, adapter_class
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, Outbox, PlatformRefund, Shop, SyncRun
from integrations.services import refund_decision_enqueue, shop_create
from integrations.sync import run_job

PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}
CREDS = {
    "tb-main": ("taobao", {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}),
    "jd-main": ("jd", {"app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"}),
    "pdd-main": ("pdd", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret",
                         "access_token": "pdd-token-main"}),
}
ADDRESS = {"name": "杭州仓", "phone": "0571-88888888", "address": "杭州市余杭区仓前街道 1 号", "zip": "311100"}


# --- request shapes (no HTTP) ----------------------------------------------------------------------
class Recorder:
    """Stands in for the HTTP client: keeps the signed params, answers ``answer``."""

    def __init__(self, answer):
        self.answer, self.sent = answer, []

    def call(self, params, *, json_body=False, retryable=None):
        self.sent.append(dict(params))
        return self.answer

    def close(self):
        pass


def adapter(platform, answer):
    code = {"taobao": "tb-main", "jd": "jd-main", "pdd": "pdd-main"}[platform]
    shop = Shop(code=code, name=code, platform=platform, credentials=CREDS[code][1])
    recorder = Recorder(answer)
    return adapter_class(platform)(shop, client=recorder), recorder


def decision(action, **kw):
    base = {"platform_refund_id": "120000000000000007", "platform_order_id": "250106-1", "amount": Decimal("59.90"),
            "phase": "after_shipment", "version": 1736130000003, "operator": "alice"}
    return RefundDecision(action=action, **{**base, **kw})


def test_taobao_shapes():
    agree = {"rp_refunds_agree_response": {"succ": True, "msg_code": "OP_SUCC"}}
    tb, sent = adapter("taobao", agree)
    assert tb.push_refund_decision(decision(RefundAction.AGREE_REFUND)).ok
    assert tb.push_refund_decision(decision(RefundAction.CONFIRM_RECEIPT, amount=None, phase="before_shipment")).ok
    first, second = sent.sent
    assert first["method"] == "taobao.rp.refunds.agree" and first["session"] == "tb-session-main"
    assert first["refund_infos"] == "120000000000000007|5990|1736130000003|aftersale"
    assert second["refund_infos"] == "120000000000000007||1736130000003|onsale"
    assert len(first["sign"]) == 32
    tb, sent = adapter("taobao", {"rp_returngoods_agree_response": {"is_success": True}})
    assert tb.push_refund_decision(decision(RefundAction.AGREE_RETURN, return_address=ADDRESS, reason="请寄回")).ok
    (params,) = sent.sent
    assert params["method"] == "taobao.rp.returngoods.agree"
    assert {k: params[k] for k in ("refund_id", "name", "address", "post", "tel", "refund_phase", "refund_version",
                                   "remark")} == {
        "refund_id": "120000000000000007", "name": "杭州仓", "address": ADDRESS["address"], "post": "311100",
        "tel": "0571-88888888", "refund_phase": "aftersale", "refund_version": "1736130000003", "remark": "请寄回"}
    tb, sent = adapter("taobao", {"refund_refuse_response": {"is_success": True}})
    assert tb.push_refund_decision(decision(RefundAction.REFUSE, reason="已使用")).ok
    (params,) = sent.sent
    assert (params["method"], params["refund_id"], params["refuse_message"]) == (
        "taobao.refund.refuse", "120000000000000007", "已使用")
    already = {"error_response": {"code": 15, "msg": "Remote service error",
                                  "sub_code": "isv.refund-service-error:ALREADY_DONE", "sub_msg": "already success"}}
    tb, _ = adapter("taobao", already)
    result = tb.push_refund_decision(decision(RefundAction.AGREE_REFUND))
    assert result.ok and result.already
    wrong = {"error_response": {"code": 15, "msg": "Remote service error",
                                "sub_code": "isv.refund-service-error:STATUS_NOT_ALLOW", "sub_msg": "refused"}}
    tb, _ = adapter("taobao", wrong)
    result = tb.push_refund_decision(decision(RefundAction.AGREE_REFUND))
    assert not result.ok and "STATUS_NOT_ALLOW" in result.error


def test_jd_shapes():
    key = "jingdong_pop_afs_soa_refundapply_replyRefund_responce"
    jd, sent = adapter("jd", {key: {"code": "0", "replyResult": {"success": True}}})
    assert jd.push_refund_decision(decision(RefundAction.AGREE_REFUND)).ok
    assert jd.push_refund_decision(decision(RefundAction.REFUSE, reason="超过售后期")).ok
    agree, refuse = (json.loads(p["360buy_param_json"]) for p in sent.sent)
    assert sent.sent[0]["method"] == "jingdong.pop.afs.soa.refundapply.replyRefund"
    assert agree == {"status": 1, "id": "120000000000000007", "checkUserName": "alice", "remark": "同意退款"}
    assert refuse == {"status": 2, "id": "120000000000000007", "checkUserName": "alice", "remark": "超过售后期",
                      "rejectType": 5}
    jd, sent = adapter("jd", {"jingdong_pop_afs_soa_returnapply_agree_responce": {"replyResult": {"success": True}}})
    assert jd.push_refund_decision(decision(RefundAction.AGREE_RETURN, return_address=ADDRESS)).ok
    assert json.loads(sent.sent[0]["360buy_param_json"]) == {
        "id": "120000000000000007", "checkUserName": "alice", "contactName": "杭州仓", "contactTel": "0571-88888888",
        "returnAddress": ADDRESS["address"]}
    jd, _ = adapter("jd", {key: {"code": "0", "replyResult": {"success": False, "errorCode": "ALREADY_DONE"}}})
    assert jd.push_refund_decision(decision(RefundAction.CONFIRM_RECEIPT)).already
    jd, _ = adapter("jd", {key: {"code": "0", "replyResult": {"success": False, "errorCode": "STATUS_NOT_ALLOW",
                                                              "errorMessage": "refused"}}})
    result = jd.push_refund_decision(decision(RefundAction.AGREE_REFUND))
    assert not result.ok and result.error == "STATUS_NOT_ALLOW refused"


def test_pdd_shapes():
    ok = {"refund_agree_response": {"result": {"succ": True}}}
    pdd, sent = adapter("pdd", ok)
    assert pdd.push_refund_decision(decision(RefundAction.AGREE_REFUND)).ok
    (params,) = sent.sent
    assert (params["type"], params["client_id"], params["after_sales_id"], params["order_sn"]) == (
        "pdd.refund.agree", "pdd-client-id", "120000000000000007", "250106-1")
    pdd, sent = adapter("pdd", {"refund_returngoods_agree_response": {"result": {"succ": True}}})
    assert pdd.push_refund_decision(decision(RefundAction.AGREE_RETURN, return_address=ADDRESS)).ok
    assert {k: sent.sent[0][k] for k in ("type", "receiver_name", "receiver_phone", "receiver_address")} == {
        "type": "pdd.refund.returngoods.agree", "receiver_name": "杭州仓", "receiver_phone": "0571-88888888",
        "receiver_address": ADDRESS["address"]}
    pdd, sent = adapter("pdd", {"refund_reject_response": {"result": {"succ": True}}})
    assert pdd.push_refund_decision(decision(RefundAction.REFUSE, reason="已超过售后期")).ok
    assert (sent.sent[0]["type"], sent.sent[0]["reject_reason"]) == ("pdd.refund.reject", "已超过售后期")
    pdd, _ = adapter("pdd", {"error_response": {"error_code": 52101, "error_msg": "业务错误", "sub_code": "ALREADY_DONE"}})
    assert pdd.push_refund_decision(decision(RefundAction.REFUSE)).already


# --- the outbox, over HTTP --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mock_url():
    with running_mock_platforms(seed=17) as url:
        yield url


@pytest.fixture
def integrations_only(monkeypatch):
    from erp import events

    for name in ("platform_orders.changed", "platform_refunds.changed", "platform_bills.changed"):
        monkeypatch.setitem(events._handlers, name, [])


@pytest.fixture
def one_attempt(settings):
    """One HTTP attempt per send, so a 5xx reaches the outbox (which retries it with backoff)."""
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 1, "timeout": 5}


def _world(url, code):
    """Fresh quiet platforms on our clock, the ERP shop, and a shipped order of that shop."""
    start = datetime.now(UTC) - timedelta(seconds=30)
    control(url, "reset", {"seed": 17, "start_time": start.isoformat().replace("+00:00", "Z")})
    control(url, "config", {"orders_per_hour": 0, "promotions": False, "fault_rate": 0})
    platform, creds = CREDS[code]
    shop, _ = shop_create(code=code, name=code, platform=platform, api_base_url=url + PATHS[platform],
                          credentials=creds, sync_lag_seconds=0, initial_lookback_hours=1)
    order_id = url.mock.generate(1, shop=code)[0]["order_id"]
    world = url.mock.world
    world.ship(world.orders[(platform, order_id)], carrier="SF", tracking_no="SF0001")
    return shop, order_id


def _open_refund(url, shop, order_id, *, return_goods=False):
    rid = url.mock.act("refund", platform=shop.platform, order_id=order_id, line=0,
                       return_goods=return_goods)["refund_ids"][0]
    url.mock.advance(seconds=2)
    assert run_job(shop=shop, job=Job.PULL_REFUNDS).status == SyncRun.Status.SUCCESS
    return rid, url.mock.world.refunds[(shop.platform, rid)]


def _relay(shop):
    return run_job(shop=shop, job=Job.PUSH_SHIPMENTS, trigger="test")


def _decisions(url, code):
    return [(r["decision"], r["accepted"], r["error"]) for r in control(url, "refund_decisions", shop=code)["refund_decisions"]]


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["tb-main", "jd-main", "pdd-main"])
def test_relay_retries_after_a_5xx_and_the_next_pull_sees_it(code, in_tenant_a, mock_url, integrations_only,
                                                             one_attempt):
    shop, order_id = _world(mock_url, code)
    rid, refund = _open_refund(mock_url, shop, order_id)
    row = refund_decision_enqueue(shop=shop, platform_refund_id=rid, action=RefundAction.AGREE_REFUND,
                                  operator="alice", ref="test")
    assert refund_decision_enqueue(shop=shop, platform_refund_id=rid, action="agree_refund").pk == row.pk
    assert (row.kind, row.payload["action"], row.status) == (Outbox.Kind.REFUND, "agree_refund", Outbox.Status.PENDING)
    control(mock_url, "faults", {"kind": "server_error", "count": 1, "shop": code})
    run = _relay(shop)
    row.refresh_from_db()
    assert run.failed == 1 and row.status == Outbox.Status.PENDING and row.attempts == 1
    assert row.next_attempt_at > timezone.now() and row.last_error
    assert refund.status == "requested"  # the 5xx applied nothing
    assert _relay(shop).fetched == 0  # not due yet: backoff
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert _relay(shop).updated == 1
    row.refresh_from_db()
    assert row.status == Outbox.Status.SENT and row.attempts == 2 and refund.status == "success"
    assert _decisions(mock_url, code) == [("agree_refund", True, "")]
    # the next refunds pull stores the platform's answer
    mock_url.mock.advance(seconds=2)
    assert run_job(shop=shop, job=Job.PULL_REFUNDS).status == SyncRun.Status.SUCCESS
    assert PlatformRefund.objects.get(shop=shop, platform_refund_id=rid).status == "success"


@pytest.mark.django_db
def test_a_resend_after_the_platform_applied_it_is_done_not_applied_twice(in_tenant_a, mock_url, integrations_only):
    shop, order_id = _world(mock_url, "tb-main")
    rid, refund = _open_refund(mock_url, shop, order_id)
    row = refund_decision_enqueue(shop=shop, platform_refund_id=rid, action="agree_refund")
    # the relay sent it and the platform applied it, then the worker died before marking the row
    from integrations.adapters import get_adapter
    from integrations.pushes import refund_decision_for

    assert get_adapter(shop).push_refund_decision(refund_decision_for(row)).ok
    assert _relay(shop).updated == 1
    row.refresh_from_db()
    assert row.status == Outbox.Status.SENT and row.response.get("already_applied") is True
    assert _decisions(mock_url, "tb-main") == [("agree_refund", True, ""), ("agree_refund", False, "ALREADY_DONE")]
    refunds = [b for b in mock_url.mock.world.bills if b.kind == "refund" and b.order_id == order_id]
    assert len(refunds) == 1  # the buyer was paid once
    assert _relay(shop).fetched == 0  # a sent row is never sent again


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["tb-main", "jd-main", "pdd-main"])
def test_return_flow_and_refusal_through_the_relay(code, in_tenant_a, mock_url, integrations_only):
    shop, order_id = _world(mock_url, code)
    rid, refund = _open_refund(mock_url, shop, order_id, return_goods=True)
    refund_decision_enqueue(shop=shop, platform_refund_id=rid, action="agree_return", return_address=ADDRESS)
    assert _relay(shop).updated == 1 and refund.status == "wait_return"
    # the goods reach us before the platform shows them shipped back: the confirmation waits and retries
    row = refund_decision_enqueue(shop=shop, platform_refund_id=rid, action="confirm_receipt", amount="10.00")
    assert _relay(shop).failed == 1
    row.refresh_from_db()
    assert row.status == Outbox.Status.PENDING and "STATUS_NOT_ALLOW" in row.last_error
    mock_url.mock.advance(hours=7)  # the buyer ships the goods back
    assert refund.status == "wait_confirm"
    Outbox.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert _relay(shop).updated == 1 and refund.status == "success"
    order_id = mock_url.mock.generate(1, shop=code)[0]["order_id"]
    world = mock_url.mock.world
    world.ship(world.orders[(shop.platform, order_id)], carrier="SF", tracking_no="SF0002")
    rid2, refund2 = _open_refund(mock_url, shop, order_id)
    refund_decision_enqueue(shop=shop, platform_refund_id=rid2, action="refuse", reason="商品已使用，不支持退款")
    assert _relay(shop).updated == 1 and refund2.status == "refused"
    # a decision the platform refuses (wrong state) is given up at once, with the platform's reason
    row = refund_decision_enqueue(shop=shop, platform_refund_id=rid2, action="agree_refund")
    assert _relay(shop).failed == 1
    row.refresh_from_db()
    assert row.status == Outbox.Status.FAILED and "STATUS_NOT_ALLOW" in row.last_error


@pytest.mark.django_db
def test_enqueue_validates(in_tenant_a):
    shop, _ = shop_create(code="tb9", name="tb9", platform="taobao")
    with pytest.raises(ValidationError):
        refund_decision_enqueue(shop=shop, platform_refund_id="1", action="approve")
    with pytest.raises(ValidationError):
        refund_decision_enqueue(shop=shop, platform_refund_id="", action="refuse")
    with pytest.raises(ValidationError):
        refund_decision_enqueue(shop=shop, platform_refund_id="1", action="agree_refund", amount=1.5)
    own, _ = shop_create(code="web", name="web", platform="own")
    assert refund_decision_enqueue(shop=own, platform_refund_id="1", action="agree_refund") is None
    row = refund_decision_enqueue(shop=shop, platform_refund_id="1", action="agree_refund", amount="12.30")
    assert row.payload["amount"] == "12.30" and row.dedupe_key == f"refund:{shop.pk}:1:agree_refund"
