"""A signup is a fixed number of statements, whatever the environment already holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_signup

from .helpers import PASSWORD

# Email check, the user, the visitor's link and signup marker, the two built-in
# event rows with their outbox entries, the token; savepoints included. The stitch
# and the outbox dispatch run after commit, in tasks, and are not counted here.
# On PostgreSQL one more marks the signup's day for the report rollups.
SIGNUP_BUDGET = 20 + (1 if connection.vendor == "postgresql" else 0)


def signup_statements(tenant, email: str, visitor_id: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        user_signup(environment=tenant.environment, email=email, password=PASSWORD, visitor_id=visitor_id)
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_a_signup_is_a_fixed_number_of_statements(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = signup_statements(tenant, "ada@example.com", "vis_BudgetSignup00000001")
        second = signup_statements(tenant, "grace@example.com", "vis_BudgetSignup00000002")

    assert first == second
    assert first <= SIGNUP_BUDGET
