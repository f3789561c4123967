from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("bigscreen/", views.bigscreen, name="bigscreen"),
]
