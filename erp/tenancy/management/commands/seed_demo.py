"""Seed a demo tenant with staff, and let each domain app add its demo data (idempotent)."""

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from erp.tenancy.context import tenant_context
from erp.tenancy.models import Tenant
from erp.tenancy.roles import Role
from erp.tenancy.services import membership_add, tenant_create

DEMO_PASSWORD = "demo12345"
# Seeds build on each other: shops first, then the catalogue and stock (with sync rules for those
# shops), then documents that need both.
SEED_ORDER = ["integrations", "inventory", "warehouse", "purchasing", "finance", "orders", "members", "aftersales"]
DEMO_STAFF = [("ops", Role.OPERATOR), ("wh", Role.WAREHOUSE), ("fin", Role.FINANCE), ("cs", Role.SERVICE)]


class Command(BaseCommand):
    help = "Create (or top up) a demo tenant with shops and data. Running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=settings.DEMO_TENANT_SLUG, help="slug of the demo tenant")
        parser.add_argument("--owner", default=None, help="owner username (default: the slug)")
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args, tenant, owner, password, **options):
        owner = owner or tenant
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            tenant_obj = tenant_create(name=f"{tenant.title()} Trading Co.", slug=tenant, owner_username=owner,
                                       owner_password=password)
        User = get_user_model()
        for suffix, role in DEMO_STAFF:
            username = f"{tenant}-{suffix}"
            if not User.objects.filter(username=username).exists():
                membership_add(tenant=tenant_obj, username=username, role=role, password=password)
        with tenant_context(tenant_obj):
            for app in SEED_ORDER:
                if find_spec(f"{app}.seed") is not None:
                    summary = import_module(f"{app}.seed").seed_demo(tenant=tenant_obj)
                    if summary:
                        self.stdout.write(f"  {app}: {summary}")
        self.stdout.write(self.style.SUCCESS(
            f"Demo tenant '{tenant}' ready. Log in at http://127.0.0.1:8000/ as {owner} / {password} "
            f"(staff: {', '.join(f'{tenant}-{s}' for s, _ in DEMO_STAFF)}, same password)."
        ))
