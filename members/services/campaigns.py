"""Campaigns: a coupon template sent to a segment of members through channels (platforms, the own
shop), scheduled, sent in batches in the background, with a random holdout group.

- The audience (selectors.campaign_audience) is frozen into CampaignRecipient rows when sending
  starts: one row per member and campaign (the unique constraint makes a resend harmless). Members
  who opted out, or who already received the cap of campaigns in the cap period (MemberSettings),
  are recorded and left out before the holdout is drawn.
- The holdout is ``holdout_percent`` of the eligible members, drawn with ``random.Random(seed)``
  over the member ids in order: the same campaign always draws the same group. Holdout members get
  nothing.
- Each batch re-checks opt-out and the cap under the member's row lock (two campaigns sending at
  once never push a member beyond the cap), issues the coupon with the campaign as issue reference
  (idempotent in coupon_issue) and records the channel and buyer it goes out on. The own web shop
  reads the member's open coupons through the channel API (/api/v1/members/coupons/benefits/).
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict

from ..models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    CouponTemplate,
    Member,
    MemberIdentity,
    Platform,
    RecipientStatus,
    Segment,
)
from .common import member_settings

CRITERIA = ("segment", "level_rank", "platform", "no_purchase_days", "purchased_within_days", "sku_code", "channels")
FIELDS = ("name", *CRITERIA, "template", "holdout_percent", "scheduled_at", "note")
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
BATCH = 200


def _days(value, field, errors):
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        errors[field] = [_("A whole number of days from 1 to 3650, or empty.")]
        return None
    return value


def clean_criteria(data: dict) -> dict:
    """The segment and channels of a campaign (a dict with CRITERIA keys), checked; ValidationError with
    field errors otherwise."""
    errors: dict = {}
    out = {}
    segment = (data.get("segment") or "").strip()
    if segment and segment not in Segment.values:
        errors["segment"] = [_("One of: %(values)s.") % {"values": ", ".join(Segment.values)}]
    out["segment"] = segment
    rank = data.get("level_rank")
    if rank in ("", None):
        rank = None
    elif isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= 1000:
        errors["level_rank"] = [_("A level rank (1 or more), or empty.")]
        rank = None
    out["level_rank"] = rank
    platform = (data.get("platform") or "").strip()
    if platform and platform not in Platform.values:
        errors["platform"] = [_("One of: %(values)s.") % {"values": ", ".join(Platform.values)}]
    out["platform"] = platform
    out["no_purchase_days"] = _days(data.get("no_purchase_days"), "no_purchase_days", errors)
    out["purchased_within_days"] = _days(data.get("purchased_within_days"), "purchased_within_days", errors)
    if (out["no_purchase_days"] and out["purchased_within_days"]
            and out["purchased_within_days"] <= out["no_purchase_days"]):
        errors["purchased_within_days"] = [_("Bought within N days must be more days than 'no purchase for'.")]
    sku = str(data.get("sku_code") or "").strip()
    if len(sku) > 128:
        errors["sku_code"] = [_("Up to 128 characters.")]
    out["sku_code"] = sku
    channels = data.get("channels")
    if isinstance(channels, str):
        channels = [c for c in channels.replace(" ", "").split(",") if c]
    if not isinstance(channels, list | tuple) or not channels:
        errors["channels"] = [_("One or more channels: %(values)s.") % {"values": ", ".join(Platform.values)}]
    elif any(c not in Platform.values for c in channels):
        errors["channels"] = [_("One or more channels: %(values)s.") % {"values": ", ".join(Platform.values)}]
    else:
        out["channels"] = list(dict.fromkeys(channels))
    if errors:
        raise ValidationError(errors)
    return out


def _clean(data: dict, *, campaign: Campaign | None = None) -> dict:
    errors: dict = {}
    try:
        out = clean_criteria(data)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        out = {}
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [_("A name, up to 100 characters.")]
    elif Campaign.objects.filter(name=name).exclude(pk=getattr(campaign, "pk", None)).exists():
        errors["name"] = [_("Another campaign has this name.")]
    out["name"] = name
    template = data.get("template")
    if isinstance(template, CouponTemplate):
        template = template.pk
    found = None
    if isinstance(template, int) and not isinstance(template, bool):
        found = CouponTemplate.objects.filter(pk=template).first()
    if found is None:
        errors["template"] = [_("A coupon template.")]
    elif not found.active:
        errors["template"] = [_("This coupon template is not active.")]
    out["template"] = found
    pct = data.get("holdout_percent", 10)
    if isinstance(pct, bool) or not isinstance(pct, int) or not 0 <= pct <= 90:
        errors["holdout_percent"] = [_("A whole percent from 0 to 90.")]
    out["holdout_percent"] = pct
    when = data.get("scheduled_at")
    if when is not None and not isinstance(when, datetime):
        errors["scheduled_at"] = [_("A date and time.")]
    out["scheduled_at"] = when
    out["note"] = str(data.get("note") or "")[:2000]
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def campaign_create(*, actor=None, **fields) -> Campaign:
    """A draft campaign (400 with field errors on bad input)."""
    data = _clean({k: fields.get(k) for k in FIELDS if k in fields})
    return Campaign.objects.create(**data, seed=secrets.randbits(48) + 1,
                                   created_by=actor if getattr(actor, "pk", None) else None)


@transaction.atomic
def campaign_update(*, campaign_id: int, **fields) -> Campaign:
    """Change a draft or scheduled campaign (409 once sending started)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(_("This campaign is %(status)s: it can no longer be changed.")
                       % {"status": campaign.get_status_display()})
    current = {k: getattr(campaign, k) for k in FIELDS}
    current["template"] = campaign.template_id
    current.update({k: fields[k] for k in FIELDS if k in fields})
    data = _clean(current, campaign=campaign)
    for key, value in data.items():
        setattr(campaign, key, value)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_delete(*, campaign_id: int) -> None:
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(_("Only a draft or scheduled campaign can be deleted; cancel it instead."))
    campaign.delete()


@transaction.atomic
def campaign_schedule(*, campaign_id: int, scheduled_at: datetime | None = None) -> Campaign:
    """Schedule a draft (or move a scheduled one); no time: now. The beat tick starts it when due;
    sending now is also enqueued at once (after commit)."""
    from .. import tasks

    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status not in EDITABLE:
        raise Conflict(_("This campaign is %(status)s.") % {"status": campaign.get_status_display()})
    if not campaign.template.active:
        raise Conflict(_("This coupon template is not active."))
    now = timezone.now()
    campaign.scheduled_at = scheduled_at or now
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save(update_fields=["scheduled_at", "status", "updated_at"])
    if campaign.scheduled_at <= now:
        tenant_id, pk = campaign.tenant_id, campaign.pk
        transaction.on_commit(lambda: tasks.campaign_send.delay(tenant_id=tenant_id, campaign_id=pk))
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign_id: int) -> Campaign:
    """Stop a campaign: a draft or scheduled one never sends; a sending one sends no further batch
    (coupons already sent stay). Cancelling twice changes nothing; a sent campaign is a 409."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status == CampaignStatus.CANCELLED:
        return campaign
    if campaign.status == CampaignStatus.SENT:
        raise Conflict(_("This campaign was sent already."))
    campaign.status = CampaignStatus.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


def _cap() -> tuple[int, int]:
    row = member_settings()
    return row.campaign_cap_count, row.campaign_cap_days


def _capped_ids(member_ids, *, now, exclude_campaign_id: int) -> set[int]:
    """Members that already received the cap of campaigns within the cap period."""
    from django.db.models import Count

    cap, days = _cap()
    if not cap or not member_ids:
        return set()
    rows = (CampaignRecipient.objects.filter(member_id__in=list(member_ids), status=RecipientStatus.SENT,
                                             processed_at__gte=now - timedelta(days=days))
            .exclude(campaign_id=exclude_campaign_id).order_by().values("member_id").annotate(n=Count("id"))
            .filter(n__gte=cap).values_list("member_id", flat=True))
    return set(rows)


def draw_holdout(member_ids: list[int], *, seed: int, percent: int) -> set[int]:
    """The holdout: ``percent`` of the members (rounded), drawn reproducibly from the seed."""
    ordered = sorted(member_ids)
    size = round(len(ordered) * percent / 100)
    return set(random.Random(seed).sample(ordered, size)) if size else set()


@transaction.atomic
def campaign_start(*, campaign_id: int, now=None) -> Campaign:
    """Freeze a due scheduled campaign's audience into recipients (opted-out and capped members
    recorded as such, the holdout drawn) and mark it sending. Anything else is left as it is."""
    from ..selectors import campaign_audience

    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != CampaignStatus.SCHEDULED or (campaign.scheduled_at and campaign.scheduled_at > now):
        return campaign
    audience = campaign_audience(**{k: getattr(campaign, k) for k in CRITERIA}, now=now)
    rows = list(audience.values_list("pk", "marketing_opt_out"))
    opted = {pk for pk, out in rows if out}
    capped = _capped_ids([pk for pk, out in rows if not out], now=now, exclude_campaign_id=campaign.pk)
    eligible = [pk for pk, out in rows if not out and pk not in capped]
    holdout = draw_holdout(eligible, seed=campaign.seed, percent=campaign.holdout_percent)

    def row(pk):
        if pk in opted:
            return CampaignRecipient(tenant_id=campaign.tenant_id, campaign=campaign, member_id=pk, status=RecipientStatus.OPTED_OUT,
                                     processed_at=now)
        if pk in capped:
            return CampaignRecipient(tenant_id=campaign.tenant_id, campaign=campaign, member_id=pk, status=RecipientStatus.CAPPED, processed_at=now)
        if pk in holdout:
            return CampaignRecipient(tenant_id=campaign.tenant_id, campaign=campaign, member_id=pk, holdout=True, status=RecipientStatus.HOLDOUT,
                                     processed_at=now)
        return CampaignRecipient(tenant_id=campaign.tenant_id, campaign=campaign, member_id=pk)

    CampaignRecipient.objects.bulk_create([row(pk) for pk, _out in rows], batch_size=1000, ignore_conflicts=True)
    campaign.status = CampaignStatus.SENDING
    campaign.started_at = now
    campaign.n_audience = len(rows)
    campaign.n_holdout = len(holdout)
    campaign.n_skipped = len(opted) + len(capped)
    if not eligible or len(holdout) == len(eligible):
        campaign.status, campaign.sent_at = CampaignStatus.SENT, now
    campaign.save()
    return campaign


def _channel_buyers(member_ids: list[int], channels: list[str]) -> dict[int, tuple[str, str]]:
    """{root member id: (channel, buyer id)} on the first of the channels where its group has a buyer."""
    roots = dict(Member.objects.filter(merged_into_id__in=member_ids).values_list("pk", "merged_into_id"))
    rank = {c: i for i, c in enumerate(channels)}
    best: dict[int, tuple[int, str, str]] = {}
    rows = MemberIdentity.objects.filter(member_id__in=[*member_ids, *roots], platform__in=channels).order_by(
        "-last_seen_at", "pk").values_list("member_id", "platform", "buyer_id")
    for member_id, platform, buyer in rows:
        root = roots.get(member_id, member_id)
        key = (rank[platform], platform, buyer)
        if root not in best or key[0] < best[root][0]:
            best[root] = key
    return {root: (p, b) for root, (_r, p, b) in best.items()}


def campaign_send_batch(*, campaign_id: int, size: int = BATCH, now=None) -> int:
    """Send the next batch of a sending campaign; answers how many recipients are still pending (0
    when done or when the campaign is not sending)."""
    from .coupons import coupon_issue

    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().select_related("template").get(pk=campaign_id)
        if campaign.status != CampaignStatus.SENDING:
            return 0
        batch = list(CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING)
                     .order_by("pk")[:size])
        ids = [r.member_id for r in batch]
        members = {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        capped = _capped_ids(ids, now=now, exclude_campaign_id=campaign.pk)
        buyers = _channel_buyers(ids, list(campaign.channels))
        counts = {"n_sent": 0, "n_skipped": 0, "n_failed": 0}
        for r in batch:
            member = members.get(r.member_id)
            r.processed_at = now
            if member is None or member.marketing_opt_out:
                r.status, key = RecipientStatus.OPTED_OUT, "n_skipped"
            elif r.member_id in capped:
                r.status, key = RecipientStatus.CAPPED, "n_skipped"
            elif r.member_id not in buyers:
                r.status, key = RecipientStatus.NO_CHANNEL, "n_skipped"
            else:
                r.channel, r.buyer_id = buyers[r.member_id]
                try:
                    with transaction.atomic():
                        r.coupon = coupon_issue(template_id=campaign.template_id, member_id=r.member_id,
                                                issue_ref=campaign.issue_ref, note=campaign.name[:300])
                    r.status, key = RecipientStatus.SENT, "n_sent"
                    r.detail = ""
                except (Conflict, ValidationError) as exc:
                    r.status, key = RecipientStatus.FAILED, "n_failed"
                    r.detail = str(getattr(exc, "detail", None) or exc)[:300]
            counts[key] += 1
        _deliver(campaign, [r for r in batch if r.status == RecipientStatus.SENT and r.coupon is not None])
        CampaignRecipient.objects.bulk_update(batch, ["status", "channel", "buyer_id", "coupon", "detail",
                                                      "processed_at"])
        remaining = CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.PENDING).count()
        update = {k: F(k) + v for k, v in counts.items()}
        if not remaining:
            update.update(status=CampaignStatus.SENT, sent_at=now)
        Campaign.objects.filter(pk=campaign.pk).update(**update, updated_at=now)
        return remaining


def _deliver(campaign: Campaign, sent: list[CampaignRecipient]) -> None:
    """Queue the batch's coupons for delivery to their buyers (integrations, in this transaction: the
    coupon id is the delivery's key, so a batch run again never sends a coupon twice)."""
    from .. import ports

    if not sent:
        return
    template = campaign.template
    status = ports.coupon_deliver(deliveries=[{
        "coupon_id": r.coupon.pk, "code": r.coupon.code, "platform": r.channel, "buyer_id": r.buyer_id,
        "title": template.name, "kind": template.kind, "amount_off": template.amount_off,
        "percent_off": template.percent_off, "threshold": template.threshold, "currency": r.coupon.currency,
        "valid_from": r.coupon.valid_from, "valid_until": r.coupon.valid_until} for r in sent])
    for r in sent:
        if status.get(r.coupon.pk) == "pending":
            r.detail = _("Delivery to %(channel)s queued.") % {"channel": r.channel}


def _delivered(*, coupon_id: int, status: str, error: str = "", platform_coupon_id: str = "") -> int:
    """A delivery is done (integrations' ``platform_coupon.delivered``): its recipients say so; a
    delivery given up turns the recipient failed (and back to sent when a retry delivers it)."""
    rows = list(CampaignRecipient.objects.select_for_update().filter(coupon_id=coupon_id))
    for r in rows:
        if status == "sent":
            r.detail = (_("Delivered (platform coupon %(id)s).") % {"id": platform_coupon_id} if platform_coupon_id
                        else _("Delivered."))
            if r.status == RecipientStatus.FAILED:
                r.status = RecipientStatus.SENT
                Campaign.objects.filter(pk=r.campaign_id).update(n_sent=F("n_sent") + 1, n_failed=F("n_failed") - 1)
        else:
            r.detail = (_("Delivery failed: %(error)s") % {"error": error})[:300]
            if r.status == RecipientStatus.SENT:
                r.status = RecipientStatus.FAILED
                Campaign.objects.filter(pk=r.campaign_id).update(n_sent=F("n_sent") - 1, n_failed=F("n_failed") + 1)
        r.save(update_fields=["status", "detail"])
    return len(rows)


@transaction.atomic
def campaign_retry_deliveries(*, campaign_id: int) -> int:
    """Send the campaign's given-up coupon deliveries again (same request ids: never a second coupon)."""
    from .. import ports

    coupon_ids = list(CampaignRecipient.objects.filter(campaign_id=campaign_id, status=RecipientStatus.FAILED,
                                                       coupon__isnull=False).values_list("coupon_id", flat=True))
    return ports.coupon_delivery_retry(coupon_ids=coupon_ids) if coupon_ids else 0


def campaign_run(*, campaign_id: int, max_batches: int = 50, size: int = BATCH) -> int:
    """Start a due campaign and send up to ``max_batches`` batches (each its own transaction, so the
    progress shows between them); answers the recipients still pending."""
    campaign_start(campaign_id=campaign_id)
    remaining = 0
    for _i in range(max_batches):
        remaining = campaign_send_batch(campaign_id=campaign_id, size=size)
        if not remaining:
            break
    return remaining


@transaction.atomic
def member_set_opt_out(*, member_id: int, opt_out: bool) -> Member:
    """A member's marketing opt-out (its root's, when merged): campaigns skip it from then on."""
    from .common import _get_member

    member = _get_member(member_id)
    root = _get_member(member.merged_into_id or member.pk, lock=True)
    if root.marketing_opt_out != bool(opt_out):
        root.marketing_opt_out = bool(opt_out)
        root.marketing_opt_out_at = timezone.now() if opt_out else None
        root.save(update_fields=["marketing_opt_out", "marketing_opt_out_at", "updated_at"])
    return root
