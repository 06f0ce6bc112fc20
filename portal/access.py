"""The one access helper of the portal: an environment for a member of its organization, or 404."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .selectors import MemberEnvironment, member_environment_get


def environment_for_member(request, org: str, project: str, environment: str) -> MemberEnvironment:
    """The environment at these slugs when the logged-in user belongs to its organization.

    Anyone else gets 404, not 403: an outsider learns nothing about which
    organizations, projects or environments exist.
    """
    found = member_environment_get(
        user=request.user, organization_slug=org, project_slug=project, environment_slug=environment
    )
    if found is None:
        raise Http404("No such environment.")
    return found


def require_manager(access: MemberEnvironment) -> None:
    """Viewers read; only owners and admins change an environment."""
    if not access.can_manage:
        raise PermissionDenied("Only owners and admins can change this environment.")
