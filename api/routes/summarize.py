"""Cited summaries of documents, optionally focused by a query."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.deps import call, get_service
from api.schemas import SummarizeRequest, SummaryOut
from factdesk.service import Factdesk

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/summarize", response_model=SummaryOut, summary="A cited summary")
async def summarize(body: SummarizeRequest, svc: Factdesk = Depends(get_service)) -> dict:
    """Of the given documents, of those matching `query`, or of the most recent ones."""
    summary = await call(svc.summarize, document_ids=body.document_ids, query=body.query, max_words=body.max_words)
    return summary.to_dict()
