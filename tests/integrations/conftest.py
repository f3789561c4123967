import pytest

from integrations.adapters import override_adapters
from integrations.services import shop_create

from .fakes import FakeAdapter, FakePlatform


@pytest.fixture
def shop(in_tenant_a):
    shop, _secret = shop_create(code="tb1", name="Taobao flagship", platform="taobao")
    return shop


@pytest.fixture
def fake_platform(shop):
    platform = FakePlatform()
    with override_adapters(lambda s: FakeAdapter(s, platform)):
        yield platform
