#!/usr/bin/env bash
# The main job on the embedded default: synthetic corpora -> builders -> summary.
source "$(dirname "$0")/env.sh"
kelly-hf demo "$@"
