"""The HTTP API, one router per resource; `fieldtech.server.app` mounts them under /v1."""
