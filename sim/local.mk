# sim/: filled in by its issue.
