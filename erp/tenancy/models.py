import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .context import get_current_tenant, system_reason
from .managers import TenantScopedManager, UnscopedManager
from .roles import Role

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class Tenant(models.Model):
    """A seller company. Every business row belongs to exactly one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai", choices=TIMEZONE_CHOICES)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self):
        return self.name


class Membership(models.Model):
    """A user's place in one tenant, with one role. A user may belong to several tenants."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("user"))
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tenant"))
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    is_active = models.BooleanField(_("active"), default=True)
    # A supplier user belongs to one purchasing.Supplier of this tenant (a plain id: the tenancy core
    # does not know the apps' tables; purchasing.services.supplier_user_invite validates it).
    supplier_id = models.PositiveBigIntegerField(_("supplier"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="uniq_membership_tenant_user"),
            models.CheckConstraint(
                condition=(models.Q(role=Role.SUPPLIER, supplier_id__isnull=False)
                           | (~models.Q(role=Role.SUPPLIER) & models.Q(supplier_id__isnull=True))),
                name="membership_supplier_iff_role", violation_error_message=_(
                    "A supplier user belongs to exactly one supplier; staff belong to none.")),
        ]
        indexes = [models.Index(fields=["tenant", "supplier_id"], name="membership_tenant_supplier")]
        ordering = ["tenant__name", "user__username"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class ApiToken(models.Model):
    """One API key per membership. Only a SHA-256 of the key is stored; the key is shown once."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="api_token",
                                      verbose_name=_("membership"))
    prefix = models.CharField(_("prefix"), max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.prefix}… ({self.membership})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return secrets.token_hex(20)


class TenantScopedModel(models.Model):
    """Base of every business model.

    ``objects`` sees only the current tenant's rows and raises when no tenant is set;
    ``all_tenants`` is the explicit escape hatch for system jobs (inside system_context()).
    On Postgres a row-level security policy on the table is the second wall.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", editable=False)

    objects = TenantScopedManager()
    all_tenants = UnscopedManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        current = get_current_tenant()
        if self.tenant_id is None:
            if current is None:
                raise ValidationError("No tenant is set: a business record cannot be saved outside a tenant.")
            self.tenant = current
        elif current is not None and self.tenant_id != current.pk and system_reason() is None:
            raise ValidationError("This record belongs to another tenant.")
        super().save(*args, **kwargs)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
