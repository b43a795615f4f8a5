"""Throttling of failed authentications: the policy, the counter stores, the throttle.

``policy`` holds the numbers; ``memory`` and ``redis_store`` keep the counters behind one
interface (``store.CounterStore``); ``throttle`` is what the authenticate service calls.
"""
