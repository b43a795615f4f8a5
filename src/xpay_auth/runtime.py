"""Everything a process needs, built from settings: the app's lifespan and the CLI use it.

Nothing is built at import time; tests build as many runtimes as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.components.committer import Committer
from xpay_auth.components.keyring import Keyring
from xpay_auth.metrics import Metrics
from xpay_auth.security.api_keys import KeyHasher
from xpay_auth.security.derivation import API_KEY_HASH, derive_key
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.security.signing_keys import KeyWrapper
from xpay_auth.security.token_cache import VerifiedTokenCache
from xpay_auth.security.tokens import TokenIssuer, TokenVerifier
from xpay_auth.settings import Settings
from xpay_auth.storage.batch import create_batch_store
from xpay_auth.storage.database import Database
from xpay_auth.storage.engine import create_engine
from xpay_auth.storage.file_modes import check_secret_files
from xpay_auth.throttling.throttle import Throttle, build_throttle
from xpay_auth.wiring import Services, wire


@dataclass(slots=True)
class Runtime:
    settings: Settings
    database: Database
    keyring: Keyring
    passwords: PasswordHashing
    key_hasher: KeyHasher
    issuer: TokenIssuer
    verifier: TokenVerifier
    committer: Committer
    audit: AuditTrail
    metrics: Metrics
    throttle: Throttle
    services: Services  # what each service function is given, built from the parts above


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, ensure_signing_key: bool = True
) -> AsyncIterator[Runtime]:
    """Open the database and keys; on exit, finish the commits in progress and close.

    Servers and the CLI alike: every write is committed before the call that made it returns.
    """
    check_secret_files(settings)
    server_secret = settings.server_secret()
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    database = Database(engine, settings.database_url)
    keyring = Keyring(
        database.signing_keys, KeyWrapper(server_secret), settings.signing_key_refresh
    )
    committer = Committer(
        create_batch_store(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    )
    throttle = build_throttle(settings)
    try:
        created_kid = await keyring.ensure_current() if ensure_signing_key else None
        passwords = PasswordHashing(settings.argon2_profile)
        key_hasher = KeyHasher(derive_key(server_secret, API_KEY_HASH))
        issuer = TokenIssuer(keyring.current, settings.issuer, settings.audience)
        verifier = TokenVerifier(
            keyring.public_key,
            settings.issuer,
            settings.audience,
            cache=VerifiedTokenCache(settings.token_cache_size),
        )
        audit = AuditTrail(committer)
        runtime = Runtime(
            settings=settings,
            database=database,
            keyring=keyring,
            passwords=passwords,
            key_hasher=key_hasher,
            issuer=issuer,
            verifier=verifier,
            committer=committer,
            audit=audit,
            metrics=Metrics(),
            throttle=throttle,
            services=wire(
                settings,
                database,
                passwords=passwords,
                key_hasher=key_hasher,
                issuer=issuer,
                verifier=verifier,
                keyring=keyring,
                committer=committer,
                audit=audit,
                throttle=throttle,
            ),
        )
        if created_kid is not None:
            await audit.record("signing_key.created", "ok", None, detail={"kid": created_kid})
        try:
            yield runtime
        finally:
            await committer.close()
    finally:
        await throttle.close()
        await database.dispose()
