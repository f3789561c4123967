"""Operator pages of members: the list with filters and segment / level counts, and a member's
detail with identities, level, points ledger, orders and merges, plus forms to adjust or redeem
points, merge another member in and undo a merge."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.views_helpers import error_text, keyset_page, tenant_page

from . import ports, selectors, services
from .models import CouponTemplate, Member, MemberLevel, Platform, Reward, Segment
from .services import campaigns as campaign_services
from .services import rewards as reward_services

PAGE = 50



@tenant_page(app_label="members")
def member_list(request):
    errors = ""
    try:
        qs, applied = selectors.member_filter(Member.objects.all(), request.GET)
    except ValidationError as exc:
        errors = error_text(exc)
        qs, applied = Member.objects.none(), {}
    page = keyset_page(request, qs.select_related("level"), size=PAGE)
    rows, next_url, params = page.rows, page.next_url, page.params
    counts = selectors.segment_counts()
    context = {
        "members": rows, "next_url": next_url, "applied": applied, "params": params, "errors": errors,
        "segment_counts": [(value, label, counts.get(value, 0)) for value, label in Segment.choices],
        "no_segment": counts.get("", 0), "level_counts": selectors.level_counts(),
        "segments": Segment.choices, "platforms": Platform.choices, "levels": MemberLevel.objects.order_by("rank"),
    }
    return render(request, "members/list.html", context)


# the member page's form fields a refusal may name
MEMBER_FORM_LABELS = {"amount": gettext_lazy("Points"), "reason": gettext_lazy("Reason"),
                      "reward": gettext_lazy("Reward"), "reference": gettext_lazy("Reference (optional)"),
                      "source": gettext_lazy("Merge member # into this one")}

# how an identity was matched to its member (MemberIdentity.matched_by), as the member page shows it
MATCHED_BY = {"new": gettext_lazy("first seen (new member)"), "buyer_id": gettext_lazy("same buyer id"),
              "phone": gettext_lazy("same phone"), "manual": gettext_lazy("merged by hand")}


@tenant_page(app_label="members")
def member_detail(request, pk):
    member = Member.objects.select_related("level", "merged_into").filter(pk=pk).first()
    if member is None:
        raise Http404
    orders = list(selectors.member_orders(member))
    snaps = ports.order_snapshots_or_empty(order_ids=[o.order_id for o in orders])
    platforms = dict(Platform.choices)
    for o in orders:
        o.platform_label = platforms.get(o.platform, o.platform)
    identities = list(selectors.member_identities(member))
    for i in identities:
        i.matched_by_label = MATCHED_BY.get(i.matched_by, i.matched_by)
    context = {
        "member": member, "identities": identities,
        "ledger": list(selectors.member_ledger(member)),
        "orders": [(o, snaps.get(o.order_id)) for o in orders], "summary": selectors.member_orders_summary(member),
        "merges": list(selectors.member_merges(member)), "merged_members": list(member.merged.order_by("pk")),
        "rewards": list(selectors.reward_rows(active_only=True)),
        "redemptions": list(selectors.member_redemptions(member)),
    }
    return render(request, "members/detail.html", context)


@tenant_page(app_label="members", write=True)
@require_POST
def member_action(request, pk):
    action = request.POST.get("action", "")
    post = request.POST
    funcs = {
        "adjust": lambda: services.points_adjust(member_id=pk, amount=post.get("amount", ""), reason=post.get("reason", ""),
                                                 actor=request.user),
        "redeem": lambda: services.points_redeem(member_id=pk, amount=post.get("amount", ""), reason=post.get("reason", ""),
                                                 actor=request.user),
        "merge": lambda: services.member_merge(
            target_id=pk, source_id=int(post["source"]) if post.get("source", "").isdigit() else 0, actor=request.user,
            note=post.get("reason", ""), allow_different_phones=post.get("allow_different_phones") == "1"),
        "unmerge": lambda: services.member_unmerge(member_id=pk, actor=request.user),
        "opt_out": lambda: campaign_services.member_set_opt_out(member_id=pk, opt_out=post.get("opt_out") == "1"),
        "redeem_reward": lambda: reward_services.points_redeem_reward(
            member_id=pk, reward_id=_form_id(post.get("reward"), "reward"), reference=post.get("reference", ""),
            actor=request.user),
        "cancel_gift": lambda: reward_services.gift_cancel(redemption_id=_own_redemption(pk, post.get("redemption")),
                                                           actor=request.user),
    }
    if action not in funcs:
        messages.error(request, _("Unknown action."))
    else:
        try:
            result = funcs[action]()
            if action == "redeem_reward":
                gave = (_("coupon %(code)s") % {"code": result.coupon.code} if result.coupon_id
                        else _("%(sku)s × %(n)s on the next order") % {"sku": result.gift_sku_code, "n": result.gift_quantity})
                messages.success(request, _("%(reward)s redeemed for %(points)s points: %(gave)s.") % {
                    "reward": result.reward.name, "points": result.points, "gave": gave})
            else:
                messages.success(request, _("Done."))
        except (Conflict, ValidationError, Http404) as exc:
            messages.error(request, error_text(exc, labels=MEMBER_FORM_LABELS) if not isinstance(exc, Http404)
                           else _("No such member."))
    return redirect("members:detail", pk=pk)


def _form_id(value, field: str) -> int:
    value = (value or "").strip()
    if not value.isdigit() or len(value) > 18:
        raise ValidationError({field: [_("Choose one.")]})
    return int(value)


def _own_redemption(member_pk: int, value) -> int:
    """A redemption of this member (or of one merged into it), or a form error."""
    from .models import PointsRedemption

    red_id = _form_id(value, "redemption")
    member = Member.objects.filter(pk=member_pk).first()
    if member is None or not PointsRedemption.objects.filter(
            pk=red_id, member_id__in=selectors.member_group_ids(member)).exists():
        raise ValidationError({"redemption": [_("No such redemption for this member.")]})
    return red_id


@tenant_page(app_label="members")
def reward_list(request):
    """The points catalogue: coupons of a template and gift SKUs at a points price, editable here."""
    from .models import CouponTemplate, RewardKind

    context = {"rewards": list(selectors.reward_rows()), "kinds": RewardKind.choices,
               "templates": CouponTemplate.objects.filter(active=True).order_by("name"),
               "levels": MemberLevel.objects.order_by("rank")}
    return render(request, "members/rewards.html", context)


@tenant_page(app_label="members", write=True)
@require_POST
def reward_action(request):
    """The catalogue page's forms: add a reward, change one (price, active), set a level's gift."""
    post = request.POST
    action = post.get("action", "")
    try:
        if action == "add":
            template = (post.get("template") or "").strip()
            reward_services.reward_create(
                name=post.get("name", ""), kind=post.get("kind", ""), points_price=post.get("points_price", ""),
                template_id=int(template) if template.isdigit() and len(template) < 18 else None,
                gift_sku_code=post.get("gift_sku_code", ""), gift_quantity=post.get("gift_quantity") or "1",
                description=post.get("description", ""))
            messages.success(request, _("Reward added."))
        elif action == "update":
            reward_services.reward_update(reward_id=_form_id(post.get("reward"), "reward"),
                                          points_price=post.get("points_price", ""), active=post.get("active") == "1")
            messages.success(request, _("Reward changed."))
        elif action == "level_gift":
            reward_services.level_set_gift(level_id=_form_id(post.get("level"), "level"),
                                           gift_sku_code=post.get("gift_sku_code", ""),
                                           gift_quantity=post.get("gift_quantity") or "1")
            messages.success(request, _("Level gift saved."))
        else:
            messages.error(request, _("Unknown action."))
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc, model=Reward))
    return redirect("members:rewards")


@tenant_page(app_label="members", write=True)
@require_POST
def recompute_segments(request):
    services.members_recompute_rfm()
    messages.success(request, _("Segments recomputed."))
    return redirect("members:list")


def _page_int(value, field: str, errors: dict, *, required: bool = True):
    value = (value or "").strip()
    if not value:
        if required:
            errors[field] = [_("Required.")]
        return None
    if not value.isdigit() or len(value) > 9:
        errors[field] = [_("A whole number.")]
        return None
    return int(value)


def _page_day(value, field: str, errors: dict):
    import datetime as dt

    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors[field] = [_("A date, e.g. 2026-12-31.")]
        return None


# the coupon page's form fields a refusal may name that are not CouponTemplate fields
COUPON_FORM_LABELS = {"valid_until": gettext_lazy("Valid until (last day)"), "valid_days": gettext_lazy("Days after issue"),
                      "per_member_limit": gettext_lazy("Per member"), "template": gettext_lazy("Template"),
                      "member": gettext_lazy("Member #"), "issue_ref": gettext_lazy("Reference (campaign)")}


@tenant_page(app_label="members")
def coupon_list(request):
    """Coupon templates with their counts, the coupons issued (filtered), and forms to add a template
    and to issue a coupon."""
    from .models import Coupon, CouponKind, CouponStatus, CouponTemplate

    errors = ""
    try:
        qs, applied = selectors.coupon_filter(Coupon.objects.all(), request.GET)
    except ValidationError as exc:
        errors = error_text(exc)
        qs, applied = Coupon.objects.none(), {}
    page = keyset_page(request, qs.select_related("template", "member"), size=PAGE)
    context = {
        "templates": list(selectors.coupon_template_rows()), "coupons": page.rows, "next_url": page.next_url,
        "params": page.params, "applied": applied, "errors": errors, "statuses": CouponStatus.choices,
        "kinds": CouponKind.choices, "active_templates": CouponTemplate.objects.filter(active=True).order_by("name"),
    }
    return render(request, "members/coupons.html", context)


@tenant_page(app_label="members", write=True)
@require_POST
def coupon_action(request):
    """The coupon page's forms: add a template, issue a coupon, void one."""
    from erp.tenancy.dates import day_range

    from .services import coupons as coupon_services

    post = request.POST
    action = post.get("action", "")
    errors: dict = {}
    try:
        if action == "template":
            first = _page_day(post.get("valid_from"), "valid_from", errors)
            last = _page_day(post.get("valid_until"), "valid_until", errors)
            days = _page_int(post.get("valid_days"), "valid_days", errors, required=False)
            limit = _page_int(post.get("per_member_limit") or "1", "per_member_limit", errors)
            if errors:
                raise ValidationError(errors)
            coupon_services.coupon_template_create(
                name=post.get("name", ""), kind=post.get("kind", ""), amount_off=post.get("amount_off") or "0",
                percent_off=post.get("percent_off") or "0", max_discount=post.get("max_discount") or None,
                threshold=post.get("threshold") or "0", currency=post.get("currency") or "CNY",
                valid_from=day_range(first)[0] if first else None, valid_until=day_range(last)[1] if last else None,
                valid_days=days, per_member_limit=limit, description=post.get("description", ""))
            messages.success(request, _("Coupon template added."))
        elif action == "issue":
            template_id = _page_int(post.get("template"), "template", errors)
            member_id = _page_int(post.get("member"), "member", errors)
            if errors:
                raise ValidationError(errors)
            coupon = coupon_services.coupon_issue(template_id=template_id, member_id=member_id,
                                                  issue_ref=post.get("issue_ref", ""), actor=request.user)
            messages.success(request, _("Coupon %(code)s issued.") % {"code": coupon.code})
        elif action == "void":
            coupon_id = _page_int(post.get("coupon"), "coupon", errors)
            if errors:
                raise ValidationError(errors)
            coupon_services.coupon_void(coupon_id=coupon_id, reason=post.get("reason", ""), actor=request.user)
            messages.success(request, _("Coupon voided."))
        else:
            messages.error(request, _("Unknown action."))
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc, model=CouponTemplate, labels=COUPON_FORM_LABELS))
    except Http404:
        messages.error(request, _("No such member."))
    return redirect("members:coupons")


def _campaign_fields(post, errors: dict) -> dict:
    """A campaign's fields from the page's form (numbers checked here, the rest by the service)."""
    import datetime as dt

    from erp.tenancy.dates import tenant_zone

    fields = {
        "name": post.get("name", ""), "segment": post.get("segment", ""), "platform": post.get("platform", ""),
        "sku_code": post.get("sku_code", ""), "channels": post.getlist("channels"), "note": post.get("note", ""),
        "level_rank": _page_int(post.get("level_rank"), "level_rank", errors, required=False),
        "no_purchase_days": _page_int(post.get("no_purchase_days"), "no_purchase_days", errors, required=False),
        "purchased_within_days": _page_int(post.get("purchased_within_days"), "purchased_within_days", errors,
                                           required=False),
        "template": _page_int(post.get("template"), "template", errors),
        "holdout_percent": _page_int(post.get("holdout_percent") or "10", "holdout_percent", errors),
    }
    when = (post.get("scheduled_at") or "").strip()
    if when:
        try:
            fields["scheduled_at"] = dt.datetime.fromisoformat(when).replace(tzinfo=tenant_zone())
        except ValueError:
            errors["scheduled_at"] = [_("A date and time, e.g. 2026-12-31 09:00.")]
    return fields


@tenant_page(app_label="members")
def campaign_list(request):
    """Campaigns with their progress, a form for a new one and a preview of the segment's count."""
    from .models import Campaign, CouponTemplate

    errors, preview, form = "", None, {}
    if request.GET.get("preview") == "1":
        form = request.GET
        errs: dict = {}
        fields = _campaign_fields(request.GET, errs)
        try:
            if errs:
                raise ValidationError(errs)
            criteria = campaign_services.clean_criteria(fields)
            preview = selectors.campaign_preview(holdout_percent=fields["holdout_percent"] or 0, **criteria)
        except ValidationError as exc:
            errors = error_text(exc)
    context = {
        "campaigns": list(Campaign.objects.select_related("template").order_by("-id")[:200]), "preview": preview,
        "errors": errors, "form": form, "segments": Segment.choices, "platforms": Platform.choices,
        "levels": MemberLevel.objects.order_by("rank"),
        "templates": CouponTemplate.objects.filter(active=True).order_by("name"),
        "channels_checked": form.getlist("channels") if form else ["taobao", "own"],
    }
    return render(request, "members/campaigns.html", context)


@tenant_page(app_label="members", write=True)
@require_POST
def campaign_new(request):
    errors: dict = {}
    fields = _campaign_fields(request.POST, errors)
    try:
        if errors:
            raise ValidationError(errors)
        when = fields.pop("scheduled_at", None)
        campaign = campaign_services.campaign_create(actor=request.user, **fields)
        if request.POST.get("send") == "1":
            campaign_services.campaign_schedule(campaign_id=campaign.pk, scheduled_at=when)
        messages.success(request, _("Campaign saved."))
        return redirect("members:campaign", pk=campaign.pk)
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
    return redirect("members:campaigns")


@tenant_page(app_label="members")
def campaign_detail(request, pk):
    """A campaign: its segment, benefit and channels, the send's progress, and its effect against the
    holdout (30/60/90 days)."""
    from .models import Campaign, CampaignRecipient

    campaign = Campaign.objects.select_related("template").filter(pk=pk).first()
    if campaign is None:
        raise Http404
    effect = selectors.campaign_effect(campaign)
    chart = {
        "windows": [str(w["days"]) for w in effect],
        "treated": [w["treated"]["repurchase_rate"] for w in effect],
        "holdout": [w["holdout"]["repurchase_rate"] for w in effect],
        "redemption": [w["treated"]["redemption_rate"] for w in effect],
        "sending": campaign.status == "sending",
        "labels": {"treated": _("Treated: repurchase rate"), "holdout": _("Holdout: repurchase rate"),
                   "redemption": _("Redemption rate"), "days": _("days")},
    }
    recipients = list(CampaignRecipient.objects.filter(campaign=campaign).select_related("member", "coupon")
                      .order_by("pk")[:200])
    deliveries = selectors.campaign_recipient_deliveries(recipients)
    platforms = dict(Platform.choices)
    for r in recipients:
        r.delivery = deliveries.get(r.pk)
        r.channel_label = platforms.get(r.channel, r.channel)
    context = {"campaign": campaign, "progress": selectors.campaign_progress(campaign), "effect": effect,
               "chart": chart, "recipients": recipients,
               "channel_labels": [str(dict(Platform.choices).get(c, c)) for c in campaign.channels]}
    return render(request, "members/campaign_detail.html", context)


@tenant_page(app_label="members", write=True)
@require_POST
def campaign_action(request, pk):
    """The campaign page's buttons: schedule (or send now), cancel, retry the failed coupon deliveries."""
    from .models import Campaign

    post = request.POST
    action = post.get("action", "")
    errors: dict = {}
    try:
        if action == "schedule":
            fields = _campaign_fields(post, errors) if post.get("scheduled_at") else {}
            if "scheduled_at" in errors:
                raise ValidationError({"scheduled_at": errors["scheduled_at"]})
            campaign_services.campaign_schedule(campaign_id=pk, scheduled_at=fields.get("scheduled_at"))
            messages.success(request, _("Campaign scheduled."))
        elif action == "cancel":
            campaign_services.campaign_cancel(campaign_id=pk)
            messages.success(request, _("Campaign cancelled."))
        elif action == "retry_deliveries":
            n = campaign_services.campaign_retry_deliveries(campaign_id=pk)
            messages.success(request, _("%(n)s failed deliveries sent again.") % {"n": n})
        else:
            messages.error(request, _("Unknown action."))
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
    except Campaign.DoesNotExist:  # not in this tenant
        raise Http404 from None
    return redirect("members:campaign", pk=pk)


@tenant_page(app_label="members")
def members_dashboard(request):
    """Repurchase rate by month, overall and per RFM segment (chart and table)."""
    data = selectors.repurchase_by_month(months=12)
    labels = dict(Segment.choices)
    labels[""] = _("No segment")
    series = [{"name": str(_("All members")), "data": [m["rate"] for m in data["months"]]}]
    for seg in Segment.values:
        series.append({"name": str(labels[seg]), "data": [m["segments"][seg]["rate"] for m in data["months"]]})
    rows = [(m, [(labels[seg], m["segments"][seg]) for seg in Segment.values]) for m in data["months"]]
    chart = {"months": [m["month"] for m in data["months"]], "series": series}
    return render(request, "members/dashboard.html", {"rows": rows, "chart": chart,
                                                      "segment_labels": [labels[s] for s in Segment.values],
                                                      **_distribution_charts(labels)})


def _distribution_charts(segment_labels: dict) -> dict:
    """Members per RFM segment and per level (the member list's counts: selectors.segment_counts and
    level_counts), as tables and chart specs for static/erp/charts.js."""
    segments = [(segment_labels[value], n) for value, n in selectors.segment_counts().items()]
    levels = [(lv.name if lv else _("No level"), n) for lv, n in selectors.level_counts()]
    return {
        "segment_rows": segments, "level_rows": levels,
        "segment_chart": {"type": "pie", "categories": [str(label) for label, _n in segments],
                          "series": [{"name": _("Members"), "data": [n for _label, n in segments]}]},
        "level_chart": {"type": "bar", "categories": [str(label) for label, _n in levels], "axes": [{"name": _("Members")}],
                        "series": [{"name": _("Members"), "data": [n for _label, n in levels]}]},
    }
