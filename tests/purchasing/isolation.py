"""Row builders for purchasing models the generic isolation test cannot build automatically."""

from django.contrib.auth import get_user_model

from erp.tenancy.context import require_tenant
from erp.tenancy.models import Membership
from erp.tenancy.testing import register_row_builder
from purchasing.models import Notification


def _notification():
    tenant = require_tenant()
    user = get_user_model().objects.create(username=f"iso-notify-{tenant.pk}-{Notification.all_tenants.count()}")
    membership = Membership.objects.create(tenant=tenant, user=user, role="operator")
    return Notification.objects.create(membership=membership, subject="iso")


register_row_builder(Notification, _notification)
