from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from erp.tenancy.models import Tenant
from erp.tenancy.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (a seller company) and its owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", required=True, help="username of the owner (created if new)")
        parser.add_argument("--password", help="the owner's password (required for a new user)")
        parser.add_argument("--email", default="")
        parser.add_argument("--timezone", default="Asia/Shanghai")

    def handle(self, *args, slug, name, owner, password, email, timezone, **options):
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"A tenant with slug {slug!r} exists already.")
        if password:
            try:
                validate_password(password)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages))
        tenant = tenant_create(name=name, slug=slug, owner_username=owner, owner_password=password,
                               owner_email=email, timezone_name=timezone)
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} (id {tenant.pk}) owned by {owner}."))
