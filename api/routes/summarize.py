"""Cited summaries of documents, optionally focused by a query."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Service, call
from api.schemas import SummarizeRequest, SummaryOut

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/summarize", response_model=SummaryOut, summary="A cited summary")
async def summarize(body: SummarizeRequest, svc: Service) -> dict:
    """Of the given documents, of those matching `query`, or of the most recent ones."""
    summary = await call(
        svc.summarize, document_ids=body.document_ids, query=body.query, max_words=body.max_words
    )
    return summary.to_dict()
