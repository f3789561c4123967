"""Demo shops: one per simulated platform (pointing at MOCK_PLATFORMS_URL, with the credentials the
mock platforms accept by default, see integrations/mock_platforms/PROTOCOL.md) plus an own web shop."""

from django.conf import settings

from .models import Shop
from .services import shop_create

MOCK_PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}
DEMO_SHOPS = [
    {"code": "tb-main", "name": "Taobao flagship (mock)", "platform": "taobao", "platform_shop_id": "mock_tb_store",
     "credentials": {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}},
    {"code": "jd-main", "name": "JD store (mock)", "platform": "jd", "platform_shop_id": "10001",
     "credentials": {"app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"}},
    {"code": "pdd-main", "name": "Pinduoduo store (mock)", "platform": "pdd", "platform_shop_id": "20001",
     "credentials": {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret", "access_token": "pdd-token-main"}},
    {"code": "web", "name": "Own web shop", "platform": "own", "credentials": {}},
]


def mock_url(platform: str) -> str:
    return settings.MOCK_PLATFORMS_URL.rstrip("/") + MOCK_PATHS[platform] if platform in MOCK_PATHS else ""


def seed_demo(*, tenant) -> str:
    created, secrets = [], []
    for spec in DEMO_SHOPS:
        if Shop.objects.filter(code=spec["code"]).exists():
            continue
        fields = {k: v for k, v in spec.items() if k not in ("code", "name", "platform")}
        # the first pull looks back one hour: the simulated platforms start at "now"
        shop, secret = shop_create(code=spec["code"], name=spec["name"], platform=spec["platform"],
                                   api_base_url=mock_url(spec["platform"]), initial_lookback_hours=1, **fields)
        created.append(shop.code)
        if shop.platform == "own":
            secrets.append(f"channel secret of '{shop.code}' (shown once): {secret}")
    if not created:
        return "shops already there"
    return f"shops {', '.join(created)} -> {settings.MOCK_PLATFORMS_URL}" + ("; " + "; ".join(secrets) if secrets else "")
