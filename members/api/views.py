"""Members API (/api/v1/members/). Reads through the scoped viewsets; every change goes through
members.services: bad input answers 400 with field messages, a wrong-state action 409."""

from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from erp.api.exceptions import Conflict
from erp.api.viewsets import TenantModelViewSet, TenantReadOnlyModelViewSet, TenantSettingsViewSet
from erp.tenancy import roles

from .. import selectors, services
from ..models import (
    Campaign,
    Coupon,
    CouponTemplate,
    Member,
    MemberLevel,
    MemberSettings,
    Platform,
    PointsRedemption,
    Reward,
)
from ..services import campaigns as campaign_services
from ..services import coupons as coupon_services
from ..services import rewards as reward_services
from . import serializers as s

FILTERS = [
    OpenApiParameter("level", str, description="a level rank, or `none`"),
    OpenApiParameter("segment", str, description="an RFM segment (important_value, …), or `none`"),
    OpenApiParameter("platform", str, description="taobao | jd | pdd | own: members with a buyer there"),
    OpenApiParameter("q", str, description="name, a platform buyer id, the phone's last 4 digits, or a member id"),
    OpenApiParameter("merged", str, description="1: members merged into another (hidden by default)"),
]


class MemberViewSet(TenantReadOnlyModelViewSet):
    """Members across platforms, with their identities, points ledger and orders. Actions adjust and
    redeem points, merge another member into this one, and undo this member's merge."""

    model = Member
    serializer_class = s.MemberListSerializer
    select_related = ("level",)
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        if self.action == "list":
            queryset, _ = selectors.member_filter(queryset, self.request.query_params)
        return queryset.order_by("-id")

    def get_serializer_class(self):
        return s.MemberListSerializer if self.action == "list" else s.MemberDetailSerializer

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    def _detail(self, pk, status=200):
        member = Member.objects.select_related("level").get(pk=pk)
        return Response(s.MemberDetailSerializer(member).data, status=status)

    @extend_schema(request=s.MemberPointsAdjustSerializer, responses={201: s.PointsEntrySerializer})
    @action(detail=True, methods=["post"], url_path="adjust-points")
    def adjust_points(self, request, pk=None):
        """Add or remove points by hand, with a reason (never below zero: 409)."""
        member = self.get_object()
        data = self._input(s.MemberPointsAdjustSerializer)
        entry = services.points_adjust(member_id=member.pk, amount=data["amount"], reason=data["reason"],
                                       actor=request.user)
        return Response(s.PointsEntrySerializer(entry).data, status=201)

    @extend_schema(request=s.MemberPointsRedeemSerializer, responses={201: s.PointsEntrySerializer})
    @action(detail=True, methods=["post"], url_path="redeem-points")
    def redeem_points(self, request, pk=None):
        """Spend points (409 when the balance is short). A reference makes a retry harmless."""
        member = self.get_object()
        data = self._input(s.MemberPointsRedeemSerializer)
        entry = services.points_redeem(member_id=member.pk, amount=data["amount"], reason=data["reason"],
                                       reference=data["reference"], actor=request.user)
        return Response(s.PointsEntrySerializer(entry).data, status=201)

    @extend_schema(request=s.RedeemRewardSerializer, responses={201: s.RedemptionSerializer})
    @action(detail=True, methods=["post"], url_path="redeem-reward")
    def redeem_reward(self, request, pk=None):
        """Spend points on a catalogue reward: a coupon issued, or a gift for the member's next order.
        Not enough points: 400 (``points``). A reference makes a retry harmless."""
        member = self.get_object()
        data = self._input(s.RedeemRewardSerializer)
        red = reward_services.points_redeem_reward(member_id=member.pk, reward_id=data["reward"],
                                                   reference=data["reference"], actor=request.user)
        return Response(s.RedemptionSerializer(red).data, status=201)

    @extend_schema(responses=s.RedemptionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def redemptions(self, request, pk=None):
        """The member's points redemptions (newest first)."""
        member = self.get_object()
        return Response(s.RedemptionSerializer(selectors.member_redemptions(member), many=True).data)

    @extend_schema(request=s.MemberMergeInputSerializer, responses=s.MemberDetailSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge the member ``source`` into this one (recorded). Members with different phones need
        ``allow_different_phones``; a member already merged is a 409."""
        member = self.get_object()
        data = self._input(s.MemberMergeInputSerializer)
        services.member_merge(target_id=member.pk, source_id=data["source"], actor=request.user, note=data["note"],
                              allow_different_phones=data["allow_different_phones"])
        return self._detail(member.pk)

    @extend_schema(request=None, responses=s.MemberDetailSerializer)
    @action(detail=True, methods=["post"])
    def unmerge(self, request, pk=None):
        """Undo this member's merge into another (409 when it is not merged)."""
        member = self.get_object()
        services.member_unmerge(member_id=member.pk, actor=request.user)
        return self._detail(member.pk)

    @extend_schema(request=s.MemberOptOutSerializer, responses=s.MemberDetailSerializer)
    @action(detail=True, methods=["post"], url_path="opt-out")
    def opt_out(self, request, pk=None):
        """Set or clear the member's marketing opt-out (its root's, when merged): campaigns skip it."""
        member = self.get_object()
        data = self._input(s.MemberOptOutSerializer)
        root = campaign_services.member_set_opt_out(member_id=member.pk, opt_out=data["opt_out"])
        return self._detail(root.pk)

    @extend_schema(parameters=[OpenApiParameter("months", int, description="1 to 36 (default 12)")],
                   responses=inline_serializer("MemberRepurchase", {
                       "months": s.RepurchaseMonthSerializer(many=True),
                       "segments": drf_serializers.ListField(child=drf_serializers.CharField())}))
    @action(detail=False, methods=["get"])
    def repurchase(self, request):
        """Repurchase rate by month overall and per RFM segment: of a month's buyers, the share who had
        bought before."""
        raw = (request.query_params.get("months") or "12").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= 36:
            raise drf_serializers.ValidationError({"months": ["A whole number from 1 to 36."]})
        return Response(selectors.repurchase_by_month(months=int(raw)))

    @extend_schema(responses=inline_serializer("MemberSegments", {
        "segments": drf_serializers.DictField(child=drf_serializers.IntegerField())}))
    @action(detail=False, methods=["get"])
    def segments(self, request):
        """Members per RFM segment ("" = no orders yet)."""
        return Response({"segments": selectors.segment_counts()})

    @extend_schema(request=None, responses=inline_serializer("MemberSegmentsRecomputed", {
        "segments": drf_serializers.DictField(child=drf_serializers.IntegerField())}))
    @action(detail=False, methods=["post"], url_path="recompute-segments")
    def recompute_segments(self, request):
        """Recompute RFM scores and segments now (the nightly job does it too)."""
        services.members_recompute_rfm()
        return Response({"segments": selectors.segment_counts()})


class MemberLevelViewSet(TenantModelViewSet):
    """Member levels (会员等级): thresholds, points multiplier and benefits. Managers edit them."""

    model = MemberLevel
    serializer_class = s.MemberLevelSerializer
    write_roles = roles.MANAGERS
    filter_backends = []
    ordering = ("rank",)
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        return queryset.order_by("rank")

    def perform_create(self, serializer):
        super().perform_create(serializer)
        services.levels_changed()

    def perform_update(self, serializer):
        super().perform_update(serializer)
        services.levels_changed()

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("Members hold this level: it cannot be deleted.") from None
        services.levels_changed()


class MemberSettingsViewSet(TenantSettingsViewSet):
    """The tenant's points rate and expiry and the level downgrade policy. ``current`` reads or
    changes the one row (made with the defaults on first use); managers change it."""

    model = MemberSettings
    serializer_class = s.MemberSettingsSerializer
    write_roles = roles.MANAGERS

    def settings_row(self):
        return services.member_settings()


class CouponTemplateViewSet(TenantModelViewSet):
    """Coupon templates (优惠券模板): amount or percent off, threshold, validity window (dates and/or
    days after issue), per-member limit. Managers write; a template with coupons cannot be deleted (409)."""

    model = CouponTemplate
    serializer_class = s.CouponTemplateSerializer
    write_roles = roles.MANAGERS
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        return queryset.order_by("-id")

    def perform_create(self, serializer):
        serializer.instance = coupon_services.coupon_template_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = coupon_services.coupon_template_update(template_id=serializer.instance.pk,
                                                                     **serializer.validated_data)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("Coupons were issued from this template: deactivate it instead.") from None


COUPON_FILTERS = [
    OpenApiParameter("template", int, description="a template id"),
    OpenApiParameter("status", str, description="issued | redeemed | expired | void"),
    OpenApiParameter("member", int, description="a member id"),
    OpenApiParameter("code", str, description="a coupon code"),
]


class CouponViewSet(TenantReadOnlyModelViewSet):
    """Coupons issued to members. ``issue`` is idempotent on (template, member, issue_ref); ``redeem``
    applies a code to an order (the same order again changes nothing); ``void`` withdraws one."""

    model = Coupon
    serializer_class = s.CouponSerializer
    write_roles = roles.roles(roles.Role.OPERATOR, roles.Role.SERVICE)  # operators run the marketing
    select_related = ("template",)
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        if self.action == "list":
            queryset, _ = selectors.coupon_filter(queryset, self.request.query_params)
        return queryset.order_by("-id")

    @extend_schema(parameters=COUPON_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    @extend_schema(request=s.CouponIssueSerializer, responses={201: s.CouponSerializer})
    @action(detail=False, methods=["post"])
    def issue(self, request):
        """Issue a coupon of a template to a member (again with the same reference: the same coupon)."""
        data = self._input(s.CouponIssueSerializer)
        if not Member.objects.filter(pk=data["member"]).exists():
            raise drf_serializers.ValidationError({"member": ["No such member."]})
        coupon = coupon_services.coupon_issue(template_id=data["template"], member_id=data["member"],
                                              issue_ref=data["issue_ref"], note=data["note"], actor=request.user)
        return Response(s.CouponSerializer(coupon).data, status=201)

    @extend_schema(request=s.CouponRedeemSerializer, responses={200: s.CouponSerializer})
    @action(detail=False, methods=["post"])
    def redeem(self, request):
        """Redeem a code against an order: the discount is computed here; threshold, validity, owner
        and per-member limit are checked (409 when refused)."""
        data = self._input(s.CouponRedeemSerializer)
        if data["member"] is not None and not Member.objects.filter(pk=data["member"]).exists():
            raise drf_serializers.ValidationError({"member": ["No such member."]})
        coupon = coupon_services.coupon_redeem(code=data["code"], order_id=data["order_id"],
                                               order_amount=data["order_amount"], currency=data["currency"],
                                               member_id=data["member"])
        return Response(s.CouponSerializer(coupon).data)

    @extend_schema(request=s.CouponVoidSerializer, responses={200: s.CouponSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """Withdraw an issued coupon (409 once redeemed or expired)."""
        coupon = self.get_object()
        data = self._input(s.CouponVoidSerializer)
        coupon = coupon_services.coupon_void(coupon_id=coupon.pk, reason=data["reason"], actor=request.user)
        return Response(s.CouponSerializer(coupon).data)

    @extend_schema(parameters=[OpenApiParameter("platform", str, description="taobao | jd | pdd | own"),
                               OpenApiParameter("buyer_id", str, description="the platform buyer id")],
                   responses=s.MemberBenefitsSerializer)
    @action(detail=False, methods=["get"])
    def benefits(self, request):
        """A platform buyer's benefits: level discount, free / priority shipping, open coupons."""
        platform = (request.query_params.get("platform") or "").strip()
        buyer_id = (request.query_params.get("buyer_id") or "").strip()
        errors = {}
        if not platform and not buyer_id:  # nothing asked: no member, no benefits
            return Response({"member_id": None, "level_rank": 0, "level_name": "", "discount_percent": "0.00",
                             "free_shipping": False, "priority_shipping": False, "coupons": []})
        if platform not in Platform.values:
            errors["platform"] = ["One of: " + ", ".join(Platform.values)]
        if not buyer_id or len(buyer_id) > 128:
            errors["buyer_id"] = ["A buyer id (up to 128 characters)."]
        if errors:
            raise drf_serializers.ValidationError(errors)
        b = selectors.member_benefits(platform=platform, buyer_id=buyer_id)
        return Response({
            "member_id": b.member_id, "level_rank": b.level_rank, "level_name": b.level_name,
            "discount_percent": str(b.discount_percent), "free_shipping": b.free_shipping,
            "priority_shipping": b.priority_shipping,
            "coupons": [{"code": c, "template": t, "threshold": str(th), "currency": cur,
                         "valid_until": until.isoformat() if until else None} for c, t, th, cur, until in b.coupons]})


class CampaignViewSet(TenantModelViewSet):
    """Campaigns (营销活动): a coupon template sent to a segment of members through channels, with a
    random holdout. ``preview`` counts a segment; ``schedule`` sends at a time (or now) in the
    background; ``progress`` and ``effect`` follow it. Only drafts and scheduled campaigns change
    (409 otherwise). Operators run them."""

    model = Campaign
    serializer_class = s.CampaignSerializer
    write_roles = roles.roles(roles.Role.OPERATOR, roles.Role.SERVICE)  # as coupons: operators run the marketing
    select_related = ("template",)
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        status = (self.request.query_params.get("status") or "").strip() if self.action == "list" else ""
        if status:
            from ..models import CampaignStatus

            if status not in CampaignStatus.values:
                raise drf_serializers.ValidationError({"status": ["One of: " + ", ".join(CampaignStatus.values)]})
            queryset = queryset.filter(status=status)
        return queryset.order_by("-id")

    @extend_schema(parameters=[OpenApiParameter("status", str, description="draft | scheduled | sending | sent | "
                                                                            "cancelled")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    def _fields(self, serializer):
        data = dict(serializer.validated_data)
        if "template_id" in data:
            data["template"] = data.pop("template_id")
        return data

    def perform_create(self, serializer):
        serializer.instance = campaign_services.campaign_create(actor=self.request.user, **self._fields(serializer))

    def perform_update(self, serializer):
        serializer.instance = campaign_services.campaign_update(campaign_id=serializer.instance.pk,
                                                                **self._fields(serializer))

    def perform_destroy(self, instance):
        campaign_services.campaign_delete(campaign_id=instance.pk)

    @extend_schema(request=s.CampaignPreviewInputSerializer, responses=s.CampaignPreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """How many members these criteria reach now (matched, opted out, over the cap, to send, held out)."""
        data = dict(self._input(s.CampaignPreviewInputSerializer))
        criteria = campaign_services.clean_criteria(data)
        return Response(selectors.campaign_preview(holdout_percent=data["holdout_percent"], **criteria))

    @extend_schema(request=s.CampaignScheduleSerializer, responses=s.CampaignSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        """Schedule the campaign (no time: now); the send runs in the background."""
        campaign = self.get_object()
        data = self._input(s.CampaignScheduleSerializer)
        campaign = campaign_services.campaign_schedule(campaign_id=campaign.pk, scheduled_at=data["scheduled_at"])
        return Response(s.CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses=s.CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the campaign (a sent one: 409)."""
        campaign = self.get_object()
        campaign = campaign_services.campaign_cancel(campaign_id=campaign.pk)
        return Response(s.CampaignSerializer(campaign).data)

    @extend_schema(responses=s.CampaignProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """The send's progress: recipients processed, sent, held out, skipped, failed."""
        return Response(s.CampaignProgressSerializer(selectors.campaign_progress(self.get_object())).data)

    @extend_schema(request=None, responses=s.CampaignProgressSerializer)
    @action(detail=True, methods=["post"], url_path="retry-deliveries")
    def retry_deliveries(self, request, pk=None):
        """Send the campaign's failed coupon deliveries again (same request ids: never a second coupon)."""
        campaign = self.get_object()
        campaign_services.campaign_retry_deliveries(campaign_id=campaign.pk)
        return Response(s.CampaignProgressSerializer(selectors.campaign_progress(campaign)).data)

    @extend_schema(responses=s.CampaignEffectSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def effect(self, request, pk=None):
        """Redemption, revenue and repurchase 30/60/90 days from the send, treated against the holdout."""
        return Response(s.CampaignEffectSerializer(selectors.campaign_effect(self.get_object()), many=True).data)


class RewardViewSet(TenantModelViewSet):
    """The points catalogue (积分兑换): coupons of a template or gift SKUs at a points price. Operators
    with the members rights write; a reward already redeemed cannot be deleted (409: deactivate it)."""

    model = Reward
    serializer_class = s.RewardSerializer
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        return queryset.select_related("template").order_by("points_price", "id")

    def perform_create(self, serializer):
        serializer.instance = reward_services.reward_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = reward_services.reward_update(reward_id=serializer.instance.pk,
                                                            **serializer.validated_data)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("Members redeemed this reward: deactivate it instead.") from None


class RedemptionViewSet(TenantReadOnlyModelViewSet):
    """Points redemptions; ``cancel`` gives a gift not yet on an order back (points refunded)."""

    model = PointsRedemption
    serializer_class = s.RedemptionSerializer
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        queryset = queryset.select_related("reward", "coupon").order_by("-id")
        member = self.request.query_params.get("member", "")
        if member:
            if not member.isdigit() or len(member) > 18:
                from django.core.exceptions import ValidationError

                raise ValidationError({"member": ["A member id."]})
            queryset = queryset.filter(member_id=int(member))
        return queryset

    @extend_schema(request=None, responses=s.RedemptionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a gift still waiting for an order: the points come back (a new ledger entry)."""
        red = self.get_object()
        return Response(s.RedemptionSerializer(reward_services.gift_cancel(redemption_id=red.pk,
                                                                           actor=request.user)).data)
