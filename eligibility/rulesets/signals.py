"""What the packages above rule sets hook into (dependencies point one way).

- :data:`ruleset_published`: sent after a publish has committed (``ruleset``, ``by``); a receiver
  re-evaluates what the new version concerns and returns its outcome, shown to the administrator.
"""

from django.dispatch import Signal

ruleset_published = Signal()
