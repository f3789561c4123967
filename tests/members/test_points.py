"""The points ledger: earn on shipment (once per order), clawback on refund, redeem, expiry FIFO,
ledger = projection, append-only."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from erp import events
from erp.api.exceptions import Conflict
from members import services
from members.models import Member, MemberOrder, MemberSettings, PointsEntry, PointsKind
from members.services import handlers

pytestmark = pytest.mark.django_db


def member_of(buyer, platform="taobao"):
    from members.models import MemberIdentity

    return MemberIdentity.objects.get(platform=platform, buyer_id=buyer).member


def test_handlers_are_subscribed():
    assert services.on_order_shipped in events.handlers("order.shipped")
    assert services.on_aftersales_refunded in events.handlers("aftersales.refunded")


def test_shipping_earns_floor_paid_times_rate_times_multiplier_once(orders, levels):
    st = services.member_settings()
    st.points_per_yuan = Decimal("1.5")
    st.save()
    snap = orders.ship(buyer="b1", paid="99.99")
    member = member_of("b1")
    # the first order: no level yet when it is computed -> multiplier 1
    assert member.points_balance == 149  # floor(99.99 * 1.5)
    services.on_order_shipped(order_id=snap.id)  # the same order again
    services.points_earn_for_order(order_id=snap.id)
    assert PointsEntry.objects.filter(kind=PointsKind.EARN).count() == 1
    member.refresh_from_db()
    assert (member.points_balance, member.order_count, member.lifetime_paid) == (149, 1, Decimal("99.99"))
    assert member.level.rank == 1  # 普通会员 at once
    entry = PointsEntry.objects.get()
    assert entry.reference == f"order:{snap.id}" and entry.expires_on is not None


def test_level_multiplier_applies(orders, levels):
    orders.ship(buyer="b1", paid="600.00")  # -> 银卡 (500+)
    member = member_of("b1")
    assert member.level.rank == 2 and member.points_balance == 600
    orders.ship(buyer="b1", paid="100.00")
    member.refresh_from_db()
    assert member.points_balance == 600 + 120  # ×1.2


def test_reship_and_stopped_lines_earn_nothing(orders):
    orders.ship(buyer="b1", paid="50.00", kind="reship")
    assert not Member.objects.exists()
    orders.ship(buyer="b2", paid="80.00", lines=[("P1", Decimal("50.00"), False), ("P1", Decimal("30.00"), True)])
    assert member_of("b2").points_balance == 50


def test_merged_shipment_remembers_each_platform_order(orders):
    snap = orders.ship(buyer="b1", paid="30.00", kind="merged",
                       lines=[("PA", Decimal("10.00"), False), ("PB", Decimal("20.00"), False)])
    record = MemberOrder.objects.get(order_id=snap.id)
    assert record.parts == {"PA": "10.00", "PB": "20.00"} and record.points_earned == 30


def test_refund_claws_back_proportionally_once_and_never_beyond_earned(orders):
    snap = orders.ship(buyer="b1", paid="100.00", poid="T1", shop_id=7)
    member = member_of("b1")
    assert member.points_balance == 100
    services.on_aftersales_refunded(ticket_id=1, order_id=snap.id, shop_id=7, platform_order_id="T1",
                                    amount=Decimal("25.00"), currency="CNY", kind="refund")
    services.on_aftersales_refunded(ticket_id=1, order_id=snap.id, shop_id=7, platform_order_id="T1",
                                    amount=Decimal("25.00"))  # the same ticket again
    member.refresh_from_db()
    assert member.points_balance == 75 and member.lifetime_paid == Decimal("75.00")
    # found by platform order id alone; a second refund bigger than what is left is capped
    taken = services.points_clawback_for_refund(ticket_id=2, shop_id=7, platform_order_id="T1", amount="500.00")
    member.refresh_from_db()
    assert taken == 75 and member.points_balance == 0 and member.lifetime_paid == Decimal("0.00")
    assert services.points_clawback_for_refund(ticket_id=3, order_id=snap.id, amount="10.00") == 0
    clawed = sum(e.amount for e in PointsEntry.objects.filter(kind=PointsKind.CLAWBACK))
    assert clawed == -100


def test_refund_of_an_unknown_order_changes_nothing(orders):
    orders.ship(buyer="b1", paid="100.00")
    assert services.points_clawback_for_refund(ticket_id=9, order_id=424242, amount="10.00") == 0
    assert PointsEntry.objects.count() == 1


def test_redeem_refused_beyond_balance_and_bad_amounts(orders):
    orders.ship(buyer="b1", paid="100.00")
    member = member_of("b1")
    with pytest.raises(Conflict):
        services.points_redeem(member_id=member.pk, amount=101)
    for bad in (0, -5, "abc", 1.5):
        with pytest.raises(ValidationError):
            services.points_redeem(member_id=member.pk, amount=bad)
    services.points_redeem(member_id=member.pk, amount=60, reference="coupon-1")
    again = services.points_redeem(member_id=member.pk, amount=60, reference="coupon-1")  # a retry
    member.refresh_from_db()
    assert member.points_balance == 40 and again.amount == -60
    assert PointsEntry.objects.filter(kind=PointsKind.REDEEM).count() == 1
    with pytest.raises(Conflict):
        services.points_adjust(member_id=member.pk, amount=-41, reason="too much")
    with pytest.raises(ValidationError):
        services.points_adjust(member_id=member.pk, amount=5, reason="")


def _earn(member, amount, expires_on, ref):
    return services._post(member=member, kind=PointsKind.EARN, amount=amount, reference=ref, expires_on=expires_on)


def test_expiry_is_fifo_and_runs_once(in_tenant_a):
    member = services.identity_match(platform="taobao", buyer_id="b1").member
    today = date(2026, 11, 20)
    _earn(member, 100, today - timedelta(days=10), "e1")  # expired
    _earn(member, 50, today - timedelta(days=1), "e2")  # expired
    _earn(member, 70, today + timedelta(days=30), "e3")  # still valid
    services.points_redeem(member_id=member.pk, amount=120)  # takes 100 of e1 and 20 of e2
    assert services.points_expire(today=today) == 30  # what is left of e2
    assert services.points_expire(today=today) == 0  # a rerun expires nothing twice
    member.refresh_from_db()
    assert member.points_balance == 70 == services.points_balance(member_id=member.pk)
    expired = PointsEntry.objects.get(kind=PointsKind.EXPIRE)
    assert expired.amount == -30 and expired.earn_entry.reference == "e2"
    # later: e3 expires too, nothing more of e1/e2
    assert services.points_expire(today=today + timedelta(days=31)) == 70
    member.refresh_from_db()
    assert member.points_balance == 0


def test_expiry_date_follows_settings(orders):
    MemberSettings.objects.all().delete()
    st = services.member_settings()
    st.points_expire_days = 0
    st.save()
    orders.ship(buyer="b1", paid="10.00")
    assert PointsEntry.objects.get().expires_on is None


def test_ledger_is_append_only(orders):
    orders.ship(buyer="b1", paid="10.00")
    entry = PointsEntry.objects.get()
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            PointsEntry.objects.filter(pk=entry.pk).update(amount=999)
        with pytest.raises(DatabaseError), transaction.atomic():
            PointsEntry.objects.filter(pk=entry.pk).delete()


def test_verify_points_reports_and_repairs_drift(orders, tenant_a):
    orders.ship(buyer="b1", paid="10.00")
    member = member_of("b1")
    out = StringIO()
    call_command("verify_points", tenant=tenant_a.tenant.slug, stdout=out)
    assert "match the ledger" in out.getvalue()
    Member.objects.filter(pk=member.pk).update(points_balance=999)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_points", tenant=tenant_a.tenant.slug, stdout=out)
    assert f"member {member.pk} points balance 999, ledger 10" in out.getvalue()
    call_command("verify_points", tenant=tenant_a.tenant.slug, repair=True, stdout=StringIO())
    member.refresh_from_db()
    assert member.points_balance == 10


def test_projection_equals_ledger_after_a_mixed_history(orders):
    a = orders.ship(buyer="b1", paid="300.00", poid="X1", shop_id=3, phone="13800000001")
    orders.ship(buyer="j1", platform="jd", paid="200.00", phone="13800000002")
    orders.ship(buyer="j2", platform="jd", paid="50.00", phone="13800000001")  # joins b1 by phone
    m1, m2 = member_of("b1"), member_of("j1", "jd")
    services.member_merge(target_id=m1.pk, source_id=m2.pk, allow_different_phones=True)
    services.points_redeem(member_id=m1.pk, amount=100)
    services.points_clawback_for_refund(ticket_id=5, order_id=a.id, amount="30.00")
    services.points_expire(today=date.today() + timedelta(days=400))
    from members.selectors import points_drift

    assert points_drift() == []
    for m in Member.objects.all():
        assert services.member_refresh(member_id=m.pk).points_balance == m.points_balance


def test_a_failing_earn_never_breaks_the_shipment(orders, monkeypatch, django_capture_on_commit_callbacks):
    calls = []

    def boom(**kw):
        raise RuntimeError("orders unavailable")

    monkeypatch.setattr(handlers, "points_earn_for_order", boom)
    from members import tasks

    monkeypatch.setattr(tasks.earn_for_order, "delay", lambda **kw: calls.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        services.on_order_shipped(order_id=1)
    assert calls and calls[0]["order_id"] == 1


def test_beat_ticks_fan_out_per_tenant(orders, tenant_a, monkeypatch):
    from django_celery_beat.models import PeriodicTask

    from members import tasks

    orders.ship(buyer="b1", paid="10.00")
    seen = []
    monkeypatch.setattr(tasks.expire_points_for_tenant, "delay", lambda **kw: seen.append(("expire", kw)))
    monkeypatch.setattr(tasks.nightly_for_tenant, "delay", lambda **kw: seen.append(("nightly", kw)))
    assert tasks.expiry_tick() == 0
    assert tasks.nightly_tick() == 1
    assert seen == [("nightly", {"tenant_id": tenant_a.tenant.pk})]
    assert tasks.expire_points_for_tenant(tenant_id=tenant_a.tenant.pk) == 0
    names = set(PeriodicTask.objects.filter(task__startswith="members.").values_list("task", flat=True))
    assert names == {"members.expiry_tick", "members.nightly_tick", "members.coupons_expiry_tick",
                     "members.campaigns_tick"}


def test_an_order_that_reveals_a_phone_merges_and_counts_for_the_surviving_member(orders):
    orders.ship(buyer="j1", platform="jd", phone="13800000001", paid="100.00")
    orders.ship(buyer="b1", platform="taobao", phone="138****0001", paid="50.00")
    older, newer = member_of("j1", "jd"), member_of("b1")
    assert older.pk != newer.pk
    orders.ship(buyer="b1", platform="taobao", phone="13800000001", paid="30.00")
    older.refresh_from_db()
    newer.refresh_from_db()
    assert newer.merged_into_id == older.pk
    assert (older.order_count, older.lifetime_paid, older.points_balance) == (3, Decimal("180.00"), 180)
    assert (newer.order_count, newer.points_balance) == (2, 80)  # its own rows
    from members.selectors import points_drift

    assert points_drift() == []
