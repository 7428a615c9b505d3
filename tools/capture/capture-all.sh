#!/bin/bash
# Re-create every capture committed under sample_traces/real/ (one boot each, sequentially).
# Usage: tools/capture/capture-all.sh [NAME-FILTER]   e.g. capture-all.sh abba
# Expects tools/capture/build-kernel.sh to have run.  Takes roughly 10-20 minutes in total on a
# 2-core machine (more when the host is busy); the full dma-buf selftests run alone takes 10+ min.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
FILTER=${1:-}
CAPTURES=(
  "general"
  "--bufkb 4096 sw_sync"
  "--bufkb 4096 vgem"
  "abba"
  "--no-hash-pointers abba"
  "recursive"
  "--no-hash-pointers recursive"
  "refcount_underflow"
  "--no-hash-pointers refcount_underflow"
  "irq_inconsistent"
  "--no-hash-pointers irq_inconsistent"
  "--bufkb 4096 dmabuf-selftests:dma_fence"
  "--bufkb 4096 dmabuf-selftests:dma_fence_chain"
  "--bufkb 4096 dmabuf-selftests:dma_fence_unwrap"
  "--bufkb 4096 dmabuf-selftests:dma_resv"
  "--bufkb 4096 --timeout 2400 dmabuf-selftests"
)
failed=()
for c in "${CAPTURES[@]}"; do
  case "$c" in *"$FILTER"*) ;; *) continue ;; esac
  echo "=== capture.sh $c" >&2
  # shellcheck disable=SC2086
  "$HERE/capture.sh" $c || failed+=("$c")
done
if [ ${#failed[@]} -gt 0 ]; then
  printf 'capture-all.sh: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "capture-all.sh: all captures done" >&2
