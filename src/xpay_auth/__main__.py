"""``python -m xpay_auth`` runs the command line."""

from xpay_auth.cli.main import cli

cli()
