"""Background jobs of purchasing (thin: they call services): the nightly reorder suggestions."""

from erp.tenancy.tasks import system_task, tenant_task


@tenant_task(name="purchasing.recompute_suggestions", acks_late=True)
def recompute_suggestions(*, tenant_id: int) -> int:
    from .services import suggestions_recompute

    return len(suggestions_recompute())


@system_task(reason="purchasing: nightly reorder suggestions of every tenant", name="purchasing.recompute_suggestions_tick")
def recompute_suggestions_tick() -> int:
    """Beat tick (nightly): one task per active tenant."""
    from erp.tenancy.models import Tenant

    tenant_ids = list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        recompute_suggestions.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="purchasing.send_notification_emails", acks_late=True)
def send_notification_emails(*, tenant_id: int, notification_ids: list[int]) -> int:
    from .services import notification_emails_send

    return notification_emails_send(notification_ids=notification_ids)
