from django.urls import path

from . import views

urlpatterns = [
    path("sales/", views.SalesSummaryView.as_view(), name="analytics-sales"),
    path("bigscreen/", views.BigScreenView.as_view(), name="analytics-bigscreen"),
]
