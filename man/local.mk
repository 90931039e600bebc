# Manual pages (mdoc), linted by tests/t-mandoc.sh.
dist_man_MANS += man/bgw-relay.8
