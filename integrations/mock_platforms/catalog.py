"""Default shops and catalogue, plus the small pools the scenario draws buyers and addresses from."""

DEFAULT_SHOPS = [
    {"code": "tb-main", "platform": "taobao", "platform_shop_id": "mock_tb_store",
     "app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"},
    {"code": "tb-second", "platform": "taobao", "platform_shop_id": "mock_tb_outlet",
     "app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-second"},
    {"code": "jd-main", "platform": "jd", "platform_shop_id": "10001",
     "app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"},
    {"code": "pdd-main", "platform": "pdd", "platform_shop_id": "20001",
     "app_key": "pdd-client-id", "app_secret": "pdd-client-secret", "access_token": "pdd-token-main"},
]

# outer_id = the merchant code (the ERP's SKU.code). Items group SKUs by item_outer_id.
# no_sku: the item has no SKU variants (platform sku id 0 / empty; the item outer id carries the code).
DEFAULT_CATALOG = [
    {"outer_id": "TEE-WHT-M", "item_outer_id": "TEE", "title": "纯棉T恤 Cotton tee", "props": "颜色:白色;尺码:M",
     "price": "59.00", "quantity": 120},
    {"outer_id": "TEE-WHT-L", "item_outer_id": "TEE", "title": "纯棉T恤 Cotton tee", "props": "颜色:白色;尺码:L",
     "price": "59.00", "quantity": 100},
    {"outer_id": "TEE-BLK-M", "item_outer_id": "TEE", "title": "纯棉T恤 Cotton tee", "props": "颜色:黑色;尺码:M",
     "price": "59.00", "quantity": 80},
    {"outer_id": "TEE-BLK-L", "item_outer_id": "TEE", "title": "纯棉T恤 Cotton tee", "props": "颜色:黑色;尺码:L",
     "price": "59.00", "quantity": 60},
    {"outer_id": "MUG-RED", "item_outer_id": "MUG", "title": "陶瓷马克杯 Ceramic mug", "props": "颜色:红色",
     "price": "35.00", "quantity": 200},
    {"outer_id": "MUG-BLU", "item_outer_id": "MUG", "title": "陶瓷马克杯 Ceramic mug", "props": "颜色:蓝色",
     "price": "35.00", "quantity": 150},
    {"outer_id": "SOCK-3P", "item_outer_id": "SOCK", "title": "运动袜三双装 Sport socks 3-pack", "props": "规格:三双装",
     "price": "29.90", "quantity": 300},
    {"outer_id": "CAP-NAVY", "item_outer_id": "CAP", "title": "棒球帽 Baseball cap", "props": "颜色:藏青",
     "price": "49.00", "quantity": 40},
    {"outer_id": "GIFT-CARD", "item_outer_id": "GIFT-CARD", "title": "礼品卡 Gift card", "props": "",
     "price": "100.00", "quantity": 999, "no_sku": True},
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀英", "丽", "强"]
REGIONS = [
    ("浙江省", "杭州市", ["西湖区", "滨江区", "余杭区"]),
    ("上海", "上海市", ["浦东新区", "徐汇区", "闵行区"]),
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区"]),
    ("广东省", "广州市", ["天河区", "海珠区"]),
    ("北京", "北京市", ["朝阳区", "海淀区", "丰台区"]),
    ("江苏省", "南京市", ["鼓楼区", "江宁区"]),
    ("四川省", "成都市", ["武侯区", "高新区"]),
    ("湖北省", "武汉市", ["洪山区", "江汉区"]),
    ("新疆维吾尔自治区", "乌鲁木齐市", ["天山区"]),
]
STREETS = ["文三路", "人民路", "解放大道", "建设路", "中山路", "科技园南路", "长江路", "和平街"]
BUYER_MESSAGES = ["请尽快发货", "不要放快递柜", "送人的，不要放发票", "周末不在家，请工作日送达",
                  "麻烦包装好一点", "能发顺丰吗？", "颜色要和图片一样"]
REFUND_REASONS = ["不想要了", "拍错了/多拍了", "尺码不合适", "商品质量问题", "与描述不符", "未按约定时间发货"]
CARRIERS = {"taobao": ["YTO", "ZTO", "STO", "YUNDA", "SF"], "jd": ["467", "2087", "463"], "pdd": ["115", "44", "85"]}
