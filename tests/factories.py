"""Shared factories. Business-model factories subclass TenantScopedFactory: they create rows in the
tenant given as ``tenant=`` (or the current one), under that tenant's context so RLS admits them."""

import factory
from django.contrib.auth import get_user_model

from erp.tenancy.context import get_current_tenant, tenant_context
from erp.tenancy.models import Membership, Tenant
from erp.tenancy.roles import Role


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("pw-123456")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.OWNER


class TenantScopedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, tenant=None, **kwargs):
        tenant = tenant or get_current_tenant()
        if tenant is None:
            raise ValueError(f"{cls.__name__} needs tenant=... or a current tenant")
        with tenant_context(tenant):
            return super()._create(model_class, *args, tenant=tenant, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, tenant=None, **kwargs):
        return super()._build(model_class, *args, tenant=tenant or get_current_tenant(), **kwargs)
