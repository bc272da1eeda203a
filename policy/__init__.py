"""The notification-delivery policy pack (CrossGuard) and the rules the offline check shares.

`rules` is plain Python over manifest dicts, so `python -m tools.render STACK --check` and the
tests run the very same rules without the Pulumi engine; `crossguard` adapts them to the policy SDK.
"""
