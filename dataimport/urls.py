from django.urls import path

from . import views

app_name = "dataimport"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("new/<slug:import_type>/", views.import_new, name="new"),
    path("template/<slug:import_type>.<str:kind>", views.import_template, name="template"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/action/", views.import_action, name="action"),
    path("<int:pk>/rejected-rows.csv", views.import_rejected_rows, name="rejected-rows"),
]
