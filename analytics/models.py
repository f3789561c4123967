"""Rollup tables of the reports (thin models; written only by analytics.services.rollups).

Each row is a sum of orders' sales facts (orders.selectors.sales_facts) for one tenant day: the
report for a range reads a few hundred rows per day instead of the day's orders. A day whose
orders changed since its rows were written is listed in DirtyDay; the reports compute such days
from the per-order facts (OrderFact, OrderLineFact: one narrow row per order and per sold SKU of an
order, kept current by the order events) until the refresh job folds them in; a dirty day whose
facts were never built (no FactDay) is read live from the orders.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from erp.money import MoneyField
from erp.tenancy.models import TenantScopedModel


class SalesSums(models.Model):
    """The summed figures an hour of SalesHour and one order's OrderFact share (selectors.SUMS)."""

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
        abstract = True


class SalesHour(TenantScopedModel, SalesSums):
    """Sales report figures of one shop in one hour of a tenant day (paid figures by paid hour,
    parcel figures by shipped hour)."""

    day = models.DateField(_("day"))
    hour = models.PositiveSmallIntegerField(_("hour"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10)

    class Meta:
        verbose_name = _("sales hour")
        constraints = [models.UniqueConstraint(fields=["tenant", "day", "hour", "shop_id"],
                                               name="analytics_saleshour_unique")]

    def __str__(self):
        return f"{self.day} {self.hour:02d}h shop {self.shop_id}"


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


class OrderFact(TenantScopedModel, SalesSums):
    """The sales facts of one order (orders.selectors.order_facts): the paid part of a platform
    order (by paid day and hour) and the parcel part of a shipment (by shipped day and hour); a
    row with neither (no day) records that the order counts for nothing. Written only by
    analytics.services.facts: a row is replaced only by facts read later (``read_at``, the
    database clock before the read), so writers racing for one order leave the newest read."""

    order_id = models.BigIntegerField(_("order"))
    read_at = models.DateTimeField(_("read at"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_day = models.DateField(_("paid day"), null=True, blank=True)
    paid_hour = models.PositiveSmallIntegerField(_("paid hour"), null=True, blank=True)
    sold_lines = models.IntegerField(_("sold lines"), default=0)
    province = models.CharField(_("province"), max_length=64, blank=True)  # one spelling (province_key)
    province_name = models.CharField(_("province name"), max_length=64, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    ship_day = models.DateField(_("shipped day"), null=True, blank=True)
    ship_hour = models.PositiveSmallIntegerField(_("shipped hour"), null=True, blank=True)

    class Meta:
        verbose_name = _("order sales facts")
        constraints = [models.UniqueConstraint(fields=["tenant", "order_id"], name="analytics_orderfact_unique")]
        indexes = [models.Index(fields=["tenant", "paid_day"], name="analytics_orderfact_paid"),
                   models.Index(fields=["tenant", "ship_day"], name="analytics_orderfact_ship")]

    def __str__(self):
        return f"order {self.order_id}"


class OrderLineFact(TenantScopedModel):
    """The sold lines of one platform order per SKU (units, paid amount), by the order's paid day;
    replaced with their OrderFact row (which orders the writers)."""

    order_id = models.BigIntegerField(_("order"))
    paid_day = models.DateField(_("paid day"))
    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10, blank=True)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    units = models.IntegerField(_("units"), default=0)
    gmv = MoneyField(_("GMV"), default=0)

    class Meta:
        verbose_name = _("order line sales facts")
        indexes = [models.Index(fields=["tenant", "order_id"], name="analytics_linefact_order"),
                   models.Index(fields=["tenant", "paid_day"], name="analytics_linefact_paid")]


class FactDay(TenantScopedModel):
    """A tenant day whose orders all have their facts (written by a refresh of the day, kept by the
    events since): a dirty day is read from the facts only then."""

    day = models.DateField(_("day"))
    built_at = models.DateTimeField(_("built at"))

    class Meta:
        verbose_name = _("day with order facts")
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="analytics_factday_unique")]
