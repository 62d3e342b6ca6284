"""The firm's own machinery between the entry points (cli/, api/) and the desk (graph/): runs
as jobs on a durable queue (`jobs`, `runs`, `recorder`, `worker`, `sweep`, `hub`)."""
