"""Demo data: two warehouses, ~20 products / ~40 SKUs with Chinese names, two bundles, opening
stock and a sync rule for every shop that exists. Idempotent."""

from .models import SKU, BundleComponent, Product, StockMove, SyncRule, Warehouse

EAST = ["浙江", "江苏", "上海", "安徽", "山东", "福建", "江西", "北京", "天津", "河北"]
SOUTH = ["广东", "广西", "海南", "湖南", "湖北", "云南", "贵州", "四川", "重庆"]

PRODUCTS = [
    ("TS01", "纯棉圆领T恤", "服装", [("白", "M"), ("白", "L"), ("黑", "M"), ("黑", "L")], "18.00", 220),
    ("TS02", "速干运动T恤", "服装", [("蓝", "M"), ("蓝", "L")], "22.00", 180),
    ("HD01", "加绒连帽卫衣", "服装", [("灰", "L"), ("灰", "XL")], "56.00", 520),
    ("JN01", "直筒牛仔裤", "服装", [("深蓝", "30"), ("深蓝", "32")], "65.00", 600),
    ("SK01", "船袜五双装", "服装", [("混色", "均码")], "9.50", 120),
    ("CP01", "棒球帽", "配饰", [("黑", "均码"), ("卡其", "均码")], "12.00", 90),
    ("BG01", "帆布托特包", "配饰", [("米白", "均码")], "15.00", 260),
    ("MG01", "陶瓷马克杯", "家居", [("白", "350ml"), ("蓝", "350ml")], "8.00", 380),
    ("TW01", "纯棉毛巾", "家居", [("粉", "34x76"), ("灰", "34x76")], "7.50", 110),
    ("PL01", "记忆棉枕头", "家居", [("白", "标准")], "45.00", 1200),
    ("LB01", "保温杯", "家居", [("银", "500ml"), ("黑", "500ml")], "32.00", 420),
    ("PH01", "手机支架", "数码", [("黑", "通用")], "6.00", 80),
    ("CB01", "Type-C数据线", "数码", [("白", "1m"), ("白", "2m")], "5.00", 40),
    ("EB01", "蓝牙耳机", "数码", [("白", "标准")], "78.00", 60),
    ("PB01", "充电宝", "数码", [("白", "10000mAh")], "55.00", 230),
    ("TE01", "西湖龙井茶", "食品", [("罐装", "100g")], "88.00", 150),
    ("SN01", "坚果礼盒", "食品", [("礼盒", "750g")], "60.00", 900),
    ("HN01", "土蜂蜜", "食品", [("瓶装", "500g")], "35.00", 650),
    ("LS01", "润唇膏", "美妆", [("无色", "4g")], "6.50", 20),
    ("MK01", "补水面膜", "美妆", [("盒装", "10片")], "25.00", 300),
]


def _sku_code(product_code, colour, size):
    return f"{product_code}-{colour}-{size}"


def seed_demo(*, tenant) -> str:
    from . import services

    hz, _ = Warehouse.objects.get_or_create(code="HZ01", defaults={
        "name": "杭州主仓", "regions": EAST, "priority": 1, "address": "浙江省杭州市余杭区仓前街道"})
    gz, _ = Warehouse.objects.get_or_create(code="GZ01", defaults={
        "name": "广州仓", "regions": SOUTH, "priority": 2, "address": "广东省广州市白云区"})
    skus = {}
    for n, (code, name, category, variants, cost, grams) in enumerate(PRODUCTS):
        product, _ = Product.objects.get_or_create(code=code, defaults={"name": name, "category": category})
        for colour, size in variants:
            sku_code = _sku_code(code, colour, size)
            sku, _ = SKU.objects.get_or_create(code=sku_code, defaults={
                "product": product, "name": f"{name} {colour} {size}", "attributes": {"颜色": colour, "规格": size},
                "unit_cost": cost, "weight_grams": grams, "barcode": f"69{n:03d}{len(skus):07d}"})
            skus[sku_code] = sku
    # The SKUs the demo shops list on the simulated platforms (integrations/mock_platforms/catalog.py),
    # so their orders match by merchant code and stock pushes reach them.
    listed = [
        ("TEE", "纯棉T恤", "服装", [("TEE-WHT-M", "白 M"), ("TEE-WHT-L", "白 L"), ("TEE-BLK-M", "黑 M"), ("TEE-BLK-L", "黑 L")],
         "19.00", 220),
        ("MUG", "陶瓷马克杯", "家居", [("MUG-RED", "红"), ("MUG-BLU", "蓝")], "9.00", 380),
        ("SOCK", "运动袜三双装", "服装", [("SOCK-3P", "三双装")], "8.00", 150),
        ("CAP", "棒球帽", "配饰", [("CAP-NAVY", "藏青")], "12.00", 90),
        ("GIFT-CARD", "礼品卡", "虚拟", [("GIFT-CARD", "100元")], "0.00", 0),
    ]
    for code, name, category, variants, cost, grams in listed:
        product, _ = Product.objects.get_or_create(code=code, defaults={"name": name, "category": category})
        for sku_code, variant in variants:
            skus[sku_code], _ = SKU.objects.get_or_create(code=sku_code, defaults={
                "product": product, "name": f"{name} {variant}", "unit_cost": cost, "weight_grams": grams})
    bundles = [
        ("SET-TS01-2", "纯棉T恤两件装", [("TS01-白-M", 1), ("TS01-黑-M", 1)]),
        ("SET-GIFT-TEA", "龙井茶杯礼盒", [("TE01-罐装-100g", 1), ("MG01-白-350ml", 2)]),
    ]
    for code, name, parts in bundles:
        bundle, created = SKU.objects.get_or_create(code=code, defaults={"name": name})
        if created or not BundleComponent.objects.filter(bundle=bundle).exists():
            services.sku_set_components(bundle=bundle, components=[(skus[c], q) for c, q in parts])
    received = 0
    for i, sku in enumerate(sorted(skus.values(), key=lambda s: s.code)):
        for warehouse, quantity in ((hz, 40 + (i * 7) % 60), (gz, (i * 5) % 25)):
            if quantity and not StockMove.objects.filter(warehouse=warehouse, sku=sku, source_doc="OPENING").exists():
                services.stock_receive(warehouse=warehouse, sku=sku, quantity=quantity, reason="opening balance",
                                       source_doc="OPENING")
                received += 1
    rules = sync_rules_for_existing_shops()
    services.sku_mappings_automatch()
    return (f"{Warehouse.objects.count()} warehouses, {Product.objects.count()} products, {SKU.objects.count()} SKUs "
            f"({BundleComponent.objects.values('bundle').distinct().count()} bundles), {received} opening receipts, "
            f"{rules} new sync rules")


def sync_rules_for_existing_shops() -> int:
    """A default sync rule (all warehouses, 100%, safety stock 2) for each shop without one."""
    from integrations.selectors import shops

    from . import services

    created = 0
    for shop in shops().order_by("pk"):
        if not SyncRule.objects.filter(shop=shop).exists():
            services.sync_rule_save(shop=shop, safety_stock=2)
            created += 1
    return created
