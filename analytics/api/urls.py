from django.urls import path

from . import views

urlpatterns = [
    path("sales/", views.SalesSummaryView.as_view(), name="analytics-sales"),
    path("bigscreen/", views.BigScreenView.as_view(), name="analytics-bigscreen"),
    path("bi/", views.BIDatasetListView.as_view(), name="analytics-bi-datasets"),
    path("bi/<str:dataset>/", views.BIDatasetView.as_view(), name="analytics-bi"),
]
