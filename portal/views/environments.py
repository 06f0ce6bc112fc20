from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from identity.selectors import environments_for_member

from .common import environment_url


@login_required
def home(request):
    """The environments the team member can open, each linking to its dashboard."""
    environments = [
        {"environment": environment, "url": environment_url("dashboard", environment)}
        for environment in environments_for_member(user=request.user)
    ]
    return render(request, "portal/home.html", {"environments": environments})
