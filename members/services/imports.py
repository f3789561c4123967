"""Set-based writer for the data import (dataimport app): members with their platform identities,
phone, level and opening points balance.

One row is one platform identity (platform + buyer id). A new identity joins the member that already
has its normalised phone (stored as the salted hash, as ``identity_match`` does), else a new member is
made (two new rows with one phone make one member); masked or privacy numbers never match. The level
is an existing level's name. The points balance is booked once as an ``adjust`` entry of the points
ledger with the reference ``import:points:<platform>:<buyer id>`` (the projection moves with it); the
same file again changes nothing, a different balance for an identity already imported is refused
(adjust it on the member's page). Reads: one query per table for the batch; writes: bulk INSERTs of
members, identities and ledger entries, bulk UPDATEs of the members' name, level and balance.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.tenancy.context import require_tenant

from ..models import (
    Member,
    MemberIdentity,
    MemberLevel,
    MemberOpening,
    OpeningSource,
    PointsEntry,
    PointsKind,
)
from .common import ZERO
from .identity import phone_parts
from .levels import members_refresh_many
from .rfm import members_recompute_rfm

OPENING = "import:points:"


def _points_ref(platform: str, buyer_id: str) -> str:
    ref = f"{OPENING}{platform}:{buyer_id}"
    if len(ref) > 100:
        ref = f"{OPENING}{platform}:#{hashlib.sha1(buyer_id.encode()).hexdigest()}"
    return ref


def members_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    tenant = require_tenant()
    result = {"created": 0, "updated": 0, "unchanged": 0, "errors": []}
    levels = {lv.name: lv for lv in MemberLevel.objects.all()}
    keys = {(r["platform"], r["buyer_id"]) for r in rows}
    idents = {(i.platform, i.buyer_id): i for i in MemberIdentity.objects.select_related("member").filter(
        platform__in={k[0] for k in keys}, buyer_id__in={k[1] for k in keys})}
    phones = {}
    for row in rows:
        if row.get("phone"):
            phones[row["line"]] = phone_parts(row["phone"])
    hashes = {h for h, _m in phones.values() if h}
    by_phone = {}
    if hashes:
        for m in Member.objects.filter(phone_hash__in=hashes).order_by("-pk"):
            by_phone[m.phone_hash] = m.merged_into_id or m.pk
        for i in MemberIdentity.objects.filter(phone_hash__in=hashes).exclude(phone_hash__in=list(by_phone)).select_related("member").order_by("-pk"):
            by_phone[i.phone_hash] = i.member.merged_into_id or i.member_id
    refs = {_points_ref(*k): k for k in keys}
    booked = dict(PointsEntry.objects.filter(reference__in=list(refs)).values_list("reference", "amount"))
    new_members: dict[str, dict] = {}  # group key -> member values (a phone hash, else the identity key)
    openings = {o.identity_id: o for o in MemberOpening.objects.filter(identity_id__in=[i.pk for i in idents.values()])}
    written = []
    new_idents, member_changes, points = [], {}, []
    for row in rows:
        key = (row["platform"], row["buyer_id"])
        h, masked = phones.get(row["line"], ("", ""))
        level = None
        if "level" in row:
            level = levels.get(row["level"])
            if level is None:
                result["errors"].append((row["line"], "level", _("unknown level “%(name)s”; levels: %(names)s")
                                         % {"name": row["level"], "names": ", ".join(sorted(levels)) or "—"}))
                continue
        ref = _points_ref(*key)
        want_points = row.get("points")
        if ref in booked and want_points is not None and booked[ref] != want_points:
            result["errors"].append((row["line"], "points", _(
                "an opening balance of %(n)s points was imported for this buyer already; adjust the points on the "
                "member's page") % {"n": booked[ref]}))
            continue
        ident = idents.get(key)
        changed = False
        written.append(row)
        if ident is not None and _opening_from_file(row, openings.get(ident.pk)) is not None:
            changed = True
        if ident is None:
            group = h or f"{key[0]}:{key[1]}"
            if h and h in by_phone:
                group = by_phone[h]
            elif group not in new_members:
                new_members[group] = {"display_name": (row.get("name") or row["buyer_id"])[:100], "phone_hash": h,
                                      "phone_masked": masked, "level": level}
            new_idents.append((group, row, h, masked))
            result["created"] += 1
        else:
            member = ident.member
            target = member_changes.setdefault(member.pk, {"member": member})
            if row.get("name") and member.display_name != row["name"][:100]:
                target["display_name"] = row["name"][:100]
                changed = True
            if level is not None and member.level_id != level.pk:
                target["level"] = level
                changed = True
            if h and not ident.phone_hash:
                target.setdefault("identities", []).append((ident, h, masked))
                changed = True
        if want_points and ref not in booked:
            points.append((key, ref, want_points))
            booked[ref] = want_points
            changed = changed or ident is not None
        if ident is not None:
            result["updated" if changed else "unchanged"] += 1
    if not commit:
        return result
    now = timezone.now()
    made = {}
    if new_members:
        objs = [Member(tenant=tenant, level_since=now if v["level"] else None, **v) for v in new_members.values()]
        Member.objects.bulk_create(objs, batch_size=2000)
        made = dict(zip(new_members, [m.pk for m in objs], strict=True))
    ident_objs = []
    for group, row, h, masked in new_idents:
        member_id = made[group] if group in made else group
        ident_objs.append(MemberIdentity(tenant=tenant, member_id=member_id, platform=row["platform"], buyer_id=row["buyer_id"],
                                         receiver_name=(row.get("name") or "")[:100], phone_hash=h, phone_masked=masked,
                                         matched_by="phone" if group not in made and h else "new",
                                         first_seen_at=now, last_seen_at=now))
    if ident_objs:
        MemberIdentity.objects.bulk_create(ident_objs, batch_size=2000)
    changed_members, changed_idents = [], []
    for values in member_changes.values():
        member = values["member"]
        if "display_name" in values:
            member.display_name = values["display_name"]
        if "level" in values:
            member.level, member.level_since, member.below_level_since = values["level"], now, None
        if len(values) > 1:
            changed_members.append(member)
        for ident, h, masked in values.get("identities", []):
            ident.phone_hash, ident.phone_masked = h, masked
            changed_idents.append(ident)
    if changed_members:
        Member.objects.bulk_update(changed_members, ["display_name", "level", "level_since", "below_level_since"])
    if changed_idents:
        MemberIdentity.objects.bulk_update(changed_idents, ["phone_hash", "phone_masked"])
    entries = _book_points(tenant, points, options) if points else []
    opened, refreshed = _book_openings(written, options)
    result["changes"] = {
        Member._meta.label_lower: {"created": list(made.values()),
                                   "updated": sorted({m.pk for m in changed_members} | set(refreshed) - set(made.values()))},
        MemberIdentity._meta.label_lower: {"created": [i.pk for i in ident_objs], "updated": [i.pk for i in changed_idents]},
        PointsEntry._meta.label_lower: {"created": [e.pk for e in entries]},
        MemberOpening._meta.label_lower: opened,
    }
    return result


LIFETIME = ("lifetime_spend", "order_count", "first_order_at", "last_order_at")


def _opening_from_file(row: dict, stored) -> tuple | None:
    """The (paid, orders, first, last) the row's lifetime columns ask for (a blank cell keeps the
    stored figure), or None when the row has none or they are already stored."""
    if not any(k in row for k in LIFETIME):
        return None
    from_file = stored is not None and stored.source == OpeningSource.FILE
    old = (stored.paid_amount, stored.order_count, stored.first_order_at, stored.last_order_at) if from_file else (
        ZERO, 0, None, None)
    want = tuple(row.get(k, old[i]) for i, k in enumerate(LIFETIME))
    return None if from_file and want == old else want


def _upsert_openings(tenant, wanted: dict[int, tuple], source: str, options, *, stored=(), into=None) -> None:
    """Book the opening histories (identity id -> figures); ``into`` collects their row ids by
    action ("created" unless the identity had one in ``stored``)."""
    if wanted:
        made = MemberOpening.objects.bulk_create(
            [MemberOpening(tenant=tenant, identity_id=ident_id, source=source, paid_amount=v[0], order_count=v[1],
                           first_order_at=v[2], last_order_at=v[3], reference=options.get("source", "")[:100])
             for ident_id, v in wanted.items()],
            update_conflicts=True, unique_fields=["tenant", "identity"],
            update_fields=["source", "paid_amount", "order_count", "first_order_at", "last_order_at", "reference",
                           "updated_at"], batch_size=2000)
        if into is not None:
            for o in made:
                into["updated" if o.identity_id in stored else "created"].append(o.pk)


def _identities(keys) -> dict[tuple[str, str], tuple[int, int]]:
    """{(platform, buyer id): (identity id, member id)} of these keys, one query (on PostgreSQL the
    buyer ids go as one text parameter: thousands of placeholders cost more than the query)."""
    keys = set(keys)
    if not keys:
        return {}
    buyers = sorted({k[1] for k in keys})
    joined = "\x1f".join(buyers)
    if connection.vendor == "postgresql" and joined.count("\x1f") == len(buyers) - 1:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, platform, buyer_id, member_id FROM {MemberIdentity._meta.db_table} "
                           "WHERE tenant_id = %s AND buyer_id = ANY(string_to_array(%s, E'\\x1f'))",
                           [require_tenant().pk, joined])
            found = cursor.fetchall()
    else:
        found = MemberIdentity.objects.filter(platform__in={k[0] for k in keys}, buyer_id__in=buyers).values_list(
            "pk", "platform", "buyer_id", "member_id")
    return {(p, b): (pk, m) for pk, p, b, m in found if (p, b) in keys}


def _history_openings(idents: dict, openings: dict) -> dict[int, tuple]:
    """For identities without figures from a members file: their imported historical orders
    (orders.selectors through members.ports), when they differ from what is booked."""
    from .. import ports

    open_keys = [k for k, (pk, _m) in idents.items() if getattr(openings.get(pk), "source", None) != OpeningSource.FILE]
    if not open_keys:
        return {}
    totals = ports.historical_buyer_totals(keys=open_keys)
    wanted = {}
    for key in open_keys:
        pk = idents[key][0]
        if key not in totals:
            continue
        paid, n, first, last = totals[key]
        want = (paid or ZERO, n or 0, first, last)
        o = openings.get(pk)
        if o is None or (o.paid_amount, o.order_count, o.first_order_at, o.last_order_at) != want:
            wanted[pk] = want
    return wanted


def _book_openings(rows: list[dict], options) -> tuple[dict, list[int]]:
    """The rows' purchase history before this system: the file's lifetime columns (source
    "file"), else the buyer's imported historical orders (source "orders"); then the members'
    totals, level and points re-derived set-based (members_refresh_many: unchanged members are not
    written). Returns the openings' row ids by action and the ids of the members re-derived."""
    if not rows:
        return {}, []
    tenant = require_tenant()
    idents = _identities({(r["platform"], r["buyer_id"]) for r in rows})
    openings = {o.identity_id: o for o in MemberOpening.objects.filter(identity_id__in=[pk for pk, _m in idents.values()])}
    from_file = {}
    for row in rows:
        pk = idents.get((row["platform"], row["buyer_id"]), (None, None))[0]
        want = _opening_from_file(row, openings.get(pk)) if pk else None
        if want is not None:
            from_file[pk] = want
    stored = set(openings)
    opened = {"created": [], "updated": []}
    _upsert_openings(tenant, from_file, OpeningSource.FILE, options, stored=stored, into=opened)
    for pk in from_file:
        openings[pk] = MemberOpening(identity_id=pk, source=OpeningSource.FILE)
    _upsert_openings(tenant, _history_openings(idents, openings), OpeningSource.ORDERS, options, stored=stored, into=opened)
    return opened, members_refresh_many(member_ids={m for _pk, m in idents.values()})


def historical_orders_feed(*, posted: dict, options: dict) -> dict | None:
    """After a batch of historical orders: the buyers whose orders were written, if they are
    members already, get their opening history from the imported orders (unless a members file
    gave their figures) and their totals, level and points re-derived. Buyers who are not members
    yet get theirs when a members file brings them in. Returns the rows it changed (the job's
    history)."""
    keys = {tuple(b) for b in posted.get("buyers", [])}
    if not keys:
        return None
    idents = _identities(keys)
    if not idents:
        return None
    openings = {o.identity_id: o for o in MemberOpening.objects.filter(identity_id__in=[pk for pk, _m in idents.values()])}
    wanted = _history_openings(idents, openings)
    opened = {"created": [], "updated": []}
    _upsert_openings(require_tenant(), wanted, OpeningSource.ORDERS, options, stored=set(openings), into=opened)
    refreshed = members_refresh_many(member_ids={m for pk, m in idents.values() if pk in wanted}) if wanted else []
    return {MemberOpening._meta.label_lower: opened, Member._meta.label_lower: {"updated": refreshed}}


def members_after_import(*, options: dict) -> None:
    """Once a members or historical orders file is committed: RFM scores and segments again, with
    the imported history."""
    members_recompute_rfm()


def _book_points(tenant, points, options) -> list:
    keys = {k for k, _r, _n in points}
    member_of = {(i.platform, i.buyer_id): (i.member.merged_into_id or i.member_id) for i in MemberIdentity.objects.select_related(
        "member").filter(platform__in={k[0] for k in keys}, buyer_id__in={k[1] for k in keys})}
    entries = [PointsEntry(tenant=tenant, member_id=member_of[k], kind=PointsKind.ADJUST, amount=n, reference=ref,
                           note=_("opening balance (import %(ref)s)") % {"ref": options.get("source", "")},
                           actor_id=options.get("user_id")) for k, ref, n in points]
    PointsEntry.objects.bulk_create(entries, batch_size=2000)
    added = defaultdict(int)
    for entry in entries:
        added[entry.member_id] += entry.amount
    members = list(Member.objects.filter(pk__in=list(added)).only("pk", "points_balance"))
    for m in members:
        m.points_balance += added[m.pk]
    Member.objects.bulk_update(members, ["points_balance"], batch_size=2000)
    return entries


def members_reconcile(*, rows: list[dict], options: dict) -> dict:
    keys = {(r["platform"], r["buyer_id"]) for r in rows}
    found = set(MemberIdentity.objects.filter(platform__in={k[0] for k in keys}, buyer_id__in={k[1] for k in keys})
                .values_list("platform", "buyer_id"))
    refs = [_points_ref(*k) for k in keys]
    booked = dict(PointsEntry.objects.filter(reference__in=refs).values_list("reference", "amount"))
    with_history = {(r["platform"], r["buyer_id"]) for r in rows if "lifetime_spend" in r or "order_count" in r}
    with_spend = {(r["platform"], r["buyer_id"]) for r in rows if "lifetime_spend" in r}
    spend, orders = ZERO, 0
    if with_history:
        idents = _identities(with_history)
        stored = {o.identity_id: o for o in MemberOpening.objects.filter(
            identity_id__in=[pk for pk, _m in idents.values()], source=OpeningSource.FILE)}
        for key, (pk, _m) in idents.items():
            if pk in stored:
                orders += stored[pk].order_count
                spend += stored[pk].paid_amount if key in with_spend else ZERO
    return {"rows": len(keys & found),
            "points": sum(booked.get(_points_ref(r["platform"], r["buyer_id"]), 0) for r in rows if r.get("points")),
            "lifetime_spend": spend, "order_count": orders}
