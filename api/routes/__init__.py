"""One router per resource; api.app includes them, every /v1 router behind the API-key check.

Each router carries its full path prefix itself, so a matched route's `path_format` is the whole
template ("/v1/documents/{doc_id}") that the metrics label requests with.
"""
