"""Hybrid search over the chunks."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Service, build_filters, call
from api.schemas import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, summary="Passages for a query")
async def search(body: SearchRequest, svc: Service) -> dict:
    def run() -> list[dict]:
        filters = build_filters(
            svc, body.document_ids, body.sources, body.published_after, body.published_before
        )
        return [hit.public() for hit in svc.search(body.query, body.top_k, filters)]

    return {"results": await call(run)}
