"""Rollup tables of the reports (thin models; written only by analytics.services.rollups).

Each row is a sum of orders' sales facts (orders.selectors.sales_facts) for one tenant day: the
report for a range reads a few hundred rows per day instead of the day's orders. A day whose
orders changed since its rows were written is listed in DirtyDay; the reports compute such days
live from the orders (bounded: one day's orders) until the refresh job folds them in.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from erp.money import MoneyField
from erp.tenancy.models import TenantScopedModel


class SalesHour(TenantScopedModel):
    """Sales report figures of one shop in one hour of a tenant day (paid figures by paid hour,
    parcel figures by shipped hour)."""

    day = models.DateField(_("day"))
    hour = models.PositiveSmallIntegerField(_("hour"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10)
    orders = models.IntegerField(_("paid orders"), default=0)
    all_orders = models.IntegerField(_("all orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    goods = MoneyField(_("goods"), default=0)
    freight = MoneyField(_("freight"), default=0)
    cancelled_amount = MoneyField(_("cancelled amount"), default=0)
    refunded_amount = MoneyField(_("refunded amount"), default=0)
    parcels = models.IntegerField(_("parcels"), default=0)
    promised = models.IntegerField(_("parcels with a promise"), default=0)
    on_time = models.IntegerField(_("shipped on time"), default=0)

    class Meta:
        verbose_name = _("sales hour")
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "hour", "shop_id"],
                                               name="analytics_saleshour_unique")]


class SalesSkuDay(TenantScopedModel):
    day = models.DateField(_("day"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=255, blank=True)
    units = models.IntegerField(_("units"), default=0)
    gmv = MoneyField(_("GMV"), default=0)

    class Meta:
        verbose_name = _("SKU sales day")
        indexes = [models.Index(fields=["tenant", "day", "shop_id"], name="analytics_skuday_day")]


class SalesProvinceDay(TenantScopedModel):
    day = models.DateField(_("day"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10)
    province = models.CharField(_("province"), max_length=64, blank=True)  # one spelling (province_key)
    name = models.CharField(_("name"), max_length=64, blank=True)
    orders = models.IntegerField(_("orders"), default=0)
    units = models.IntegerField(_("units"), default=0)
    gmv = MoneyField(_("GMV"), default=0)

    class Meta:
        verbose_name = _("province sales day")
        indexes = [models.Index(fields=["tenant", "day", "shop_id"], name="analytics_provday_day")]


class DirtyDay(TenantScopedModel):
    """A tenant day whose rollup rows are stale: marked by the order events (and the repair job),
    cleared by the refresh once it rewrote the day (only if not marked again meanwhile)."""

    day = models.DateField(_("day"))
    marked_at = models.DateTimeField(_("marked at"))

    class Meta:
        verbose_name = _("day to refresh")
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="analytics_dirtyday_unique")]


class RollupState(TenantScopedModel):
    """Per tenant: the repair job's watermark (orders changed since it are looked at again)."""

    repaired_until = models.DateTimeField(_("repaired until"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="analytics_rollupstate_unique")]
