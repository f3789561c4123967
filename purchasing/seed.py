"""Demo data: three suppliers with items (price, MOQ, case pack, lead time) for the demo SKUs, a
draft purchase order and a sent one partly received. Idempotent: a second run changes nothing."""

from decimal import Decimal

SUPPLIERS = [
    ("SUP-FZ", "杭州优衣纺织有限公司", "王经理", "0571-88880001", 30),
    ("SUP-HJ", "义乌好家日用品厂", "李女士", "0579-85550002", 15),
    ("SUP-SM", "深圳数码配件有限公司", "陈先生", "0755-26660003", 45),
]
# SKU code prefix -> (supplier, MOQ, case pack, lead time days, price factor of the SKU's cost)
ITEMS = [
    ("TS01", "SUP-FZ", 50, 10, 12), ("TS02", "SUP-FZ", 50, 10, 12), ("HD01", "SUP-FZ", 30, 6, 15),
    ("JN01", "SUP-FZ", 30, 6, 15), ("SK01", "SUP-FZ", 100, 20, 10), ("TEE", "SUP-FZ", 50, 10, 12),
    ("SOCK", "SUP-FZ", 100, 20, 10), ("CP01", "SUP-HJ", 24, 12, 7), ("CAP", "SUP-HJ", 24, 12, 7),
    ("BG01", "SUP-HJ", 20, 10, 7), ("MG01", "SUP-HJ", 48, 24, 10), ("MUG", "SUP-HJ", 48, 24, 10),
    ("TW01", "SUP-HJ", 40, 20, 7), ("PL01", "SUP-HJ", 10, 5, 10), ("LB01", "SUP-HJ", 24, 12, 10),
    ("PH01", "SUP-SM", 100, 50, 21), ("CB01", "SUP-SM", 200, 100, 21), ("EB01", "SUP-SM", 20, 10, 25),
    ("PB01", "SUP-SM", 20, 10, 25),
]


def seed_demo(*, tenant) -> str:
    from inventory import selectors as inventory

    from . import services
    from .models import POLine, PurchaseOrder, Supplier, SupplierItem

    suppliers = {}
    for code, name, contact, phone, terms in SUPPLIERS:
        suppliers[code], _ = Supplier.objects.get_or_create(code=code, defaults={
            "name": name, "contact_name": contact, "phone": phone, "payment_terms_days": terms})
    items = 0
    for prefix, supplier_code, moq, case, lead in ITEMS:
        for sku in inventory.skus(stock_only=True, code_prefix=prefix):
            if SupplierItem.objects.filter(sku=sku).exists():
                continue
            price = (Decimal(sku.unit_cost or 0) * Decimal("0.95")).quantize(Decimal("0.01"))
            services.supplier_item_save(item=SupplierItem(
                supplier=suppliers[supplier_code], sku=sku, supplier_sku_code=f"{supplier_code[4:]}-{sku.code}",
                unit_price=price, min_order_quantity=moq, order_multiple=case, lead_time_days=lead, is_preferred=True))
            items += 1
    warehouse = inventory.active_warehouses().first()
    made = 0
    if warehouse is not None and not PurchaseOrder.objects.filter(note__startswith="[demo]").exists():
        fz_items = list(SupplierItem.objects.filter(supplier=suppliers["SUP-FZ"]).order_by("sku__code")[:3])
        hj_items = list(SupplierItem.objects.filter(supplier=suppliers["SUP-HJ"]).order_by("sku__code")[:2])
        if fz_items:
            services.po_create(supplier=suppliers["SUP-FZ"], warehouse=warehouse, note="[demo] 秋冬补货",
                               lines=[{"sku": it.sku, "quantity": it.min_order_quantity * 2} for it in fz_items])
            made += 1
        if hj_items:
            po = services.po_create(supplier=suppliers["SUP-HJ"], warehouse=warehouse, note="[demo] 日用品补货",
                                    lines=[{"sku": it.sku, "quantity": it.min_order_quantity} for it in hj_items])
            services.po_approve(po_id=po.pk, why="demo")
            services.po_send(po_id=po.pk, why="demo")
            first = POLine.objects.filter(purchase_order=po).order_by("pk").first()
            services.po_receive(po_id=po.pk, reference=f"DEMO-{po.number}-1",
                                lines=[{"line": first.pk, "quantity": max(first.quantity // 2, 1)}])
            made += 1
    portal = _seed_portal(tenant=tenant, supplier=suppliers["SUP-HJ"], warehouse=warehouse)
    return f"{Supplier.objects.count()} suppliers, {items} new supplier items, {made} new purchase orders{portal}"


def _seed_portal(*, tenant, supplier, warehouse) -> str:
    """A supplier user of SUP-HJ (<slug>-supplier, the demo password) and a purchase order sent to it
    that waits for its confirmation in the supplier portal."""
    from django.contrib.auth import get_user_model

    from erp.tenancy.management.commands.seed_demo import DEMO_PASSWORD

    from . import services
    from .models import PurchaseOrder, SupplierItem

    username = f"{tenant.slug}-supplier"
    if get_user_model().objects.filter(username=username).exclude(memberships__tenant=tenant).exists():
        return ""  # the name belongs to someone of another tenant: leave it alone
    services.supplier_user_invite(supplier=supplier, username=username, password=DEMO_PASSWORD)
    if warehouse is not None and not PurchaseOrder.objects.filter(note__startswith="[demo-portal]").exists():
        items = list(SupplierItem.objects.filter(supplier=supplier).order_by("sku__code")[:3])
        if items:
            po = services.po_create(supplier=supplier, warehouse=warehouse, note="[demo-portal] 月度补货",
                                    lines=[{"sku": it.sku, "quantity": it.min_order_quantity * 2} for it in items])
            services.po_approve(po_id=po.pk, why="demo")
            services.po_send(po_id=po.pk, why="demo")
    return f", supplier portal user {username}"
