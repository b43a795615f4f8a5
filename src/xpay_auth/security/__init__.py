"""Cryptographic building blocks: passwords, API keys, signing keys, access tokens."""
