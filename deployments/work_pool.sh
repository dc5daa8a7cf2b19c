#!/usr/bin/env bash
# The process work pool of prefect.yaml, and a worker for it. Run from the repo root with PREFECT_API_URL set:
#   bash deployments/work_pool.sh create    # once per server
#   bash deployments/work_pool.sh worker    # in the foreground; stop it with Ctrl-C (it may take ~20 s)
set -euo pipefail
POOL="${UCE_WORK_POOL:-uce-process}"
: "${PREFECT_API_URL:?set PREFECT_API_URL, e.g. http://127.0.0.1:4200/api (see deployments/README.md)}"
case "${1:-}" in
  create)
    prefect work-pool create "$POOL" --type process --overwrite
    ;;
  worker)
    # NUMBA_CACHE_DIR: one JIT cache for every flow run and Ray worker on this machine.
    export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
    exec prefect worker start --pool "$POOL" --type process
    ;;
  *)
    echo "usage: $0 create|worker" >&2
    exit 2
    ;;
esac
