# authdb/: filled in by its issue.
