from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("", views.member_list, name="list"),
    path("coupons/", views.coupon_list, name="coupons"),
    path("coupons/action/", views.coupon_action, name="coupon-action"),
    path("recompute-segments/", views.recompute_segments, name="recompute-segments"),
    path("<int:pk>/", views.member_detail, name="detail"),
    path("<int:pk>/action/", views.member_action, name="action"),
]
