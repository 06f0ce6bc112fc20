from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from identity.services import environment_rotate_secret_key

from ..access import environment_for_member, require_manager
from ..forms import EnvironmentSettingsForm
from ..selectors import team_members
from ..services import environment_settings_update
from .common import environment_url, page_context


def _settings_page(request, access, *, form, new_secret_key=None, status=200):
    environment = access.environment
    context = page_context(
        request,
        access,
        "settings",
        form=form,
        new_secret_key=new_secret_key,
        members=team_members(organization_id=environment.project.organization_id),
        rotate_url=environment_url("rotate_secret_key", environment),
    )
    return render(request, "portal/settings.html", context, status=status)


@login_required
def environment_settings(request, org, project, environment):
    """Keys, allowed origins, waitlist, retention, time zone and the team; owners and admins may change them."""
    access = environment_for_member(request, org, project, environment)
    if request.method != "POST":
        return _settings_page(request, access, form=EnvironmentSettingsForm.for_environment(access.environment))
    require_manager(access)
    form = EnvironmentSettingsForm.for_environment(access.environment, data=request.POST)
    if not form.is_valid():
        return _settings_page(request, access, form=form, status=400)
    environment_settings_update(environment=access.environment, **form.cleaned_data)
    messages.success(request, "Settings saved.")
    return redirect(environment_url("settings", access.environment))


@never_cache
@login_required
@require_POST
def rotate_secret_key(request, org, project, environment):
    """A new secret key, shown in this answer only; the old one fails at once."""
    access = environment_for_member(request, org, project, environment)
    require_manager(access)
    secret_key = environment_rotate_secret_key(environment=access.environment)
    form = EnvironmentSettingsForm.for_environment(access.environment)
    # Rendered, not redirected: the key exists in plain text only in this response.
    return _settings_page(request, access, form=form, new_secret_key=secret_key)
