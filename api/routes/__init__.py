"""One router per area; `api.main` mounts them all under `/api`."""
