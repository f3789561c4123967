"""Operator pages of analytics."""

from django.shortcuts import render

from erp.db.routers import read_replica
from erp.views_helpers import tenant_page

POLL_SECONDS = 10


@tenant_page(app_label="analytics")
@read_replica
def bigscreen(request):
    """The wall display: a dark full-screen page that polls /api/v1/analytics/bigscreen/."""
    seconds = request.GET.get("every", "")
    every = int(seconds) if seconds.isdigit() and 2 <= int(seconds) <= 600 else POLL_SECONDS
    return render(request, "analytics/bigscreen.html", {"every": every})
