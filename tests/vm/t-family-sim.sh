#!/bin/bash
# tests/vm/t-family-sim.sh -- t-family.sh with bgw-muxd on the sim controller
# (see there). TAP on stdout.
# vm-timeout: 300
exec "$(dirname "$0")/t-family.sh" sim
