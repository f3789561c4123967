from django.core.management.base import BaseCommand, CommandError

from erp.tenancy.models import Membership
from erp.tenancy.services import api_token_issue


class Command(BaseCommand):
    help = "Issue (or rotate) the API token of USERNAME's membership in a tenant; prints the key once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="tenant slug")

    def handle(self, *args, username, tenant, **options):
        membership = Membership.objects.filter(user__username=username, tenant__slug=tenant).select_related("tenant").first()
        if membership is None:
            raise CommandError(f"{username} is not a member of tenant {tenant!r}.")
        self.stdout.write(api_token_issue(membership=membership))
