from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock_list, name="stock"),
    path("sku/<int:sku_id>/moves/", views.sku_moves, name="sku-moves"),
    path("unmatched/", views.unmatched, name="unmatched"),
    path("locks/", views.locks, name="locks"),
    path("promotions/", views.promotions, name="promotions"),
    path("health/", views.health, name="health"),
]
