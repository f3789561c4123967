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
    refusal = [str(m) for m in bad.context["messages"]]
    assert refusal[0].startswith("Weight (g): ") and "weight_g" not in refusal[0], refusal  # the form's label
    shipped = client_wh.post(f"/warehouse/parcels/{parcel.pk}/weigh/", {"weight_g": "650"}, follow=True)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    parcel.refresh_from_db()
    assert f"freight {parcel.freight} {parcel.currency}" in [str(m) for m in shipped.context["messages"]][0]
    listing = client_wh.get("/warehouse/parcels/").content.decode()
    assert f"{parcel.freight} {parcel.currency}</td>" in listing  # freight with its currency
    assert "No parcel matches." in client_wh.get("/warehouse/parcels/?q=nothing-like-it").content.decode()
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


def test_pick_list_pdf_names_each_skus_orders_by_position(world, client_wh, monkeypatch):
    """The printed pick list carries what the page shows: the wave positions (slots) each SKU goes to."""
    from reportlab.pdfgen.canvas import Canvas

    world.order(line("A"), line("B"))
    world.order(line("A"), line("C"))
    client_wh.post("/warehouse/", {"warehouse": world.warehouse.pk, "kind": "multi"})
    wave = PickWave.objects.get()
    drawn = []
    original = Canvas.drawString
    monkeypatch.setattr(Canvas, "drawString", lambda self, x, y, text, *a, **k: (drawn.append(text),
                                                                                 original(self, x, y, text, *a, **k)))
    assert client_wh.get(f"/warehouse/waves/{wave.pk}/pick-list.pdf").content.startswith(b"%PDF")
    numbers = {p.seq: p.order_no for p in wave.parcels.all()}
    assert f"1:{numbers[1]}, 2:{numbers[2]}" in drawn, drawn  # SKU A goes to both orders
    assert "Name" in drawn


def test_pdf_text_is_cut_to_its_column():
    from warehouse import pdf

    name = "加绒连帽卫衣" * 10
    cut = pdf._fit(name, 80, 10)
    assert cut.endswith("…") and len(cut) < len(name)
    assert pdf._fit("TEE", 80, 10) == "TEE"
    lines = pdf._wrap(", ".join(f"{n}:DEMO-web-{n:03d}" for n in range(1, 40)), 200, 8)
    assert len(lines) > 1 and all(line.endswith(",") for line in lines[:-1])
