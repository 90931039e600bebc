#!/bin/bash
# tests/vm/t-family-unix.sh -- t-family.sh with bgw-muxd on the unix controller
# (see there). TAP on stdout.
# vm-timeout: 300
exec "$(dirname "$0")/t-family.sh" unix
