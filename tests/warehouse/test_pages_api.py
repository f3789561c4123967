"""Pages in both languages (waves, pick list + PDF, packing station by scans, label PDF, weighing)
and the API (waves, pick list, scan, weigh), with bad input answered 400 and roles enforced."""

import pytest
from django.test import Client

from erp.tenancy.roles import Role
from integrations.models import Outbox
from orders.models import Order, OrderStatus
from warehouse.models import Parcel, ParcelStatus, PickWave

from .conftest import line

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_wh(tenant_a):
    client = Client()
    client.force_login(tenant_a.members[Role.WAREHOUSE].user)
    return client


def test_pages_flow_by_scanner(world, client_wh):
    order = world.order(line("A"), line("B"))
    for lang in ("en", "zh-hans"):
        page = client_wh.get("/warehouse/", HTTP_ACCEPT_LANGUAGE=lang)
        assert page.status_code == 200
    response = client_wh.post("/warehouse/", {"warehouse": world.warehouse.pk, "kind": "multi"})
    wave = PickWave.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/warehouse/waves/{wave.pk}/"
    page = client_wh.get(f"/warehouse/waves/{wave.pk}/").content.decode()
    assert "@media print" in page and "A-02" in page
    pdf = client_wh.get(f"/warehouse/waves/{wave.pk}/pick-list.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    page = client_wh.post("/warehouse/pack/", {"code": order.platform_order_id}).content.decode()
    assert "scan its items" in page
    page = client_wh.post("/warehouse/pack/", {"code": world.skus["C"].barcode}).content.decode()
    assert "scan-result refused" in page and "WRONG ITEM" in page
    client_wh.post("/warehouse/pack/", {"code": world.skus["A"].barcode})
    page = client_wh.post("/warehouse/pack/", {"code": world.skus["B"].barcode}).content.decode()
    parcel = Parcel.objects.get()
    assert parcel.status == ParcelStatus.PACKED and parcel.tracking_no in page
    label = client_wh.get(f"/warehouse/parcels/{parcel.pk}/label.pdf")
    assert label.status_code == 200 and label.content.startswith(b"%PDF") and b"/MediaBox [ 0 0 283.4646 510.2362 ]" in label.content
    bad = client_wh.post(f"/warehouse/parcels/{parcel.pk}/weigh/", {"weight_g": "heavy"}, follow=True)
    assert bad.status_code == 200 and Parcel.objects.get().status == ParcelStatus.PACKED
    client_wh.post(f"/warehouse/parcels/{parcel.pk}/weigh/", {"weight_g": "650"})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert Outbox.objects.get().payload["tracking_no"] == parcel.tracking_no
    assert client_wh.get("/warehouse/parcels/?status=shipped").status_code == 200
    assert client_wh.get("/warehouse/parcels/?status=nonsense&q=x").status_code == 200
    assert client_wh.get("/warehouse/waves/999999/").status_code == 404


def test_api(world, tenant_a):
    order = world.order(line("C"))
    api = tenant_a.api(Role.WAREHOUSE)
    assert api.post("/api/v1/warehouse/waves/", {"warehouse": "x"}, format="json").status_code == 400
    created = api.post("/api/v1/warehouse/waves/", {"warehouse": world.warehouse.pk}, format="json")
    assert created.status_code == 201, created.content
    rows = api.get(f"/api/v1/warehouse/waves/{created.json()['id']}/pick-list/").json()
    assert [(r["sku_code"], r["quantity"], r["bin"]) for r in rows] == [("C", 1, "A-01")]
    parcel = api.get("/api/v1/warehouse/parcels/").json()["results"][0]
    assert api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/scan/", {}, format="json").status_code == 400
    refused = api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/scan/", {"code": "A"}, format="json").json()
    assert refused["ok"] is False
    done = api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/scan/", {"code": "C"}, format="json").json()
    assert done["complete"] and done["parcel"]["tracking_no"]
    assert api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/weigh/", {"weight_g": 0}, format="json").status_code == 400
    shipped = api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/weigh/", {"weight_g": 800}, format="json")
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert api.post(f"/api/v1/warehouse/parcels/{parcel['id']}/weigh/", {"weight_g": 800}, format="json").status_code == 409
    assert Order.objects.get(pk=order.pk).tracking_no == done["parcel"]["tracking_no"]
    assert len(api.get(f"/api/v1/warehouse/parcels/{parcel['id']}/scans/").json()) == 2
    assert tenant_a.api(Role.FINANCE).get("/api/v1/warehouse/parcels/").status_code == 403
