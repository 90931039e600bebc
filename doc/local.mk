# Design documents shipped with the distribution.
dist_doc_DATA += doc/security.md doc/architecture.md
