# Manual pages (mdoc), linted by tests/t-mandoc.sh.
