#!/bin/sh
# The image's entrypoint: `docker run IMAGE ARGS` runs `trainlab ARGS`.
# With --user UID:GID for a uid the image does not know, HOME is / and not writable, and
# matplotlib, W&B and Hugging Face want a writable home for their caches: give them one.
set -eu
if [ ! -w "${HOME:-/}" ]; then
  HOME="$(mktemp -d /tmp/home.XXXXXX)"
  export HOME
fi
# A bind-mounted logs folder the user cannot write fails late, deep in a run, with a
# PermissionError; say what to do instead before any work.
if [ -d /workspace/logs ] && [ ! -w /workspace/logs ]; then
  echo "trainlab container: /workspace/logs (a host folder owned by uid" \
    "$(stat -c %u /workspace/logs)) is not writable by uid $(id -u). Run with" \
    "--user \"\$(id -u):\$(id -g)\" and create the host folders before docker run" \
    "(mkdir -p data logs), or use docker/run.sh, which does both." >&2
  exit 2
fi
exec trainlab "$@"
