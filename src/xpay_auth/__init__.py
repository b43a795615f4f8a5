"""xpay-auth: authentication for the xpay payments API."""

__version__ = "0.1.0"
