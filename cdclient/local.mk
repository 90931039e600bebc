# cdclient/: filled in by its issue.
