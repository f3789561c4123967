import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from erp.tenancy.context import tenant_context
from inventory import selectors, services, stock_sql
from inventory.models import (
    LockStatus,
    MatchMethod,
    MoveKind,
    PlatformSkuMapping,
    Reservation,
    ReservationStatus,
    StockDirty,
    StockLevel,
    StockLock,
    StockMove,
)
from inventory.services import InsufficientStock

from .conftest import make_shop
from .factories import SKUFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def level(wh, sku):
    return StockLevel.objects.filter(warehouse=wh, sku=sku).first()


def assert_no_drift():
    assert services.stock_verify() == []


def test_receive_writes_move_and_level(stock):
    move = services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10, reason="opening", source_doc="PO-1")
    assert move.kind == MoveKind.RECEIPT and move.on_hand_delta == 10 and move.on_hand_after == 10
    lv = level(stock.wh1, stock.sku)
    assert (lv.on_hand, lv.reserved, lv.available) == (10, 0, 10)
    assert_no_drift()


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "3", True, 10**12])
def test_bad_quantities_are_refused(stock, quantity):
    with pytest.raises(ValidationError):
        services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=quantity)
    with pytest.raises(ValidationError):
        services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=quantity, ref_type="order_line", ref_id="1")
    assert StockMove.objects.count() == 0


def test_other_tenants_objects_are_unknown(stock, tenant_b):
    with tenant_context(tenant_b.tenant):
        foreign_wh = WarehouseFactory()
        foreign_sku = SKUFactory()
    with pytest.raises(ValidationError) as exc:
        services.stock_receive(warehouse=foreign_wh, sku=stock.sku, quantity=1)
    assert "warehouse" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.stock_reserve(warehouse=stock.wh1, sku=foreign_sku, quantity=1, ref_type="order_line", ref_id="1")


def test_reserve_release_commit(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=3, ref_type="order_line", ref_id="1")
    assert (level(stock.wh1, stock.sku).reserved, level(stock.wh1, stock.sku).available) == (3, 2)
    # idempotent
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=3, ref_type="order_line", ref_id="1")
    assert level(stock.wh1, stock.sku).reserved == 3
    with pytest.raises(ValidationError):
        services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="1")
    with pytest.raises(InsufficientStock) as exc:
        services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=3, ref_type="order_line", ref_id="2")
    assert (exc.value.requested, exc.value.available, exc.value.sku_id) == (3, 2, stock.sku.pk)
    assert level(stock.wh1, stock.sku).reserved == 3  # the refusal changed nothing

    assert services.stock_release(ref_type="order_line", ref_id="1") == 3
    assert services.stock_release(ref_type="order_line", ref_id="1") == 0
    assert level(stock.wh1, stock.sku).reserved == 0
    # a released reference may be reserved again
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="1")
    assert services.stock_commit(ref_type="order_line", ref_id="1", source_doc="SO-1") == 2
    assert services.stock_commit(ref_type="order_line", ref_id="1") == 0
    lv = level(stock.wh1, stock.sku)
    assert (lv.on_hand, lv.reserved) == (3, 0)
    shipment = StockMove.objects.get(kind=MoveKind.SHIPMENT)
    assert (shipment.on_hand_delta, shipment.source_doc) == (-2, "SO-1")
    # reserving a shipped reference again changes nothing
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="1")
    assert level(stock.wh1, stock.sku).reserved == 0
    assert_no_drift()


def test_reserve_with_no_level_row_is_insufficient(stock):
    with pytest.raises(InsufficientStock) as exc:
        services.stock_reserve(warehouse=stock.wh2, sku=stock.sku, quantity=1, ref_type="order_line", ref_id="x")
    assert exc.value.available == 0


def test_reserve_inside_a_callers_transaction_keeps_it_usable(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=1)
    with transaction.atomic():
        with pytest.raises(InsufficientStock):
            services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="a")
        services.stock_reserve(warehouse=stock.wh2 if False else stock.wh1, sku=stock.sku, quantity=1,
                               ref_type="order_line", ref_id="a")
    assert level(stock.wh1, stock.sku).reserved == 1


def test_adjust_cannot_go_below_reserved(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=4, ref_type="order_line", ref_id="1")
    with pytest.raises(InsufficientStock):
        services.stock_adjust(warehouse=stock.wh1, sku=stock.sku, quantity=-2, reason="broken")
    services.stock_adjust(warehouse=stock.wh1, sku=stock.sku, quantity=-1, reason="broken")
    with pytest.raises(ValidationError):
        services.stock_adjust(warehouse=stock.wh1, sku=stock.sku, quantity=1, reason="  ")
    assert level(stock.wh1, stock.sku).on_hand == 4
    assert_no_drift()


def test_constraints_are_the_last_wall(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(warehouse=stock.wh1, sku=stock.sku).update(reserved=2)
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            StockMove.objects.update(on_hand_delta=100)  # the ledger is append-only in the database too


def test_returns_and_defective(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_return(warehouse=stock.wh1, sku=stock.sku, quantity=1, source_doc="RMA-1")
    services.stock_return(warehouse=stock.wh1, sku=stock.sku, quantity=2, source_doc="RMA-2", defective=True)
    services.stock_mark_defective(warehouse=stock.wh1, sku=stock.sku, quantity=1, reason="scratched")
    services.stock_scrap_defective(warehouse=stock.wh1, sku=stock.sku, quantity=2, reason="scrapped")
    lv = level(stock.wh1, stock.sku)
    assert (lv.on_hand, lv.defective) == (5, 1)
    with pytest.raises(ValidationError):
        services.stock_scrap_defective(warehouse=stock.wh1, sku=stock.sku, quantity=2, reason="too many")
    assert_no_drift()


def make_bundle(stock):
    bundle = SKUFactory(code="SET-RED-2")
    services.sku_set_components(bundle=bundle, components=[(stock.sku, 2), (stock.sku3, 1)])
    bundle.refresh_from_db()
    return bundle


def test_bundle_availability_reserve_and_commit(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=7)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku3, quantity=10)
    bundle = make_bundle(stock)
    assert bundle.is_bundle
    avail = selectors.available_by_warehouse(sku_ids=[bundle.pk, stock.sku.pk])
    assert avail[(stock.wh1.pk, bundle.pk)] == 3 and avail[(stock.wh1.pk, stock.sku.pk)] == 7
    with pytest.raises(ValidationError):
        services.stock_receive(warehouse=stock.wh1, sku=bundle, quantity=1)

    services.stock_reserve(warehouse=stock.wh1, sku=bundle, quantity=2, ref_type="order_line", ref_id="b1")
    services.stock_reserve(warehouse=stock.wh1, sku=bundle, quantity=2, ref_type="order_line", ref_id="b1")  # idempotent
    assert (level(stock.wh1, stock.sku).reserved, level(stock.wh1, stock.sku3).reserved) == (4, 2)
    assert selectors.available_by_warehouse(sku_ids=[bundle.pk])[(stock.wh1.pk, bundle.pk)] == 1
    with pytest.raises(InsufficientStock) as exc:
        services.stock_reserve(warehouse=stock.wh1, sku=bundle, quantity=2, ref_type="order_line", ref_id="b2")
    assert (exc.value.sku_id, exc.value.available) == (bundle.pk, 1)
    assert level(stock.wh1, stock.sku3).reserved == 2  # all or nothing
    assert services.stock_commit(ref_type="order_line", ref_id="b1") == 6
    assert (level(stock.wh1, stock.sku).on_hand, level(stock.wh1, stock.sku3).on_hand) == (3, 8)
    assert set(Reservation.objects.values_list("bundle_id", flat=True)) == {bundle.pk}
    assert_no_drift()


def test_bundle_rules(stock):
    bundle = make_bundle(stock)
    with pytest.raises(ValidationError):
        services.sku_set_components(bundle=stock.sku2, components=[(bundle, 1)])
    with pytest.raises(ValidationError):
        services.sku_set_components(bundle=stock.sku2, components=[(stock.sku2, 1)])
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=1)
    with pytest.raises(ValidationError):
        services.sku_set_components(bundle=stock.sku2, components=[(stock.sku3, 1)])


def test_reserve_many_is_all_or_nothing(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=2)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=1)
    lines = [dict(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="m1"),
             dict(warehouse=stock.wh1, sku=stock.sku2, quantity=2, ref_type="order_line", ref_id="m2")]
    with pytest.raises(InsufficientStock):
        services.stock_reserve_many(lines=lines)
    assert level(stock.wh1, stock.sku).reserved == 0
    lines[1]["quantity"] = 1
    services.stock_reserve_many(lines=lines)
    assert (level(stock.wh1, stock.sku).reserved, level(stock.wh1, stock.sku2).reserved) == (2, 1)


def test_transfer_out_in_transit_in(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    transfer = services.transfer_create(from_warehouse=stock.wh1, to_warehouse=stock.wh2, lines=[(stock.sku, 4)])
    with pytest.raises(ValidationError):
        services.transfer_receive(transfer=transfer)
    services.transfer_ship(transfer=transfer)
    assert level(stock.wh1, stock.sku).on_hand == 6
    assert (level(stock.wh2, stock.sku).on_hand, level(stock.wh2, stock.sku).in_transit) == (0, 4)
    services.transfer_receive(transfer=transfer, received={stock.sku.pk: 3})
    assert (level(stock.wh2, stock.sku).on_hand, level(stock.wh2, stock.sku).in_transit) == (3, 0)
    transfer.refresh_from_db()
    assert transfer.status == "received" and transfer.lines.get().received_quantity == 3
    with pytest.raises(ValidationError):
        services.transfer_ship(transfer=transfer)
    big = services.transfer_create(from_warehouse=stock.wh1, to_warehouse=stock.wh2, lines=[(stock.sku, 100)])
    with pytest.raises(InsufficientStock):
        services.transfer_ship(transfer=big)
    with pytest.raises(ValidationError):
        services.transfer_create(from_warehouse=stock.wh1, to_warehouse=stock.wh1, lines=[(stock.sku, 1)])
    assert_no_drift()


def test_stocktake_posts_variances(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=5)
    take = services.stocktake_create(warehouse=stock.wh1)
    assert take.lines.count() == 2
    services.stocktake_count(stocktake=take, counts={stock.sku.pk: 8, stock.sku2.pk: 5, stock.sku3.pk: 2})
    report = services.stocktake_post(stocktake=take)
    assert sorted((ln.sku_id, ln.variance) for ln in report) == sorted([(stock.sku.pk, -2), (stock.sku3.pk, 2)])
    assert (level(stock.wh1, stock.sku).on_hand, level(stock.wh1, stock.sku3).on_hand) == (8, 2)
    assert StockMove.objects.filter(kind=MoveKind.ADJUSTMENT, source_doc=take.number).count() == 2
    with pytest.raises(ValidationError):
        services.stocktake_post(stocktake=take)
    assert_no_drift()


def test_stocktake_below_reserved_is_refused(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=6, ref_type="order_line", ref_id="1")
    take = services.stocktake_create(warehouse=stock.wh1, sku_ids=[stock.sku.pk])
    services.stocktake_count(stocktake=take, counts={stock.sku.pk: 5})
    with pytest.raises(ValidationError):
        services.stocktake_post(stocktake=take)
    assert level(stock.wh1, stock.sku).on_hand == 10


# --- promotion locks -------------------------------------------------------------------------

def test_lock_sets_stock_aside_for_one_shop(stock):
    other = make_shop(stock.tenant, "jd1", "jd")
    m_promo = services.sku_mapping_create(shop=stock.shop, platform_item_id="1", outer_id=stock.sku.code)
    m_other = services.sku_mapping_create(shop=other, platform_item_id="9", outer_id=stock.sku.code)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    now = timezone.now()
    lock = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=6, starts_at=now,
                                      ends_at=now + datetime.timedelta(hours=2), name="双11")
    lock.refresh_from_db()
    assert (lock.status, lock.remaining) == (LockStatus.ACTIVE, 6)
    assert level(stock.wh1, stock.sku).available == 4

    def shown(shop, mapping):
        return {line.mapping_id: line.quantity for line in selectors.sellable_stock_for_shop(shop=shop)}[mapping.pk]

    assert shown(stock.shop, m_promo) == 10 and shown(other, m_other) == 4
    # an order without the promotion shop cannot take locked units
    with pytest.raises(InsufficientStock):
        services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=5, ref_type="order_line", ref_id="x")
    # the promotion shop's order uses the lock first
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=8, ref_type="order_line", ref_id="p1", shop=stock.shop)
    lock.refresh_from_db()
    lv = level(stock.wh1, stock.sku)
    assert (lock.remaining, lock.used, lv.locked, lv.reserved, lv.available) == (0, 6, 0, 8, 2)
    # a cancelled promotion order gives the units back to the lock
    services.stock_release(ref_type="order_line", ref_id="p1")
    lock.refresh_from_db()
    assert (lock.remaining, lock.used, level(stock.wh1, stock.sku).locked) == (6, 0, 6)
    assert_no_drift()
    # the lock ends: unsold units come back
    result = services.stock_locks_tick(now=now + datetime.timedelta(hours=3))
    lock.refresh_from_db()
    assert result["ended"] == 1 and lock.status == LockStatus.ENDED and lock.released == 6
    assert level(stock.wh1, stock.sku).available == 10
    assert list(lock.events.values_list("kind", flat=True)) == ["lock", "use", "unuse", "release"]
    assert_no_drift()


def test_lock_refused_when_short_and_scheduled_lock_starts_later(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    now = timezone.now()
    with pytest.raises(InsufficientStock):
        services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=5, starts_at=now,
                                   ends_at=now + datetime.timedelta(hours=1), name="x", warehouse=stock.wh1)
    with pytest.raises(ValidationError):
        services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=1, starts_at=now,
                                   ends_at=now - datetime.timedelta(hours=1), name="x", warehouse=stock.wh1)
    lock = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=5, starts_at=now + datetime.timedelta(hours=1),
                                      ends_at=now + datetime.timedelta(hours=2), name="later", warehouse=stock.wh1)
    assert lock.status == LockStatus.SCHEDULED and level(stock.wh1, stock.sku).locked == 0
    services.stock_locks_tick(now=now + datetime.timedelta(minutes=61))
    lock.refresh_from_db()
    assert (lock.status, lock.remaining) == (LockStatus.ACTIVE, 3)  # as much as there was
    assert "short" in list(lock.events.values_list("kind", flat=True))
    services.stock_lock_cancel(lock=lock)
    assert level(stock.wh1, stock.sku).locked == 0
    assert_no_drift()


def test_release_after_lock_end_returns_to_general_stock(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    now = timezone.now()
    lock = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=2, starts_at=now,
                                      ends_at=now + datetime.timedelta(hours=1), name="x", warehouse=stock.wh1)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=1, ref_type="order_line", ref_id="p", shop=stock.shop)
    services.stock_locks_tick(now=now + datetime.timedelta(hours=2))
    services.stock_release(ref_type="order_line", ref_id="p")
    lock.refresh_from_db()
    assert (lock.remaining, lock.used, lock.released) == (0, 0, 2)
    assert level(stock.wh1, stock.sku).available == 5
    assert_no_drift()


def test_expire_task_fans_out_over_tenants(stock, tenant_b):
    from inventory.tasks import expire_stock_locks

    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    now = timezone.now()
    lock = services.stock_lock_create(shop=stock.shop, sku=stock.sku, quantity=2, starts_at=now,
                                      ends_at=now + datetime.timedelta(seconds=1), name="x", warehouse=stock.wh1)
    StockLock.objects.filter(pk=lock.pk).update(ends_at=now - datetime.timedelta(seconds=1), starts_at=now - datetime.timedelta(hours=1))
    with tenant_context(None):
        expire_stock_locks.apply()
    lock.refresh_from_db()
    assert lock.status == LockStatus.ENDED and level(stock.wh1, stock.sku).locked == 0


def test_beat_schedule_is_registered_by_migration(db):
    """The data migration registers the beat job (idempotently: running it again adds nothing)."""
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("inventory.migrations.0002_stockmove_append_only_and_beat")
    migration.add_periodic_tasks(apps, None)
    migration.add_periodic_tasks(apps, None)
    task = PeriodicTask.objects.get(task="inventory.expire_stock_locks")
    assert task.enabled and task.interval.every == 60


# --- channel stock ---------------------------------------------------------------------------

def test_sync_rule_and_sellable_stock(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    services.stock_receive(warehouse=stock.wh2, sku=stock.sku, quantity=90)
    mapping = services.sku_mapping_create(shop=stock.shop, platform_item_id="1", platform_sku_id="11", outer_id=stock.sku.code)
    bundle = make_bundle(stock)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku3, quantity=2)
    m_bundle = services.sku_mapping_create(shop=stock.shop, platform_item_id="2", sku=bundle)

    def shown():
        return {ln.mapping_id: (ln.quantity, ln.delist) for ln in selectors.sellable_stock_for_shop(shop=stock.shop)}

    assert shown() == {mapping.pk: (100, False), m_bundle.pk: (2, False)}
    services.sync_rule_save(shop=stock.shop, warehouses=[stock.wh1], percentage=50, safety_stock=2)
    assert shown()[mapping.pk] == (4, False)  # (10 - 2) * 50%
    services.sync_rule_save(shop=stock.shop, min_quantity=6)
    assert shown()[mapping.pk] == (6, False)
    services.sync_rule_save(shop=stock.shop, max_quantity=7, min_quantity=None, percentage=100, adjust=5)
    assert shown()[mapping.pk] == (7, False)
    services.sync_rule_save(shop=stock.shop, warehouses=[stock.wh2], max_quantity=None, adjust=0)
    assert shown() == {mapping.pk: (88, False), m_bundle.pk: (0, True)}  # bundle components are all in wh1
    with pytest.raises(ValidationError):
        services.sync_rule_save(shop=stock.shop, percentage=120)
    with pytest.raises(ValidationError):
        services.sync_rule_save(shop=stock.shop, min_quantity=9, max_quantity=3)


def test_apply_sync_rule_never_shows_more_than_there_is():
    from inventory.models import SyncRule

    rule = SyncRule(percentage=100, adjust=10, safety_stock=0, min_quantity=5)
    assert selectors.apply_sync_rule(rule, 3) == 3
    assert selectors.apply_sync_rule(rule, 0) == 0
    assert selectors.apply_sync_rule(None, -2) == 0


def test_dirty_marks_claim_and_ack(stock):
    other = make_shop(stock.tenant, "pdd1", "pdd")
    m1 = services.sku_mapping_create(shop=stock.shop, platform_item_id="1", outer_id=stock.sku.code)
    m2 = services.sku_mapping_create(shop=other, platform_item_id="1", outer_id=stock.sku.code)
    m3 = services.sku_mapping_create(shop=stock.shop, platform_item_id="3", outer_id=stock.sku2.code)
    services.sync_rule_save(shop=other, warehouses=[stock.wh2])
    stock_sql.propagate_stock_changes()
    StockDirty.objects.update(dirty=False)

    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    assert stock_sql.propagate_stock_changes() == 1
    dirty = set(StockDirty.objects.filter(dirty=True).values_list("mapping_id", flat=True))
    assert dirty == {m1.pk}  # the other shop reads only wh2; sku2 did not change
    claimed = selectors.dirty_stock_claim(shop=stock.shop)
    assert [(c.mapping_id, c.quantity) for c in claimed] == [(m1.pk, 5)]
    # a change after the claim (seen by another claim meanwhile): the old ack must not clear it
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=1, ref_type="order_line", ref_id="1")
    stock_sql.propagate_stock_changes()
    assert selectors.dirty_stock_ack(shop=stock.shop, acks=[(m1.pk, claimed[0].version)]) == 0
    again = selectors.dirty_stock_claim(shop=stock.shop)
    assert [(c.mapping_id, c.quantity) for c in again] == [(m1.pk, 4)]
    assert selectors.dirty_stock_ack(shop=stock.shop, acks=[(m1.pk, again[0].version)]) == 1
    assert selectors.dirty_stock_claim(shop=stock.shop) == []
    # a change not yet propagated when the ack comes is still pushed by the next claim
    claimed = selectors.dirty_stock_claim(shop=stock.shop)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=1, ref_type="order_line", ref_id="2")
    selectors.dirty_stock_ack(shop=stock.shop, acks=[(c.mapping_id, c.version) for c in claimed])
    assert [(c.mapping_id, c.quantity) for c in selectors.dirty_stock_claim(shop=stock.shop)] == [(m1.pk, 3)]
    # a bundle mapping is marked when a component changes
    bundle = make_bundle(stock)
    mb = services.sku_mapping_create(shop=stock.shop, platform_item_id="b", sku=bundle)
    stock_sql.propagate_stock_changes()
    StockDirty.objects.update(dirty=False)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku3, quantity=1)
    stock_sql.propagate_stock_changes()
    assert set(StockDirty.objects.filter(dirty=True).values_list("mapping_id", flat=True)) == {mb.pk}
    assert m2.pk and m3.pk


def test_sku_for_platform_line_matches_records_and_queues(stock):
    sku = selectors.sku_for_platform_line(shop=stock.shop, platform_item_id="100", platform_sku_id="1",
                                          outer_id=stock.sku.code)
    assert sku == stock.sku
    mapping = PlatformSkuMapping.objects.get(platform_item_id="100")
    assert mapping.match_method == MatchMethod.AUTO
    assert selectors.sku_for_platform_line(shop=stock.shop, platform_item_id="100", platform_sku_id="1", outer_id="") == stock.sku
    assert selectors.sku_for_platform_line(shop=stock.shop, platform_item_id="200", platform_sku_id="", outer_id="NOPE") is None
    assert selectors.sku_for_platform_line(shop=stock.shop, platform_item_id="200", platform_sku_id="", outer_id="NOPE") is None
    assert [m.platform_item_id for m in selectors.unmatched_mappings()] == ["200"]
    new = SKUFactory(code="NOPE")
    assert services.sku_mappings_automatch() == 1
    assert selectors.sku_for_platform_line(shop=stock.shop, platform_item_id="200", platform_sku_id="", outer_id="NOPE") == new
    services.sku_mapping_set(mapping=mapping, sku=stock.sku2)
    mapping.refresh_from_db()
    assert (mapping.sku, mapping.match_method) == (stock.sku2, MatchMethod.MANUAL)


# --- ledger check --------------------------------------------------------------------------------

def test_verify_stock_finds_and_repairs_drift(stock, capsys):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=2, ref_type="order_line", ref_id="1")
    StockLevel.objects.filter(warehouse=stock.wh1, sku=stock.sku).update(on_hand=9, reserved=1)
    drifts = services.stock_verify()
    assert {(d.field, d.recorded, d.derived) for d in drifts} == {("on_hand", 9, 5), ("reserved", 1, 2)}
    with pytest.raises(SystemExit):
        call_command("verify_stock", "--tenant", stock.tenant.slug)
    call_command("verify_stock", "--tenant", stock.tenant.slug, "--repair")
    assert_no_drift()
    call_command("verify_stock")
    assert "no drift" in capsys.readouterr().out


def test_stock_health(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=10)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=9, ref_type="order_line", ref_id="1")
    services.stock_commit(ref_type="order_line", ref_id="1")
    lines = {ln.code: ln for ln in selectors.stock_health(days=30)}
    assert lines[stock.sku.code].sold == 9 and lines[stock.sku.code].status == "risk"
    assert lines[stock.sku2.code].status == "slow" and lines[stock.sku2.code].days_of_cover is None
    assert selectors.stock_health_counts()["risk"] == 1


def test_reservation_rows_are_one_per_reference(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=1, ref_type="order_line", ref_id="1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.create(ref_type="order_line", ref_id="1", warehouse=stock.wh1, sku=stock.sku, quantity=1)
    assert Reservation.objects.get().status == ReservationStatus.OPEN


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement path is Postgres only")
def test_fast_path_is_used_and_marks_dirty(stock):
    mapping = services.sku_mapping_create(shop=stock.shop, platform_item_id="1", outer_id=stock.sku.code)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    stock_sql.propagate_stock_changes()
    version = StockDirty.objects.get(mapping=mapping).version
    assert not level(stock.wh1, stock.sku).needs_push
    assert stock_sql.reserve_fast(warehouse_id=stock.wh1.pk, sku_id=stock.sku.pk, quantity=2, ref_type="t", ref_id="1")
    assert level(stock.wh1, stock.sku).needs_push
    stock_sql.propagate_stock_changes()
    assert StockDirty.objects.get(mapping=mapping).version == version + 1
    assert not stock_sql.reserve_fast(warehouse_id=stock.wh1.pk, sku_id=stock.sku.pk, quantity=2, ref_type="t", ref_id="2")
    assert not stock_sql.reserve_fast(warehouse_id=stock.wh1.pk, sku_id=stock.sku.pk, quantity=1, ref_type="t", ref_id="1")
    assert level(stock.wh1, stock.sku).reserved == 2
    assert_no_drift()
