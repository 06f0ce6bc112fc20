"""`DELETE /v1/users/{id}`: erase a user and everything linked to them (secret key).

The path is shared with the profile (`GET /v1/users/{id}`), and one URL serves one
view, so the handler is offered as `UserErasureMixin`: the profile view inherits
its `delete`.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from ascendkit_site.openapi import SECRET_KEY_ERRORS, USER_PATH_PARAMETER, error_responses
from identity.auth import authenticate_secret_key
from identity.selectors import end_user_get_or_404

from ..services.deletion import user_erase

_ErasureReceiptSerializer = inline_serializer(
    name="ErasureReceipt",
    fields={
        "deleted": inline_serializer(
            name="ErasureReceiptDeleted",
            fields={
                "users": serializers.IntegerField(),
                "visitors": serializers.IntegerField(),
                "sessions": serializers.IntegerField(),
                "pageviews": serializers.IntegerField(),
                "events": serializers.IntegerField(),
            },
        )
    },
)


def user_erase_response(request, user_id: str) -> Response:
    """Authenticate the secret key, erase that environment's user, answer the receipt."""
    environment = authenticate_secret_key(request)
    # Looked up within the key's environment: another environment's user is as
    # unknown here as one that never existed.
    receipt = user_erase(user=end_user_get_or_404(environment=environment, public_id=user_id))
    return Response(receipt.as_dict(), status=status.HTTP_200_OK)


class UserErasureMixin:
    """Adds `DELETE` to the view at `users/<str:user_id>`."""

    @extend_schema(
        operation_id="users_erase",
        summary="Erase a user and every row linked to them",
        description=(
            "Deletes the user, their visitors with all their sessions, pageviews and events "
            "(pre-signup ones included), their attributions and tokens. Needs the secret key."
        ),
        parameters=[USER_PATH_PARAMETER],
        request=None,
        responses={
            200: _ErasureReceiptSerializer,
            **error_responses({**SECRET_KEY_ERRORS, 404: "No such user in this environment (`not_found`)."}),
        },
    )
    def delete(self, request, user_id: str):
        return user_erase_response(request, user_id)
