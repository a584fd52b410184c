"""The outside world: outbound HTTP, which addresses it may reach, signatures, URL forms.

Imports nothing of the apps (accounts, endpoints, deliveries) so every one of them can use
it; the transport is the one place that talks to endpoints.
"""
