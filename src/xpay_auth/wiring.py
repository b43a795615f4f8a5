"""Each service's dependencies, built once per process from the parts a runtime opens.

A service function names what it touches: the one repository it uses, or its module's
frozen ``*Deps``. They are all built here at start-up, so a request allocates none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from xpay_auth.components.audit_trail import AuditTrail
from xpay_auth.components.committer import Committer
from xpay_auth.components.keyring import Keyring
from xpay_auth.security.api_keys import KeyHasher
from xpay_auth.security.passwords import PasswordHashing
from xpay_auth.security.tokens import TokenIssuer, TokenVerifier
from xpay_auth.services.accounts import AccountDeps
from xpay_auth.services.api_keys import KeyDeps
from xpay_auth.services.authenticate import LoginDeps
from xpay_auth.services.housekeeping import HousekeepingDeps
from xpay_auth.services.introspection import IntrospectionDeps
from xpay_auth.services.lockout import LockoutDeps
from xpay_auth.services.own_sessions import OwnSessionDeps
from xpay_auth.services.password_change import PasswordChangeDeps
from xpay_auth.services.revocations import RevocationDeps
from xpay_auth.services.sessions import SessionDeps
from xpay_auth.settings import Settings
from xpay_auth.storage.database import Database
from xpay_auth.throttling.throttle import Throttle


@dataclass(frozen=True, slots=True)
class Services:
    """The dependencies of each service module, by module."""

    accounts: AccountDeps  # services.accounts and services.administration
    keys: KeyDeps
    login: LoginDeps
    sessions: SessionDeps
    introspection: IntrospectionDeps
    lockout: LockoutDeps
    own_sessions: OwnSessionDeps
    password_change: PasswordChangeDeps
    revocation: RevocationDeps
    housekeeping: HousekeepingDeps


def wire(
    settings: Settings,
    database: Database,
    *,
    passwords: PasswordHashing,
    key_hasher: KeyHasher,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    keyring: Keyring,
    committer: Committer,
    audit: AuditTrail,
    throttle: Throttle,
) -> Services:
    """Every service's dependencies, from one process's parts."""
    revocation = RevocationDeps(
        accounts=database.accounts,
        sessions=database.sessions,
        revocations=database.revocations,
        token_ttl=settings.token_ttl,
    )
    sessions = SessionDeps(
        verifier=verifier, keyring=keyring, revocations=database.revocations, audit=audit
    )
    return Services(
        accounts=AccountDeps(
            accounts=database.accounts, passwords=passwords, audit=audit, revocation=revocation
        ),
        keys=KeyDeps(
            api_keys=database.api_keys, key_hasher=key_hasher, audit=audit, revocation=revocation
        ),
        login=LoginDeps(
            accounts=database.accounts,
            api_keys=database.api_keys,
            throttle=throttle,
            passwords=passwords,
            key_hasher=key_hasher,
            issuer=issuer,
            audit=audit,
            committer=committer,
            token_ttl=settings.token_ttl,
            password_max_failures=settings.password_max_failures,
        ),
        sessions=sessions,
        introspection=IntrospectionDeps(
            sessions=sessions, issuer=settings.issuer, audience=settings.audience
        ),
        lockout=LockoutDeps(accounts=database.accounts, throttle=throttle, audit=audit),
        own_sessions=OwnSessionDeps(
            sessions=database.sessions, revocations=database.revocations, audit=audit
        ),
        password_change=PasswordChangeDeps(
            accounts=database.accounts,
            throttle=throttle,
            passwords=passwords,
            audit=audit,
            revocation=revocation,
            password_max_failures=settings.password_max_failures,
        ),
        revocation=revocation,
        housekeeping=HousekeepingDeps(
            sessions=database.sessions,
            revocations=database.revocations,
            signing_keys=database.signing_keys,
        ),
    )
