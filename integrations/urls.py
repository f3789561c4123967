from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.shops, name="shops"),
    path("shops/<int:pk>/", views.shop_detail, name="shop"),
    path("shops/<int:pk>/run/", views.shop_run, name="shop-run"),
    path("runs/", views.runs, name="runs"),
]
