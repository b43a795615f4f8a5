"""A Python client for services that call the xpay API with an xpay-auth API key.

    import httpx
    from xpay_auth.client import XPayAuth

    auth = XPayAuth("https://auth.example", "client@example.com", secret_key)
    with httpx.Client(base_url="https://wallets.example", auth=auth) as wallets:
        wallets.post("/wallets/balance", json={})

:class:`XPayAuth` logs in at ``POST /client/authenticate``, caches the token, renews it
before it expires and once on a 401, and works the same with ``httpx.AsyncClient``.
A refused login raises :class:`AuthenticationError` with the server's message, tag and uuid.
"""

from xpay_auth.client._auth import XPayAuth
from xpay_auth.client._errors import AuthenticationError

__all__ = ["AuthenticationError", "XPayAuth"]
