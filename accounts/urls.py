from django.urls import path

from .apis import IdentifyApi, LoginApi, LogoutApi, MeApi, SignupApi, UserApproveApi

urlpatterns = [
    path("auth/signup", SignupApi.as_view(), name="auth-signup"),
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("auth/logout", LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", MeApi.as_view(), name="auth-me"),
    path("identify", IdentifyApi.as_view(), name="identify"),
    path("users/<str:user_id>/approve", UserApproveApi.as_view(), name="user-approve"),
]
