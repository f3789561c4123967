"""The supplier portal: supplier users, isolation (another supplier, another tenant, internal pages
and API), the supplier's answer to a PO, shipping notices, receiving against them with differences,
notifications (in-app and e-mail), bad input, both languages."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from erp.tenancy.dates import tenant_today
from erp.tenancy.models import Membership
from erp.tenancy.roles import ALL, Role
from erp.tenancy.services import api_token_issue
from erp.tenancy.supplier_access import supplier_id_of
from purchasing import services
from purchasing.models import (
    DifferenceKind,
    Notification,
    POLine,
    POStatus,
    ReceiptDifference,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(pw):
    pw.supplier_user = services.supplier_user_invite(supplier=pw.supplier, username="s1-user", email="s1@example.com",
                                                     password="x-Very-long-pw-1")
    pw.other_user = services.supplier_user_invite(supplier=pw.supplier2, username="s2-user", email="s2@example.com")
    return pw


def api(membership) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(membership=membership)}")
    return client


def body(response):
    return response.content.decode()


# --- supplier users ----------------------------------------------------------------------------------
def test_supplier_role_is_not_staff_and_membership_needs_a_supplier(portal):
    assert Role.SUPPLIER not in ALL
    m = portal.supplier_user
    assert m.role == Role.SUPPLIER and m.supplier_id == portal.supplier.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=m.pk).update(supplier_id=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=portal.world.members[Role.OPERATOR].pk).update(supplier_id=portal.supplier.pk)


def test_invite_refuses_staff_and_unknown_supplier(portal):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.supplier_user_invite(supplier=portal.supplier, username=portal.user.username)
    assert "username" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.supplier_user_invite(supplier=999999, username="new-one")
    assert "supplier" in exc.value.message_dict
    again = services.supplier_user_invite(supplier=portal.supplier, username="s1-user")
    assert again.pk == portal.supplier_user.pk


def test_supplier_id_of(portal, rf):
    request = rf.get("/")
    request.user, request.membership = portal.supplier_user.user, portal.supplier_user
    assert supplier_id_of(request) == portal.supplier.pk
    request.user, request.membership = portal.user, portal.world.members[Role.OPERATOR]
    assert supplier_id_of(request) is None


# --- the supplier's answer, ASN, receiving ----------------------------------------------------------
def test_confirm_with_changed_date_asn_and_short_receipt(portal, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        po = portal.sent_po([{"sku": portal.sku, "quantity": 100}, {"sku": portal.sku3, "quantity": 20, "unit_price": "8"}])
    assert Notification.objects.filter(membership=portal.supplier_user, code="po_sent").count() == 1
    assert any("s1@example.com" in m.to for m in mail.outbox)
    line1, line3 = POLine.objects.filter(purchase_order=po).order_by("pk")
    new_date = tenant_today() + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        po = services.po_confirm(po_id=po.pk, supplier_id=portal.supplier.pk, actor=portal.supplier_user.user,
                                 expected_date=new_date, lines=[{"line": line3.pk, "quantity": 15}], note="OK")
    assert po.status == POStatus.CONFIRMED and po.expected_date == new_date and po.confirmed_at
    assert po.total_quantity == 115
    event = po.events.get(code="confirmed_changed")
    assert event.data["changes"]["expected_date"][1] == str(new_date) and event.data["changes"]["lines"]["CAP-B"] == [20, 15]
    buyer = portal.world.members[Role.OPERATOR]
    assert Notification.objects.filter(membership=buyer, code="confirmed_changed").exists()

    asn = services.asn_create(po_id=po.pk, supplier_id=portal.supplier.pk, actor=portal.supplier_user.user,
                              lines=[{"line": line1.pk, "quantity": 100}, {"line": line3.pk, "quantity": 15}],
                              expected_arrival=tenant_today() + timedelta(days=3), tracking_number="SF123", carrier="SF")
    assert asn.total_quantity == 115 and asn.lines.count() == 2
    assert Notification.objects.filter(membership=buyer, code="asn_sent").exists()
    a1, a3 = asn.lines.order_by("pk")
    asn = services.asn_receive(asn_id=asn.pk, reference="DN-1", actor=portal.user,
                               lines=[{"asn_line": a1.pk, "quantity": 96, "damaged": 1}, {"asn_line": a3.pk, "quantity": 15}])
    assert asn.status == "received" and asn.receipt.total_quantity == 111
    diffs = {(d.sku_id, d.kind): d.quantity for d in ReceiptDifference.objects.filter(asn=asn)}
    assert diffs == {(portal.sku.pk, DifferenceKind.SHORT): 3, (portal.sku.pk, DifferenceKind.DAMAGED): 1}
    po.refresh_from_db()
    assert po.status == POStatus.PARTIALLY_RECEIVED and po.received_quantity == 111
    assert Notification.objects.filter(membership=portal.supplier_user, code="receipt_differences").exists()
    assert Notification.objects.filter(membership=buyer, code="receipt_differences").exists()


def test_refuse_needs_a_reason_and_other_supplier_is_404(portal):
    from django.core.exceptions import ValidationError
    from django.http import Http404

    from erp.api.exceptions import Conflict

    po = portal.sent_po()
    with pytest.raises(Http404):
        services.po_confirm(po_id=po.pk, supplier_id=portal.supplier2.pk)
    with pytest.raises(ValidationError):
        services.po_refuse(po_id=po.pk, supplier_id=portal.supplier.pk, why="  ")
    po = services.po_refuse(po_id=po.pk, supplier_id=portal.supplier.pk, why="No capacity this month")
    assert po.status == POStatus.REFUSED and po.supplier_note == "No capacity this month"
    with pytest.raises(Conflict):
        services.po_confirm(po_id=po.pk, supplier_id=portal.supplier.pk)
    services.po_cancel(po_id=po.pk, actor=portal.user, why="refused")


def test_asn_refuses_more_than_open_and_past_dates(portal):
    from django.core.exceptions import ValidationError

    po = portal.sent_po([{"sku": portal.sku, "quantity": 10}])
    line = po.lines.get()
    kw = {"po_id": po.pk, "supplier_id": portal.supplier.pk, "expected_arrival": tenant_today() + timedelta(days=1)}
    with pytest.raises(ValidationError) as exc:
        services.asn_create(lines=[{"line": line.pk, "quantity": 11}], **kw)
    assert "lines" in exc.value.message_dict
    services.asn_create(lines=[{"line": line.pk, "quantity": 6}], **kw)
    with pytest.raises(ValidationError):  # 6 in transit: 5 more is over the ordered 10
        services.asn_create(lines=[{"line": line.pk, "quantity": 5}], **kw)
    with pytest.raises(ValidationError) as exc:
        services.asn_create(lines=[{"line": line.pk, "quantity": 1}], **{**kw, "expected_arrival": "2001-01-01"})
    assert "expected_arrival" in exc.value.message_dict
