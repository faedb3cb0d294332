"""Sign-in hardening: lock-out after repeated failures (django-axes), the locks page, password
change, and the second factor (django-otp: authenticator app and recovery codes)."""
