"""Reads the portal needs beyond the stats queries: membership, end users, the team."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from ascendkit_site import ids
from identity.models import EndUser, Environment, Membership
from journeys.models import Delivery, Journey, WebhookEndpoint

USERS_PER_PAGE = 50


@dataclass(frozen=True)
class MemberEnvironment:
    environment: Environment
    role: str

    @property
    def can_manage(self) -> bool:
        """Owners and admins change settings, rotate keys and approve the waitlist; viewers read."""
        return self.role in (Membership.Role.OWNER, Membership.Role.ADMIN)


def member_environment_get(
    *, user, organization_slug: str, project_slug: str, environment_slug: str
) -> MemberEnvironment | None:
    """The environment at these slugs with the member's role, or None when they are not in its organization."""
    environment = (
        Environment.objects.select_related("project__organization")
        .filter(
            project__organization__slug=organization_slug,
            project__slug=project_slug,
            slug=environment_slug,
        )
        .first()
    )
    if environment is None or not user.is_authenticated:
        return None
    role = (
        Membership.objects.filter(organization_id=environment.project.organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return MemberEnvironment(environment=environment, role=role) if role else None


def end_users_search(*, environment: Environment, query: str = "", page_number=1) -> Page:
    """The environment's users, newest first, matching an email fragment or a `usr_`/`vis_` ID."""
    users = EndUser.objects.filter(environment=environment)
    query = query.strip()
    if ids.is_user_id(query):
        users = users.filter(public_id=query)
    elif ids.is_visitor_id(query):
        users = users.filter(visitors__environment=environment, visitors__public_id=query)
    elif query:
        users = users.filter(email__icontains=query)
    users = users.order_by("-created_at", "-pk")
    return Paginator(users, USERS_PER_PAGE).get_page(page_number)


def end_user_get(*, environment: Environment, public_id: str) -> EndUser | None:
    return EndUser.objects.filter(environment=environment, public_id=public_id).first()


def waitlisted_users(*, environment: Environment, limit: int = 100) -> QuerySet[EndUser]:
    """Users waiting for approval, the longest-waiting first."""
    return EndUser.objects.filter(environment=environment, status=EndUser.Status.WAITLISTED).order_by(
        "created_at", "pk"
    )[:limit]


def team_members(*, organization_id: int) -> QuerySet[Membership]:
    """The organization's members with their roles: owners first."""
    order = ["owner", "admin", "viewer"]
    memberships = Membership.objects.filter(organization_id=organization_id).select_related("user")
    return sorted(memberships, key=lambda m: (order.index(m.role) if m.role in order else 9, m.user.username))


def journey_in_environment(*, environment: Environment, journey_id: int) -> Journey | None:
    return Journey.objects.filter(environment=environment, pk=journey_id).select_related("entry_stage").first()


def webhook_endpoint_in_environment(*, environment: Environment, public_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(environment=environment, public_id=public_id).first()


def delivery_of_endpoint_exists(*, environment: Environment, endpoint: WebhookEndpoint, public_id: str) -> bool:
    return Delivery.objects.filter(environment=environment, endpoint=endpoint, public_id=public_id).exists()
