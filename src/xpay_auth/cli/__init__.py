"""The ``xpay-auth`` command line: serve, migrate, manage accounts, keys and signing keys."""
