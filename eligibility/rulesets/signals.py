"""What the packages above rule sets hook into (dependencies point one way).

- :data:`ruleset_published`: sent after a publish has committed, and again when an administrator
  resumes a re-evaluation that stopped (``ruleset``, ``by``, ``reevaluation``: the
  :class:`.models.RuleSetReevaluation` to run); a receiver starts the re-evaluation of what the new
  version concerns as background work, which records its progress and outcome there.
"""

from django.dispatch import Signal

ruleset_published = Signal()
