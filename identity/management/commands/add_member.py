from django.core.management.base import BaseCommand

from identity.models import Membership
from identity.services import member_add


class Command(BaseCommand):
    help = "Add a team member to an organization; they log in to the portal with email and password."

    def add_arguments(self, parser):
        parser.add_argument("organization")
        parser.add_argument("email")
        parser.add_argument("--role", choices=Membership.Role.values, default=Membership.Role.VIEWER)
        parser.add_argument("--password", help="Without one, the member cannot log in until a password is set.")

    def handle(self, *args, **options):
        membership = member_add(
            organization_name=options["organization"],
            email=options["email"],
            role=options["role"],
            password=options["password"],
        )
        self.stdout.write(f"{membership.user.username} is {membership.role} of {membership.organization.name}.")
