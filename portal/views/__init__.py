from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from identity.selectors import environments_for_member


@login_required
def home(request):
    """The team member's environments; the dashboards build on this page."""
    context = {"environments": environments_for_member(user=request.user)}
    return render(request, "portal/home.html", context)
