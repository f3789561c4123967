"""The import types: columns, natural keys, writers (in the owning apps) and file-side totals.

Column keys are the English snake_case names; headers may be the key, the English or the Chinese
header (as in the templates) or an alias, compared case- and punctuation-blind."""

from collections import defaultdict
from decimal import Decimal
from functools import partial

from erp.tenancy.dates import tenant_zone

from . import parsing as p
from .specs import Column, ImportType, register


def text(max_length=200):
    return partial(p.parse_text, max_length=max_length)


def money(minimum=Decimal("0")):
    return partial(p.parse_decimal, places=2, minimum=minimum)


def qty(minimum=0):
    return partial(p.parse_int, minimum=minimum)


def when(value):
    return p.parse_datetime(value, zone=tenant_zone())


def choice(mapping: dict[str, tuple[str, ...]]):
    accepted = {}
    for value, spellings in mapping.items():
        for spelling in (value, *spellings):
            accepted[p._norm(spelling).lower()] = value
    return partial(p.parse_choice, choices=accepted)


def code_list(value):
    """"广东,广西" / "广东；广西" / "广东 广西" -> ["广东", "广西"]."""
    raw = p.parse_text(value, max_length=2000)
    for sep in ("，", "；", ";", "、", "|", "\n"):
        raw = raw.replace(sep, ",")
    return [part.strip() for part in raw.split(",") if part.strip()]


def attributes(value):
    """"颜色:红;尺码:M" -> {"颜色": "红", "尺码": "M"}."""
    raw = p.parse_text(value, max_length=1000)
    result = {}
    for part in raw.replace("；", ";").replace("，", ";").replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, sep, val = part.replace("：", ":").replace("=", ":").partition(":")
        if not sep or not name.strip():
            raise p.CellError(p._("“%(part)s” is not name:value (e.g. 颜色:红;尺码:M)") % {"part": part.strip()})
        result[name.strip()] = val.strip()
    return result


STATUS = choice({"active": ("启用", "在售", "on sale", "正常"), "inactive": ("停用", "停售", "disabled"),
                 "discontinued": ("下架", "停产", "淘汰")})
PLATFORM = choice({"taobao": ("淘宝", "天猫", "tmall", "tb"), "jd": ("京东", "jingdong"),
                   "pdd": ("拼多多", "pinduoduo"), "own": ("自有商城", "官网", "web", "own shop")})


def _count_rows(rows, options):
    return {"rows": len(rows)}


# --- inventory -------------------------------------------------------------------------------------

register(ImportType(
    name="skus", en="Products and SKUs", zh="商品与SKU", app_label="inventory",
    description_en="One row per SKU (merchant code). Rows with the same product code become one product.",
    description_zh="每行一个SKU（商家编码）。商品编码相同的行归为同一个商品。",
    key=("sku_code",),
    batch_size=10000,
    columns=(
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "outer id", "sku", "SKU编码", "货号", "规格编码")),
        Column("name", "SKU name", "SKU名称", text(200), required=True, example="T恤 白色 M",
               aliases=("name", "名称", "品名", "规格名称")),
        Column("product_code", "Product code", "商品编码", text(64), example="TEE",
               aliases=("款号", "spu", "商品货号")),
        Column("product_name", "Product name", "商品名称", text(200), example="纯棉T恤"),
        Column("barcode", "Barcode", "条码", text(64), example="6901234567892", aliases=("条形码", "ean", "upc")),
        Column("category", "Category", "类目", text(100), example="服装", aliases=("分类",)),
        Column("brand", "Brand", "品牌", text(100), example="自有品牌"),
        Column("attributes", "Attributes", "规格属性", attributes, example="颜色:白;尺码:M",
               help_en="name:value pairs separated by ;", help_zh="名称:值，用 ; 分隔"),
        Column("unit_cost", "Unit cost", "成本价", money(), example="25.50", aliases=("cost", "成本", "采购价")),
        Column("weight_grams", "Weight (g)", "重量(克)", qty(0), example="200", aliases=("weight", "重量")),
        Column("status", "Status", "状态", STATUS, example="active",
               help_en="active / inactive / discontinued", help_zh="启用 / 停用 / 下架"),
    ),
    writer="inventory.services.imports:skus_import",
    reconcile="inventory.services.imports:skus_reconcile",
    file_totals=lambda rows, options: {"rows": len(rows), "cost_total": sum(r.get("unit_cost", 0) for r in rows)},
))

register(ImportType(
    name="bundles", en="Bundles", zh="组合装", app_label="inventory",
    description_en="One row per component of a bundle SKU; a bundle's rows give all its components.",
    description_zh="每行一个组合装的子商品；同一组合装的所有行给出其全部子商品。",
    key=("bundle_code", "component_code"),
    columns=(
        Column("bundle_code", "Bundle SKU code", "组合装商家编码", text(64), required=True, example="GIFT-SET",
               aliases=("bundle", "组合编码", "组合装编码")),
        Column("component_code", "Component SKU code", "子商品商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("component", "子商品编码", "单品编码")),
        Column("quantity", "Quantity", "数量", qty(1), required=True, example="2", aliases=("qty",)),
    ),
    writer="inventory.services.imports:bundles_import",
    reconcile="inventory.services.imports:bundles_reconcile",
    file_totals=lambda rows, options: {"rows": len(rows), "units": sum(r["quantity"] for r in rows)},
    whole_file=True,
))

register(ImportType(
    name="barcodes", en="Barcodes", zh="条码", app_label="inventory",
    description_en="Sets the barcode of existing SKUs.", description_zh="为已有SKU设置条码。",
    key=("sku_code",),
    columns=(
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "sku")),
        Column("barcode", "Barcode", "条码", text(64), required=True, example="6901234567892",
               aliases=("条形码", "ean", "upc")),
    ),
    writer="inventory.services.imports:barcodes_import",
    reconcile="inventory.services.imports:barcodes_reconcile",
    file_totals=_count_rows,
))

register(ImportType(
    name="sku_mappings", en="Platform SKU mappings", zh="平台商品对应", app_label="inventory",
    description_en="Which of your SKUs each platform item / SKU id of a shop is.",
    description_zh="店铺平台商品ID/SKU ID对应的本地商家编码。",
    key=("shop_code", "platform_item_id", "platform_sku_id"),
    columns=(
        Column("shop_code", "Shop code", "店铺编码", text(40), required=True, example="tb-main", aliases=("shop", "店铺")),
        Column("platform_item_id", "Platform item id", "平台商品ID", text(64), required=True, example="612345678901",
               aliases=("num_iid", "item id", "商品ID")),
        Column("platform_sku_id", "Platform SKU id", "平台SKU ID", text(64), example="4567890123",
               aliases=("sku id", "平台规格ID")),
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "outer id", "outer_id")),
        Column("title", "Platform title", "平台标题", text(300), example="纯棉T恤 白色 M", aliases=("title", "标题")),
    ),
    writer="inventory.services.imports:sku_mappings_import",
    reconcile="inventory.services.imports:sku_mappings_reconcile",
    file_totals=_count_rows,
))

register(ImportType(
    name="warehouses", en="Warehouses", zh="仓库", app_label="inventory",
    key=("code",),
    columns=(
        Column("code", "Warehouse code", "仓库编码", text(40), required=True, example="WH-SH", aliases=("code", "编码")),
        Column("name", "Warehouse name", "仓库名称", text(200), required=True, example="上海仓", aliases=("name", "名称")),
        Column("kind", "Kind", "类型", choice({"own": ("自营", "自有", "own warehouse"),
                                              "third_party": ("第三方", "外包", "third party", "3pl", "wms")}),
               example="own", help_en="own / third_party", help_zh="自营 / 第三方"),
        Column("address", "Address", "地址", text(300), example="上海市青浦区…"),
        Column("regions", "Regions served", "服务省份", code_list, example="上海,江苏,浙江",
               help_en="province names separated by commas; empty = everywhere", help_zh="省份名用逗号分隔；为空表示全国"),
        Column("priority", "Priority", "优先级", qty(0), example="10", help_en="lower is tried first", help_zh="数字越小越优先"),
        Column("is_active", "Active", "启用", p.parse_bool, example="是"),
    ),
    writer="inventory.services.imports:warehouses_import",
    reconcile="inventory.services.imports:warehouses_reconcile",
    file_totals=_count_rows,
))


def _stock_totals(rows, options):
    totals = defaultdict(Decimal)
    totals["rows"] = len(rows)
    for row in rows:
        wh = row["warehouse_code"]
        totals[f"units:{wh}"] += row["quantity"]
        if "unit_cost" in row:
            totals[f"value:{wh}"] += row["quantity"] * row["unit_cost"]
    return dict(totals)


register(ImportType(
    name="opening_stock", en="Opening stock", zh="期初库存", app_label="inventory",
    description_en="On hand per warehouse and SKU on the day you start, booked through the stock ledger and to "
                   "the books (Dr 1405 库存商品 / Cr 3104 利润分配). Importing it again changes nothing; correct "
                   "later differences with a stock adjustment or a stocktake.",
    description_zh="开始使用当天各仓各SKU的库存，记入库存流水并生成期初凭证（借 1405 库存商品 / 贷 3104 利润分配）。"
                   "重复导入不会改变任何数据；之后的差异请用库存调整或盘点更正。",
    key=("warehouse_code", "sku_code"),
    columns=(
        Column("warehouse_code", "Warehouse code", "仓库编码", text(40), required=True, example="WH-SH",
               aliases=("warehouse", "仓库")),
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "sku")),
        Column("quantity", "Quantity on hand", "库存数量", qty(0), required=True, example="120",
               aliases=("quantity", "qty", "on hand", "数量", "库存")),
        Column("unit_cost", "Unit cost", "成本单价", money(), example="25.50",
               help_en="empty: the SKU's current cost", help_zh="为空则用SKU当前成本",
               aliases=("cost", "成本", "成本价")),
    ),
    writer="inventory.services.imports:opening_stock_import",
    reconcile=("inventory.services.imports:opening_stock_reconcile", "finance.services.imports:opening_stock_reconcile"),
    post_to_books="finance.services.imports:opening_stock_post",
    file_totals=_stock_totals,
))

# --- purchasing ------------------------------------------------------------------------------------

register(ImportType(
    name="suppliers", en="Suppliers", zh="供应商", app_label="purchasing",
    key=("code",),
    columns=(
        Column("code", "Supplier code", "供应商编码", text(40), required=True, example="SUP-001", aliases=("code", "编码")),
        Column("name", "Supplier name", "供应商名称", text(200), required=True, example="杭州某某服饰有限公司",
               aliases=("name", "名称")),
        Column("contact_name", "Contact", "联系人", text(100), example="张三"),
        Column("phone", "Phone", "电话", text(40), example="0571-88888888", aliases=("手机", "联系电话")),
        Column("email", "Email", "邮箱", text(254), example="sales@example.com"),
        Column("address", "Address", "地址", text(300), example="杭州市…"),
        Column("payment_terms_days", "Payment terms (days)", "账期(天)", qty(0), example="30", aliases=("账期",)),
        Column("is_active", "Active", "启用", p.parse_bool, example="是"),
        Column("note", "Note", "备注", text(2000), example=""),
    ),
    writer="purchasing.services.imports:suppliers_import",
    reconcile="purchasing.services.imports:suppliers_reconcile",
    file_totals=_count_rows,
))

register(ImportType(
    name="supplier_items", en="Supplier items", zh="供应商商品", app_label="purchasing",
    key=("supplier_code", "sku_code"),
    columns=(
        Column("supplier_code", "Supplier code", "供应商编码", text(40), required=True, example="SUP-001",
               aliases=("supplier", "供应商")),
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "sku")),
        Column("supplier_sku_code", "Supplier's code", "供应商货号", text(64), example="A-1001"),
        Column("unit_price", "Unit price", "采购单价", money(), example="22.00", aliases=("price", "单价", "采购价")),
        Column("min_order_quantity", "MOQ", "起订量", qty(1), example="50", aliases=("minimum order quantity", "moq")),
        Column("order_multiple", "Case pack", "箱规", qty(1), example="10", aliases=("order multiple", "包装数")),
        Column("lead_time_days", "Lead time (days)", "交期(天)", qty(0), example="7", aliases=("lead time", "交期")),
        Column("is_preferred", "Preferred", "首选", p.parse_bool, example="是", aliases=("默认供应商",)),
    ),
    writer="purchasing.services.imports:supplier_items_import",
    reconcile="purchasing.services.imports:supplier_items_reconcile",
    file_totals=lambda rows, options: {"rows": len(rows), "price_total": sum(r.get("unit_price", 0) for r in rows)},
))

# --- members ---------------------------------------------------------------------------------------


def _member_totals(rows, options):
    return {"rows": len(rows), "points": sum(r.get("points", 0) for r in rows),
            "lifetime_spend": sum((r["lifetime_spend"] for r in rows if "lifetime_spend" in r), Decimal(0)),
            "order_count": sum(r.get("order_count", 0) for r in rows if "lifetime_spend" in r or "order_count" in r)}


register(ImportType(
    name="members", en="Members", zh="会员", app_label="members",
    description_en="One row per platform identity (platform + buyer id). Points are the opening balance, "
                   "booked once as an adjustment in the points ledger. Lifetime spend and orders are the purchase "
                   "history before this system (left empty: summed from the buyer's imported historical orders); "
                   "levels and RFM count them.",
    description_zh="每行一个平台身份（平台+买家ID）。积分为期初余额，在积分流水中记一次调整。累计消费金额和订单数为迁移前的购买历史"
                   "（为空则按该买家已导入的历史订单汇总），会员等级和RFM会计入。",
    key=("platform", "buyer_id"),
    columns=(
        Column("platform", "Platform", "平台", PLATFORM, required=True, example="taobao",
               help_en="taobao / jd / pdd / own", help_zh="淘宝 / 京东 / 拼多多 / 自有商城"),
        Column("buyer_id", "Buyer id", "买家ID", text(128), required=True, example="tb_buyer_001",
               aliases=("buyer", "买家", "会员ID", "买家昵称")),
        Column("name", "Name", "姓名", text(100), example="李四", aliases=("display name", "会员名")),
        Column("phone", "Phone", "手机号", text(40), example="13800138000", aliases=("mobile", "手机", "电话")),
        Column("level", "Level", "会员等级", text(50), example="金卡", aliases=("等级",),
               help_en="the name of an existing level", help_zh="已有等级的名称"),
        Column("points", "Points balance", "积分余额", partial(p.parse_int, minimum=0), example="1200",
               aliases=("points", "积分")),
        Column("lifetime_spend", "Lifetime spend", "累计消费金额", money(), example="3560.00",
               aliases=("total spend", "lifetime paid", "累计消费", "消费金额", "累计金额"),
               help_en="before this system; empty: summed from the buyer's imported historical orders",
               help_zh="迁移前的累计；为空则按该买家已导入的历史订单汇总"),
        Column("order_count", "Orders", "累计订单数", qty(0), example="12",
               aliases=("order count", "orders count", "购买次数", "订单数", "累计购买次数")),
        Column("first_order_at", "First order", "首次购买时间", when, example="2021-03-08 10:00:00",
               aliases=("first purchase", "首次下单时间")),
        Column("last_order_at", "Last order", "最近购买时间", when, example="2024-05-20 21:30:00",
               aliases=("last purchase", "最后购买时间", "最近下单时间")),
    ),
    writer="members.services.imports:members_import",
    reconcile="members.services.imports:members_reconcile",
    file_totals=_member_totals,
    on_done=("members.services.imports:members_after_import",),
))

# --- orders ----------------------------------------------------------------------------------------


def _order_totals(rows, options):
    totals = defaultdict(Decimal)
    totals["rows"] = len(rows)
    zone = tenant_zone()
    months: dict[tuple[int, int], tuple[str, str]] = {}
    for row in rows:
        local = row["paid_at"].astimezone(zone)
        ym = (local.year, local.month)
        keys = months.get(ym)
        if keys is None:
            keys = months[ym] = (f"amount:{ym[0]:04d}-{ym[1]:02d}", f"units:{ym[0]:04d}-{ym[1]:02d}")
        totals[keys[0]] += row["paid"]
        totals[keys[1]] += row["quantity"]
    return dict(totals)


register(ImportType(
    name="orders", en="Historical orders", zh="历史订单", app_label="orders",
    description_en="One row per order line. Historical orders feed sales history, purchase planning and reports; "
                   "they never reserve or move stock and are never sent to a platform.",
    description_zh="每行一个订单行。历史订单用于销售历史、采购计划和报表；不占用、不扣减库存，也不会回传平台。",
    key=("shop_code", "platform_order_id", "line_no"),
    batch_size=10000,
    columns=(
        Column("shop_code", "Shop code", "店铺编码", text(40), required=True, example="tb-main", aliases=("shop", "店铺")),
        Column("platform_order_id", "Order id", "订单号", text(64), required=True, example="3301234567890",
               aliases=("platform order id", "order no", "订单编号", "平台订单号")),
        Column("line_no", "Line", "行号", text(64), required=True, example="1",
               aliases=("line id", "platform line id", "子订单号", "子订单编号")),
        Column("sku_code", "SKU code", "商家编码", text(64), required=True, example="TEE-WHT-M",
               aliases=("merchant code", "outer id", "sku")),
        Column("quantity", "Quantity", "数量", qty(1), required=True, example="2", aliases=("qty", "购买数量")),
        Column("price", "Unit price", "单价", money(), example="59.00", aliases=("price",)),
        Column("paid", "Paid", "实付金额", money(), required=True, example="110.00",
               aliases=("paid amount", "实付", "实收金额")),
        Column("paid_at", "Paid at", "付款时间", when, required=True, example="2023-06-18 20:15:00",
               aliases=("payment time", "支付时间")),
        Column("ordered_at", "Ordered at", "下单时间", when, example="2023-06-18 20:14:00", aliases=("created at", "创建时间")),
        Column("shipped_at", "Shipped at", "发货时间", when, example="2023-06-19 15:00:00"),
        Column("status", "Status", "订单状态", choice({"completed": ("已完成", "交易成功", "shipped", "已发货", "finished"),
                                                     "cancelled": ("已取消", "交易关闭", "closed", "canceled")}),
               example="completed", help_en="completed / cancelled", help_zh="已完成 / 已取消"),
        Column("buyer_id", "Buyer id", "买家ID", text(128), example="tb_buyer_001", aliases=("buyer", "买家昵称")),
        Column("receiver_name", "Receiver", "收货人", text(128), example="李四"),
        Column("receiver_province", "Province", "省份", text(64), example="浙江省", aliases=("province", "省")),
        Column("receiver_city", "City", "城市", text(64), example="杭州市", aliases=("city", "市")),
        Column("freight", "Freight", "运费", money(), example="0.00", help_en="per order (first line counts)",
               help_zh="按订单（取第一行）"),
    ),
    writer="orders.services.imports:historical_orders_import",
    reconcile="orders.services.imports:historical_orders_reconcile",
    file_totals=_order_totals,
    after_batch=("members.services.imports:historical_orders_feed",),
    on_done=("members.services.imports:members_after_import",),
))

# --- finance ---------------------------------------------------------------------------------------

register(ImportType(
    name="account_balances", en="Opening balances of accounts", zh="科目期初余额", app_label="finance",
    description_en="The balance of each account on the day you start, posted as one opening voucher that must "
                   "balance. Leave 1405 库存商品 out when you import opening stock (that import books it).",
    description_zh="开始使用当天各科目的余额，生成一张必须借贷平衡的期初凭证。若导入期初库存，请不要包含 1405 库存商品（期初库存导入会记账）。",
    key=("account_code",),
    whole_file=True,
    columns=(
        Column("account_code", "Account code", "科目编码", text(20), required=True, example="1002",
               aliases=("account", "科目代码", "科目")),
        Column("debit", "Debit", "借方余额", money(), example="50000.00", aliases=("借方", "dr")),
        Column("credit", "Credit", "贷方余额", money(), example="0.00", aliases=("贷方", "cr")),
        Column("date", "Date", "日期", p.parse_date, example="2024-01-01", help_en="the opening day (same on every row)",
               help_zh="期初日期（每行相同）"),
    ),
    writer="finance.services.imports:account_balances_import",
    reconcile="finance.services.imports:account_balances_reconcile",
    file_totals=lambda rows, options: {"rows": len(rows), "debit": sum(r.get("debit", 0) for r in rows),
                                       "credit": sum(r.get("credit", 0) for r in rows)},
))
