"""The shop selectors other apps use instead of integrations.models, and a serializer field built on
one: each sees only the current tenant's shops and fails closed with no tenant set."""

import pytest
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from erp.api.fields import ScopedPK
from erp.tenancy.context import TenantNotSetError
from integrations import selectors
from integrations.services import shop_create


class _ShopRef(serializers.Serializer):
    shop = ScopedPK(rows=selectors.shops)


@pytest.fixture
def two_tenants_shops(tenant_a, tenant_b):
    with tenant_b.context():
        foreign, _ = shop_create(code="jd1", name="Beta JD", platform="jd")
    with tenant_a.context():
        zeta, _ = shop_create(code="z", name="Zeta", platform="pdd")
        alpha, _ = shop_create(code="a", name="Alpha", platform="taobao")
    return alpha, zeta, foreign


def test_shop_lookups_see_only_the_current_tenant(tenant_a, two_tenants_shops):
    alpha, zeta, foreign = two_tenants_shops
    with tenant_a.context():
        assert set(selectors.shops()) == {alpha, zeta}
        assert selectors.shop_get(shop_id=alpha.pk) == alpha
        with pytest.raises(ObjectDoesNotExist):
            selectors.shop_get(shop_id=foreign.pk)
        assert selectors.shop_find(shop_id=str(zeta.pk)) == zeta
        assert selectors.shop_find(shop_id=foreign.pk) is None
        assert selectors.shop_find(shop_id="x1") is None
        assert selectors.shop_find(shop_id=None) is None
        assert selectors.shops_by_ids(ids=[alpha.pk, foreign.pk]) == {alpha.pk: alpha}
        assert selectors.shop_names(ids=[zeta.pk, foreign.pk]) == {zeta.pk: "Zeta"}
        assert list(selectors.shop_options()) == [{"id": alpha.pk, "name": "Alpha"}, {"id": zeta.pk, "name": "Zeta"}]
    assert ("jd", "JD") in selectors.platform_choices()
    assert set(selectors.platform_values()) == {"taobao", "jd", "pdd", "own"}


def test_shop_lookups_fail_closed_without_a_tenant(two_tenants_shops):
    with pytest.raises(TenantNotSetError):
        list(selectors.shops())
    with pytest.raises(TenantNotSetError):
        selectors.shop_get(shop_id=two_tenants_shops[0].pk)
    with pytest.raises(TenantNotSetError):
        selectors.shops_by_ids(ids=[two_tenants_shops[0].pk])


def test_a_shop_field_accepts_only_the_tenants_shops(tenant_a, two_tenants_shops):
    alpha, _zeta, foreign = two_tenants_shops
    with tenant_a.context():
        ok = _ShopRef(data={"shop": alpha.pk})
        assert ok.is_valid(), ok.errors
        assert ok.validated_data["shop"] == alpha
        bad = _ShopRef(data={"shop": foreign.pk})
        assert not bad.is_valid()
        assert "shop" in bad.errors


def test_a_scoped_pk_needs_exactly_one_source():
    with pytest.raises(TypeError):
        ScopedPK()
    with pytest.raises(TypeError):
        ScopedPK(model=object, rows=selectors.shops)
