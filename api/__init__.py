"""The HTTP API: FastAPI app factory, routes per resource, the chat page in static/."""
