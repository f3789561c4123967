from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("coupons/", views.coupon_list, name="coupons"),
    path("coupons/action/", views.coupon_action, name="coupon-action"),
    path("rewards/", views.reward_list, name="rewards"),
    path("rewards/action/", views.reward_action, name="reward-action"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/action/", views.campaign_action, name="campaign-action"),
    path("dashboard/", views.members_dashboard, name="dashboard"),
    path("recompute-segments/", views.recompute_segments, name="recompute-segments"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/action/", views.member_action, name="action"),
]
