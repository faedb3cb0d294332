def session_idle(request):
    """The idle timeout and its warning, in seconds, for the warning script (data attributes)."""
    from django.conf import settings

    return {"session_idle": {"timeout": settings.SESSION_IDLE_TIMEOUT, "warning": settings.SESSION_IDLE_WARNING}}
