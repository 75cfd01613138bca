#!/usr/bin/env bash
# The test suite (what CI runs): unit tests, real fixtures from ../shared/fixtures,
# every builder through the generic invariants.
source "$(dirname "$0")/env.sh"
python -m pytest -n 2 -q "$@"
