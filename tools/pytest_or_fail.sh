#!/usr/bin/env bash
# Run pytest; "no tests collected" (exit 5) means the suite is broken, so it fails too.
"$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: the suite is broken" >&2
  exit 1
fi
exit "$rc"
