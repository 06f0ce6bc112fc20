import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.services import user_approve as end_user_approve
from analytics.selectors import InvalidCursor, user_profile, user_timeline
from analytics.services.collect import collect_queue_flush

from ..access import environment_for_member, require_manager
from ..selectors import end_user_get, end_users_search, waitlisted_users
from .common import environment_url, page_context

TIMELINE_PAGE_SIZE = 100


@login_required
def users(request, org, project, environment):
    """Users of the environment, searchable by email or ID, with the waitlist to approve."""
    access = environment_for_member(request, org, project, environment)
    query = request.GET.get("q", "")[:254]
    page = end_users_search(environment=access.environment, query=query, page_number=request.GET.get("page", 1))
    rows = [
        {"user": user, "url": environment_url("user_detail", access.environment, user.public_id)}
        for user in page.object_list
    ]
    waiting = [
        {
            "user": user,
            "url": environment_url("user_detail", access.environment, user.public_id),
            "approve_url": environment_url("user_approve", access.environment, user.public_id),
        }
        for user in waitlisted_users(environment=access.environment)
    ]
    context = page_context(request, access, "users", query=query, page=page, rows=rows, waiting=waiting)
    return render(request, "portal/users.html", context)


@login_required
def user_detail(request, org, project, environment, user_id):
    """A user's profile (status, attribution, visitors) and their timeline, pre-signup part marked."""
    access = environment_for_member(request, org, project, environment)
    user = end_user_get(environment=access.environment, public_id=user_id)
    if user is None:
        raise Http404("No such user.")
    collect_queue_flush(environment=access.environment)  # accepted traffic shows, even if still queued
    try:
        timeline = user_timeline(user=user, cursor=request.GET.get("cursor") or None, limit=TIMELINE_PAGE_SIZE)
    except InvalidCursor:
        raise Http404("No such page of the timeline.") from None
    context = page_context(
        request,
        access,
        "users",
        end_user=user,
        profile=user_profile(user=user),
        timeline=timeline,
        timeline_rows=_timeline_rows(timeline.items, first_page=not request.GET.get("cursor")),
        approve_url=environment_url("user_approve", access.environment, user.public_id),
        users_url=environment_url("users", access.environment),
    )
    return render(request, "portal/user_detail.html", context)


def _timeline_rows(items, *, first_page: bool) -> list[dict]:
    """Timeline items with a 'signed up' marker between the last pre-signup item and the first after."""
    rows = []
    marked = False
    for index, item in enumerate(items):
        previous_pre_signup = items[index - 1].pre_signup if index else first_page
        if not item.pre_signup and previous_pre_signup and not marked:
            rows.append({"signup_marker": True})
            marked = True
        # As JSON, the way it was sent and the API shows it, not Python's repr.
        properties = json.dumps(item.properties, ensure_ascii=False) if item.properties else ""
        rows.append({"item": item, "properties": properties})
    return rows


@login_required
@require_POST
def user_approve(request, org, project, environment, user_id):
    """Let a waitlisted user in (owners and admins)."""
    access = environment_for_member(request, org, project, environment)
    require_manager(access)
    user = end_user_get(environment=access.environment, public_id=user_id)
    if user is None:
        raise Http404("No such user.")
    end_user_approve(user=user)
    messages.success(request, f"{user.email} is approved and can log in.")
    if request.POST.get("next") == "profile":
        return redirect(environment_url("user_detail", access.environment, user.public_id))
    return redirect(environment_url("users", access.environment))
