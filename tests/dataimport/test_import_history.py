"""The job's history: who and when on the job, and which rows each committed batch created or
updated (dataimport.ImportChange, written in bulk with the batch); a rerun that changes nothing
records nothing; a model kept by django-simple-history gets its history rows set-based."""

import pytest

from dataimport import selectors
from dataimport.models import ImportChange
from dataimport.ports import record_history
from inventory.models import SKU, Product
from orders.models import Order, OrderLine

from .helpers import csv_bytes, run

pytestmark = pytest.mark.django_db


def changed(job, model, action):
    return sorted(i for c in ImportChange.objects.filter(job=job, model=model, action=action) for i in c.object_ids)


def test_a_job_records_the_rows_it_created_and_updated(in_tenant_a, tenant_a):
    from dataimport import services

    owner = tenant_a.owner.user
    rows = [["sku_code", "name", "product_code"], ["A", "a", "P"], ["B", "b", "P"], ["C", "c", ""]]
    job = services.job_create(import_type="skus", upload=csv_bytes(rows), file_name="s.csv", user=owner, run=False)
    job = services.dry_run(job_id=job.pk)
    services.job_commit(job=job, user=owner, queue=False)
    services.commit_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.committed_by == owner and job.finished_at is not None
    assert changed(job, "inventory.sku", "created") == sorted(SKU.objects.values_list("pk", flat=True))
    assert changed(job, "inventory.product", "created") == [Product.objects.get(code="P").pk]
    assert {(c["model"], c["created"], c["updated"]) for c in selectors.job_changes(job)} == {
        ("inventory.sku", 3, 0), ("inventory.product", 1, 0)}

    second = run("skus", csv_bytes([rows[0], ["A", "a2", "P"], ["B", "b", "P"]]))
    assert changed(second, "inventory.sku", "updated") == [SKU.objects.get(code="A").pk]
    assert not changed(second, "inventory.sku", "created") and not changed(second, "inventory.product", "updated")
    again = run("skus", csv_bytes([rows[0], ["A", "a2", "P"], ["B", "b", "P"]]))
    assert not ImportChange.objects.filter(job=again).exists()  # nothing written, nothing recorded


def test_orders_job_history_and_the_detail_page(in_tenant_a, tenant_a):
    from integrations.models import Shop

    Shop.objects.create(code="tb-main", name="TB", platform="taobao")
    run("skus", csv_bytes([["sku_code", "name"], ["A", "A"]]))
    head = ["shop_code", "platform_order_id", "line_no", "sku_code", "quantity", "paid", "paid_at"]
    job = run("orders", csv_bytes([head, ["tb-main", "T1", "1", "A", "1", "10", "2023-05-01"],
                                   ["tb-main", "T1", "2", "A", "1", "10", "2023-05-01"]]))
    assert changed(job, "orders.order", "created") == [Order.objects.get().pk]
    assert changed(job, "orders.orderline", "created") == sorted(OrderLine.objects.values_list("pk", flat=True))
    from django.test import Client

    client = Client()
    client.force_login(tenant_a.owner.user)
    page = client.get(f"/dataimport/{job.pk}/")
    assert page.status_code == 200 and b"import-changes" in page.content
    detail = tenant_a.api("owner").get(f"/api/v1/imports/jobs/{job.pk}/").json()
    assert {(c["model"], c["created"]) for c in detail["changes"]} == {("orders.order", 1), ("orders.orderline", 2)}


def test_history_rows_of_a_bulk_write_are_written_set_based(in_tenant_a, tenant_a):
    from tests.tenantapp.models import Widget

    owner = tenant_a.owner.user
    made = Widget.objects.bulk_create([Widget(tenant=tenant_a.tenant, code=f"w{i}", quantity=i) for i in range(3)])  # bulk: no history
    assert Widget.history.count() == 0
    assert record_history(Widget, ids=[w.pk for w in made], history_type="+", user_id=owner.pk, reason="import #1") == 3
    Widget.objects.filter(code="w1").update(quantity=9)
    record_history(Widget, ids=[made[1].pk], history_type="~", user_id=owner.pk, reason="import #2")
    rows = list(Widget.history.order_by("history_id").values_list("code", "quantity", "history_type", "history_user_id",
                                                                   "history_change_reason"))
    assert rows == [("w0", 0, "+", owner.pk, "import #1"), ("w1", 1, "+", owner.pk, "import #1"),
                    ("w2", 2, "+", owner.pk, "import #1"), ("w1", 9, "~", owner.pk, "import #2")]
    assert made[1].history.latest().quantity == 9
    assert record_history(SKU, ids=[1], history_type="+") == 0  # a model without history: nothing
