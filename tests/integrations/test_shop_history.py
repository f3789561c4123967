"""The shop's change history (admin "History" page) works under the tenant and only shows the
tenant's own shops; HistoricalShop fails closed like Shop."""

import pytest
from django.urls import reverse

from erp.tenancy.context import TenantNotSetError
from integrations.models import HistoricalShop, Shop
from integrations.services import shop_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def renamed_shop(tenant_a):
    with tenant_a.context():
        shop, _ = shop_create(code="tb1", name="Taobao flagship", platform="taobao")
        shop.name = "Taobao outlet"
        shop.save()
    return shop


def test_historical_shop_fails_closed_without_tenant(renamed_shop):
    with pytest.raises(TenantNotSetError):
        HistoricalShop.objects.count()
    with pytest.raises(TenantNotSetError):
        Shop.history.count()


def test_admin_history_page_shows_the_tenants_versions(renamed_shop, tenant_a, tenant_b, client):
    url = reverse("admin:integrations_shop_history", args=[renamed_shop.pk])
    client.force_login(tenant_a.owner.user)
    response = client.get(url)
    assert response.status_code == 200
    versions = list(response.context["page_obj"].object_list)
    assert [v.name for v in versions] == ["Taobao outlet", "Taobao flagship"]
    assert all(v.tenant_id == tenant_a.tenant.pk for v in versions)
    version_url = reverse("admin:integrations_shop_simple_history", args=[renamed_shop.pk, versions[-1].pk])
    assert client.get(version_url).status_code == 200

    client.force_login(tenant_b.owner.user)
    response = client.get(url)
    assert response.status_code in (302, 404)
    assert client.get(version_url).status_code in (302, 404)
