"""The second factor: TOTP authenticator apps, recovery codes and step-up checks (README, "Second factor").

django-otp supplies the device machinery (``OTPMiddleware``, throttling, the session key of a verified
device, recovery codes as ``StaticDevice``); this package is the glue: the authenticator device with
its key encrypted at rest, the rules (``services``), the pages, the middleware that sends users to
them, and ``step_up_required`` for changes that need a recent check.
"""
