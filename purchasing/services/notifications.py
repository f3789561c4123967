"""Notifications to members (staff and supplier users): an in-app list (purchasing.models.Notification)
plus one e-mail per notification through Django's mail backend, sent after commit by a background job.

``notify`` is public (docs/INTERFACES.md): other apps (finance's supplier statements) call it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.tenancy.context import require_tenant
from erp.tenancy.models import Membership
from erp.tenancy.roles import ALL, Role

from ..models import Notification


def recipients(*, membership_ids: Iterable[int] | None = None, role: str | None = None,
               supplier_id: int | None = None) -> list[Membership]:
    """Active memberships of the current tenant: the given ids, plus every member with ``role`` (a
    staff role), plus every supplier user of ``supplier_id``."""
    tenant = require_tenant()
    if role is not None and role not in ALL:
        raise ValidationError({"role": [_("Not a staff role: supplier users are addressed by supplier_id.")]})
    base = Membership.objects.filter(tenant=tenant, is_active=True, user__is_active=True)
    chosen: dict[int, Membership] = {}
    if membership_ids:
        ids = {int(i) for i in membership_ids}
        for m in base.filter(pk__in=ids):
            chosen[m.pk] = m
    if role is not None:
        for m in base.filter(role=role):
            chosen[m.pk] = m
    if supplier_id is not None:
        for m in base.filter(role=Role.SUPPLIER, supplier_id=int(supplier_id)):
            chosen[m.pk] = m
    return [chosen[pk] for pk in sorted(chosen)]


@transaction.atomic
def notify(*, membership_ids: Iterable[int] | None = None, role: str | None = None, supplier_id: int | None = None,
           subject: str, body: str = "", url: str = "", code: str = "", email: bool = True) -> list[Notification]:
    """One in-app notification per recipient (see ``recipients``; nobody matching is no error) and,
    with ``email``, an e-mail to each recipient with an address once the transaction commits.
    ``url`` is a path of this site (the portal's for supplier users)."""
    subject = str(subject or "").strip()
    if not subject:
        raise ValidationError({"subject": [_("This field is required.")]})
    tenant = require_tenant()
    rows = [Notification(tenant=tenant, membership=m, code=(code or "")[:40], subject=subject[:200],
                         body=str(body or ""), url=str(url or "")[:300])
            for m in recipients(membership_ids=membership_ids, role=role, supplier_id=supplier_id)]
    Notification.objects.bulk_create(rows)
    if email and rows:
        ids = [n.pk for n in rows]
        tenant_id = tenant.pk

        def queue():
            from ..tasks import send_notification_emails

            send_notification_emails.delay(tenant_id=tenant_id, notification_ids=ids)

        transaction.on_commit(queue)
    return rows


def notification_emails_send(*, notification_ids: Iterable[int]) -> int:
    """E-mail the not yet e-mailed notifications among ``notification_ids`` (idempotent: a retried job
    sends nothing twice). Returns how many were sent."""
    sent = 0
    for n in Notification.objects.filter(pk__in=list(notification_ids), emailed_at__isnull=True).select_related(
            "membership__user", "membership__tenant").order_by("pk"):
        address = n.membership.user.email
        if not address:
            continue
        link = f"\n\n{getattr(settings, 'ERP_BASE_URL', '').rstrip('/')}{n.url}" if n.url else ""
        send_mail(f"[{n.membership.tenant.name}] {n.subject}", f"{n.body}{link}", None, [address], fail_silently=False)
        Notification.objects.filter(pk=n.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
        sent += 1
    return sent


def notification_mark_read(*, membership, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the member's notifications read (all unread ones without ids). Returns how many changed."""
    qs = Notification.objects.filter(membership_id=membership.pk, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=[int(i) for i in notification_ids])
    return qs.update(read_at=timezone.now())
