"""Property-based: random sequences of stock operations keep every invariant, match a simple model,
and leave no drift between the levels and the ledger."""

import datetime
from collections import defaultdict

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import services
from inventory.models import StockLevel, StockLock

from .factories import SKUFactory

pytestmark = pytest.mark.django_db

QTY = st.integers(min_value=1, max_value=6)
WH = st.integers(min_value=0, max_value=1)
SKU_I = st.integers(min_value=0, max_value=2)  # 0, 1 plain; 2 = the bundle (2 × sku0 + 1 × sku1)

OPS = st.one_of(
    st.tuples(st.just("receive"), WH, st.integers(0, 1), QTY),
    st.tuples(st.just("adjust"), WH, st.integers(0, 1), st.integers(-6, 6).filter(bool)),
    st.tuples(st.just("reserve"), WH, SKU_I, QTY, st.booleans()),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("commit"), st.integers(0, 30)),
    st.tuples(st.just("lock"), WH, st.integers(0, 1), QTY),
    st.tuples(st.just("end_locks")),
    st.tuples(st.just("defective"), WH, st.integers(0, 1), QTY),
    st.tuples(st.just("transfer"), WH, st.integers(0, 1), QTY),
)


class Model:
    def __init__(self):
        self.on_hand = defaultdict(int)
        self.reserved = defaultdict(int)
        self.locked = defaultdict(int)
        self.refs = []  # [ref, [(key, units, from_lock, lock_id)], status]
        self.locks = {}  # id -> [key, remaining, active]

    def available(self, key):
        return self.on_hand[key] - self.reserved[key] - self.locked[key]


def check_invariants(expected: Model):
    for lv in StockLevel.objects.all():
        assert lv.on_hand >= 0 and lv.reserved >= 0 and lv.locked >= 0
        assert lv.reserved + lv.locked <= lv.on_hand
        key = (lv.warehouse_id, lv.sku_id)
        assert (lv.on_hand, lv.reserved, lv.locked) == (expected.on_hand[key], expected.reserved[key], expected.locked[key]), key
    assert services.stock_verify() == []


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=25))
def test_random_operations_keep_invariants(stock, ops):
    whs = [stock.wh1, stock.wh2]
    skus = [stock.sku, stock.sku2]
    with transaction.atomic():
        bundle = SKUFactory(code="PROP-BUNDLE")
        services.sku_set_components(bundle=bundle, components=[(stock.sku, 2), (stock.sku2, 1)])
        bundle.refresh_from_db()
        parts = {0: [(0, 1)], 1: [(1, 1)], 2: [(0, 2), (1, 1)]}
        model = Model()
        now = timezone.now()
        for n, op in enumerate(ops):
            kind = op[0]
            if kind == "receive":
                _, w, s, q = op
                services.stock_receive(warehouse=whs[w], sku=skus[s], quantity=q)
                model.on_hand[(whs[w].pk, skus[s].pk)] += q
            elif kind in ("adjust", "defective", "transfer"):
                _, w, s, q = op
                key = (whs[w].pk, skus[s].pk)
                delta = q if kind == "adjust" else -q
                ok = delta >= 0 or model.available(key) >= -delta
                try:
                    if kind == "adjust":
                        services.stock_adjust(warehouse=whs[w], sku=skus[s], quantity=q, reason="prop")
                    elif kind == "defective":
                        services.stock_mark_defective(warehouse=whs[w], sku=skus[s], quantity=q, reason="prop")
                    else:
                        transfer = services.transfer_create(from_warehouse=whs[w], to_warehouse=whs[1 - w], lines=[(skus[s], q)])
                        services.transfer_ship(transfer=transfer)
                        services.transfer_receive(transfer=transfer)
                    assert ok, f"{kind} should have been refused"
                    model.on_hand[key] += delta
                    if kind == "transfer":
                        model.on_hand[(whs[1 - w].pk, skus[s].pk)] += q
                except ValidationError:
                    assert not ok, f"{kind} refused wrongly"
            elif kind == "reserve":
                _, w, i, q, with_shop = op
                sku = bundle if i == 2 else skus[i]
                ref = f"r{n}"
                plan, ok = [], True
                for c, per in parts[i]:
                    key = (whs[w].pk, skus[c].pk)
                    units = per * q
                    from_lock, lock_id = 0, None
                    if with_shop:  # the first active lock of the shop with units left is used
                        usable = [lid for lid, (lkey, remaining, active) in sorted(model.locks.items())
                                  if active and lkey == key and remaining]
                        if usable:
                            lock_id = usable[0]
                            from_lock = min(model.locks[lock_id][1], units)
                            plan.append(("lock", lock_id, from_lock))
                    if model.available(key) < units - from_lock:
                        ok = False
                    plan.append((key, units, from_lock, lock_id))
                try:
                    services.stock_reserve(warehouse=whs[w], sku=sku, quantity=q, ref_type="prop", ref_id=ref,
                                           shop=stock.shop if with_shop else None)
                    assert ok, "reserve should have been refused"
                    lines = []
                    for item in plan:
                        if item[0] == "lock":
                            _, lid, take = item
                            model.locks[lid][1] -= take
                            model.locked[model.locks[lid][0]] -= take
                        else:
                            key, units, from_lock, lock_id = item
                            model.reserved[key] += units
                            lines.append(item)
                    model.refs.append([ref, lines, "open"])
                except services.InsufficientStock:
                    assert not ok, "reserve refused wrongly"
            elif kind in ("release", "commit"):
                if not model.refs:
                    continue
                entry = model.refs[op[1] % len(model.refs)]
                ref, lines, status = entry
                fn = services.stock_release if kind == "release" else services.stock_commit
                done = fn(ref_type="prop", ref_id=ref)
                if status != "open":
                    assert done == 0
                    continue
                assert done == sum(units for _, units, _, _ in lines)
                for key, units, from_lock, lock_id in lines:
                    model.reserved[key] -= units
                    if kind == "commit":
                        model.on_hand[key] -= units
                    elif from_lock and lock_id and model.locks[lock_id][2]:
                        model.locks[lock_id][1] += from_lock
                        model.locked[key] += from_lock
                entry[2] = kind
            elif kind == "lock":
                _, w, s, q = op
                key = (whs[w].pk, skus[s].pk)
                ok = model.available(key) >= q
                try:
                    lock = services.stock_lock_create(shop=stock.shop, sku=skus[s], warehouse=whs[w], quantity=q, name="p",
                                                      starts_at=now, ends_at=now + datetime.timedelta(hours=1))
                    assert ok
                    model.locks[lock.pk] = [key, q, True]
                    model.locked[key] += q
                except services.InsufficientStock:
                    assert not ok
            elif kind == "end_locks":
                services.stock_locks_tick(now=now + datetime.timedelta(hours=2))
                for lock in model.locks.values():
                    if lock[2]:
                        model.locked[lock[0]] -= lock[1]
                        lock[1], lock[2] = 0, False
            check_invariants(model)
        assert StockLock.objects.filter(status="active").count() == sum(1 for lk in model.locks.values() if lk[2])
        transaction.set_rollback(True)
