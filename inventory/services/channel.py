"""Channel stock: platform SKU mappings (manual, created, auto-matched), shop sync rules and the
acknowledgement of pushed stock figures (dirty marks).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import SKU, MatchMethod, PlatformSkuMapping, StockDirty, SyncRule, SyncRuleWarehouse, Warehouse
from ._common import _own, _own_shop


@transaction.atomic
def sku_mapping_set(*, mapping: PlatformSkuMapping, sku: SKU | None, user=None) -> PlatformSkuMapping:
    """Map a platform SKU to our SKU by hand (None unmaps it back into the queue)."""
    mapping = _own(PlatformSkuMapping, mapping, "mapping")
    sku = _own(SKU, sku, "sku") if sku is not None else None
    mapping.sku = sku
    mapping.match_method = MatchMethod.MANUAL if sku else MatchMethod.NONE
    mapping.save(update_fields=["sku", "match_method", "updated_at"])
    if sku is not None:
        stock_sql.mark_mappings_dirty([mapping.pk])
    else:
        StockDirty.objects.filter(mapping=mapping).update(dirty=False)
    return mapping


@transaction.atomic
def sku_mapping_create(*, shop, platform_item_id: str, platform_sku_id: str = "", outer_id: str = "", title: str = "",
                       sku: SKU | None = None) -> PlatformSkuMapping:
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    if not str(platform_item_id or "").strip():
        raise ValidationError({"platform_item_id": [_("Required.")]})
    if sku is None and outer_id:
        sku = SKU.objects.filter(code=outer_id).first()
        method = MatchMethod.AUTO if sku else MatchMethod.NONE
    else:
        sku = _own(SKU, sku, "sku") if sku is not None else None
        method = MatchMethod.MANUAL if sku else MatchMethod.NONE
    if PlatformSkuMapping.objects.filter(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id).exists():
        raise ValidationError({"platform_sku_id": [_("This platform SKU is already mapped.")]})
    mapping = PlatformSkuMapping.objects.create(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id,
                                                outer_id=outer_id, title=title, sku=sku, match_method=method,
                                                last_seen_at=timezone.now())
    if sku is not None:
        stock_sql.mark_mappings_dirty([mapping.pk])
    return mapping


@transaction.atomic
def sku_mappings_automatch(*, shop=None) -> int:
    """Match unmatched platform SKUs whose outer id equals a merchant code (e.g. after new SKUs)."""
    queue = PlatformSkuMapping.objects.filter(sku__isnull=True).exclude(outer_id="")
    if shop is not None:
        queue = queue.filter(shop=_own_shop(shop))
    codes = dict(SKU.objects.filter(code__in=queue.values("outer_id")).values_list("code", "id"))
    matched = []
    for mapping in queue.select_for_update().order_by("id"):
        if mapping.outer_id in codes and mapping.sku_id is None:
            PlatformSkuMapping.objects.filter(pk=mapping.pk).update(sku_id=codes[mapping.outer_id], match_method=MatchMethod.AUTO,
                                                                   updated_at=timezone.now())
            matched.append(mapping.pk)
    stock_sql.mark_mappings_dirty(matched)
    return len(matched)


_RULE_FIELDS = ("percentage", "adjust", "safety_stock", "min_quantity", "max_quantity", "auto_delist", "is_active")


@transaction.atomic
def sync_rule_save(*, shop, warehouses=None, **fields) -> SyncRule:
    """Create or update the shop's sync rule (``warehouses`` None keeps them; [] means all) and mark
    the shop's mappings dirty so the new figures are pushed."""
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    unknown = set(fields) - set(_RULE_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown field.")] for k in unknown})
    rule = SyncRule.objects.select_for_update().filter(shop=shop).first() or SyncRule(shop=shop)
    for key, value in fields.items():
        setattr(rule, key, value)
    if rule.percentage is None or not 0 <= rule.percentage <= 100:
        raise ValidationError({"percentage": [_("Between 0 and 100.")]})
    if rule.min_quantity is not None and rule.max_quantity is not None and rule.min_quantity > rule.max_quantity:
        raise ValidationError({"min_quantity": [_("The minimum is above the maximum.")]})
    for key in ("safety_stock", "min_quantity", "max_quantity"):
        value = getattr(rule, key)
        if value is not None and value < 0:
            raise ValidationError({key: [_("Must not be negative.")]})
    rule.save()
    if warehouses is not None:
        wanted = {_own(Warehouse, w, "warehouses").pk for w in warehouses}
        SyncRuleWarehouse.objects.filter(rule=rule).exclude(warehouse_id__in=wanted).delete()
        have = set(SyncRuleWarehouse.objects.filter(rule=rule).values_list("warehouse_id", flat=True))
        SyncRuleWarehouse.objects.bulk_create([SyncRuleWarehouse(tenant=rule.tenant, rule=rule, warehouse_id=w)
                                               for w in sorted(wanted - have)])
    stock_sql.mark_mappings_dirty(PlatformSkuMapping.objects.filter(shop=shop, sku__isnull=False).values_list("id", flat=True))
    return rule


def dirty_stock_ack(*, shop, acks) -> int:
    """Acknowledge pushed (mapping_id, version) pairs: each clears its mark only if no change came
    after that version. Returns how many marks were cleared."""
    shop = _own_shop(shop)
    now = timezone.now()
    cleared = 0
    with transaction.atomic():
        for mapping_id, version in sorted(acks or []):
            cleared += StockDirty.objects.filter(shop=shop, mapping_id=mapping_id, version=version).update(
                dirty=False, pushed_at=now, pushed_version=version)
    return cleared
