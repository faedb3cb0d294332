"""Hand-offs between coordinator and physician: a stage marked ready for review, notes on a patient
and on a checklist item, and a physician's questions on an item (a query loop: open, answered,
closed, each step with who and when)."""
