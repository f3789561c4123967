import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from erp.fields import EncryptedJSONField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("Taobao / Tmall")
    JD = "jd", _("JD")
    PINDUODUO = "pdd", _("Pinduoduo")
    OWN = "own", _("Own web shop")


class Shop(TenantScopedModel, TimeStampedModel):
    """A seller's shop on one platform. ``code`` is the tenant's short name for it (used in URLs
    such as the inbound channel API)."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    platform_shop_id = models.CharField(_("platform shop id"), max_length=64, blank=True)
    api_base_url = models.URLField(_("API base URL"), blank=True, help_text=_("Empty: the platform's default."))
    credentials = EncryptedJSONField(_("credentials"), blank=True, default=dict,
                                     help_text=_("app_key, app_secret, access_token... stored encrypted."))
    channel_secret = EncryptedJSONField(_("channel secret"), blank=True, default=dict, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(excluded_fields=["credentials", "channel_secret"])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_shop_tenant_code")]
        ordering = ["name"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self):
        return f"{self.name} ({self.get_platform_display()})"

    @staticmethod
    def new_channel_secret() -> str:
        return secrets.token_hex(32)
