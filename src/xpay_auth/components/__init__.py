"""The long-lived parts a process builds once and every request shares.

The group committer, the audit trail that writes through it, and the signing keyring. Each
holds state across requests (queued batches, loaded keys), so ``runtime`` builds one of each
at start-up and hands them to the services that use them.
"""
