"""Users and sign-in: administrators manage users (roles, deactivation, one-time passwords) and
export the audit trail; signing in is hardened by a lock-out after repeated failures (django-axes)
with its locks page, the password change page, and the second factor (django-otp: authenticator
app and recovery codes)."""
