"""Members helpers shared by the services: the tenant's settings row (also the tenant-wide mutex for
creating members) and member groups (a root member and those merged into it), looked up and locked.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction

from ..models import Member, MemberSettings

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")


def member_settings(*, lock: bool = False) -> MemberSettings:
    """The tenant's settings row (made on first use). ``lock`` row-locks it: a tenant-wide mutex for
    creating members, so two identities with the same phone never make two members."""
    found = MemberSettings.objects.select_for_update() if lock else MemberSettings.objects
    row = found.first()
    if row is None:
        try:
            with transaction.atomic():
                MemberSettings.objects.create()
        except IntegrityError:
            pass
        row = (MemberSettings.objects.select_for_update() if lock else MemberSettings.objects).get()
    return row


def group_ids(root_id: int) -> list[int]:
    return [root_id, *Member.objects.filter(merged_into_id=root_id).order_by("pk").values_list("pk", flat=True)]


def _lock_members(ids) -> dict[int, Member]:
    return {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk")}


def _get_member(member_id: int, *, lock: bool = False) -> Member:
    qs = Member.objects.select_for_update() if lock else Member.objects
    member = qs.filter(pk=member_id).first()
    if member is None:
        from django.http import Http404

        raise Http404("No such member.")
    return member
