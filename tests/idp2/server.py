"""Latchkey's second test authorization server: django-oauth-toolkit (Jazzband), written
independently of oidc-provider, on 127.0.0.1.

It differs from the first server the way real deployments do: the issuer has a path (/o),
OpenID discovery lives at {issuer}/.well-known/openid-configuration while RFC 8414 metadata
(with the revocation endpoint, which DOT's OpenID document leaves out) is published separately
at {issuer}/.well-known/oauth-authorization-server; the scopes are openid, profile and api (no
email, no offline_access: DOT issues refresh tokens without it); refresh tokens rotate and a
replayed one revokes the whole family; its protected API answers 403 with
`WWW-Authenticate: Bearer error="invalid_token"` for a dead token.

Settings come from IDP_CONFIG (JSON): accessTtl (seconds, default 3600), authMethods (the
client authentication methods its token, revocation and introspection endpoints accept, e.g.
["client_secret_basic"]; default both of DOT's). The first stdout
line is {"issuer": "http://127.0.0.1:PORT/o"}. Test control lives under {issuer}/__test/.
Everyone who reaches the authorization endpoint is signed in as "bob" and the applications
skip the consent screen, so tests need no person.
"""
import json
import os
import socketserver
import sys
import tempfile
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CFG = json.loads(os.environ.get("IDP_CONFIG") or "{}")
ACCESS_TTL = int(CFG.get("accessTtl", 3600))
AUTH_METHODS = CFG.get("authMethods")
DB = os.path.join(tempfile.mkdtemp(prefix="latchkey-idp2-"), "db.sqlite3")
STATS = {"token_requests": 0, "invalid_grant": 0, "revocations": 0, "registrations": 0}
MODE = {"tokenStatus": 0}
BASE = {"url": ""}


def rsa_key():
    from jwcrypto import jwk

    return jwk.JWK.generate(kty="RSA", size=2048).export_to_pem(private_key=True, password=None).decode()


import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="latchkey-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "oauth2_provider",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        __name__ + ".TestMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DB, "OPTIONS": {"timeout": 20}}},
    USE_TZ=True,
    OAUTH2_PROVIDER={
        "OIDC_ENABLED": True,
        "OIDC_RSA_PRIVATE_KEY": rsa_key(),
        "PKCE_REQUIRED": True,
        "ROTATE_REFRESH_TOKEN": True,
        "REFRESH_TOKEN_REUSE_PROTECTION": True,
        "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TTL,
        "SCOPES": {"openid": "OpenID", "profile": "Your name", "api": "The test API"},
        "DEFAULT_SCOPES": ["api"],
        "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", "dev.latchkey"],
        "OAUTH2_VALIDATOR_CLASS": __name__ + ".Validator",
        **({"OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": AUTH_METHODS} if AUTH_METHODS else {}),
    },
)
django.setup()

from django.contrib.auth import get_user_model, login  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402
from oauth2_provider.oauth2_validators import OAuth2Validator  # noqa: E402
from oauth2_provider.views.mixins import OAuthLibMixin  # noqa: E402
from oauth2_provider.views.generic import View  # noqa: E402


class Validator(OAuth2Validator):
    """Claims for the ID token and userinfo: a handle and a name under `profile`."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "preferred_username": "profile"}

    def get_additional_claims(self, request):
        return {"preferred_username": request.user.username, "name": "Bob Builder"}

    # A server that takes one client authentication method only (authMethods).
    def _authenticate_basic_auth(self, request):
        if AUTH_METHODS is not None and "client_secret_basic" not in AUTH_METHODS:
            return False
        return super()._authenticate_basic_auth(request)

    def _authenticate_request_body(self, request):
        if AUTH_METHODS is not None and "client_secret_post" not in AUTH_METHODS:
            return False
        return super()._authenticate_request_body(request)


class TestMiddleware:
    """Signs everyone in as bob at the authorization endpoint, counts token requests, and
    serves the test-control routes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        p = request.path
        if p == "/o/__test/stats":
            return JsonResponse(STATS)
        if p == "/o/__test/mode" and request.method == "POST":
            MODE.update(json.loads(request.body or b"{}"))
            return JsonResponse(MODE)
        if p.startswith("/o/authorize") and not request.user.is_authenticated:
            login(request, get_user_model().objects.get(username="bob"))
        if p == "/o/token/" and request.method == "POST":
            STATS["token_requests"] += 1
            if MODE["tokenStatus"]:
                return HttpResponse("<html>upstream trouble</html>", status=MODE["tokenStatus"], content_type="text/html")
        response = self.get_response(request)
        if p == "/o/token/" and response.status_code == 400 and b"invalid_grant" in response.content:
            STATS["invalid_grant"] += 1
        if p == "/o/revoke_token/" and response.status_code == 200:
            STATS["revocations"] += 1
        return response


class Protected(OAuthLibMixin, View):
    """The test API: 403 with `Bearer error="invalid_token"` for a token it does not accept,
    as some servers answer for an expired token."""

    def get(self, request):
        valid, r = self.verify_request(request)
        if not valid:
            response = JsonResponse({"ok": False, "message": "Forbidden"}, status=403)
            response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        who = r.user.username if r.user else r.client.client_id
        return JsonResponse({"ok": True, "sub": who})


def rfc8414(request):
    """RFC 8414 metadata, published beside DOT's OpenID document, as deployments do."""
    issuer = BASE["url"] + "/o"
    return JsonResponse({
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize/",
        "token_endpoint": issuer + "/token/",
        "revocation_endpoint": issuer + "/revoke_token/",
        "introspection_endpoint": issuer + "/introspect/",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(settings.OAUTH2_PROVIDER["SCOPES"].keys()),
        **({"token_endpoint_auth_methods_supported": AUTH_METHODS} if AUTH_METHODS else {}),
    })


urlpatterns = [
    path("o/.well-known/oauth-authorization-server", rfc8414),
    path("o/api/protected", Protected.as_view()),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False)
    get_user_model().objects.create_user("bob", password="unused")
    app = get_application_model()
    # Latchkey gives a provider that does not promise `iss` a redirect path of its own; the
    # tests add this server as provider "dot".
    redirects = "dev.latchkey:/oauth/callback/dot http://127.0.0.1/callback/dot"
    app.objects.create(
        client_id="latchkey-public", name="Latchkey", client_type="public",
        authorization_grant_type="authorization-code", redirect_uris=redirects,
        skip_authorization=True, algorithm="RS256",
    )
    app.objects.create(
        client_id="latchkey-machine", client_secret="machine-secret-value", name="Machine",
        client_type="confidential", authorization_grant_type="client-credentials",
        redirect_uris="", algorithm="",
    )
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingServer, handler_class=QuietHandler)
    port = server.server_address[1]
    BASE["url"] = f"http://127.0.0.1:{port}"
    settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] = BASE["url"] + "/o"
    from oauth2_provider.settings import oauth2_settings

    oauth2_settings.reload()
    sys.stdout.write(json.dumps({"issuer": BASE["url"] + "/o"}) + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
