"""Add, list, read and delete documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from starlette.convertors import Convertor, register_url_convertor

from api.deps import Service, call
from api.schemas import ID_SCHEMA_PATTERN, DocumentList, DocumentOut, IngestRequest, IngestResponse
from retrieval.ingest import validate_id
from retrieval.models import DocumentIn

router = APIRouter(prefix="/v1/documents", tags=["documents"])


class AnyText(Convertor[str]):
    """Any text, slashes and newlines included, so that every id reaches validate_id (a 400), rather
    than missing the route (a 404) or, with a final newline, matching the id without it."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anytext", AnyText())
DocId = Annotated[str, Path(description="a document id", json_schema_extra={"pattern": ID_SCHEMA_PATTERN})]


@router.post("", response_model=IngestResponse, summary="Ingest documents")
async def add_documents(body: IngestRequest, svc: Service) -> dict:
    """One result per document, in order. Re-sending the same text is `unchanged` and adds nothing;
    a document whose text cannot be used (empty, too long) is `rejected: <reason>`. A malformed id or
    date fails the whole request (400), naming the document's index."""
    items = [
        DocumentIn(
            text=d.text,
            title=d.title,
            id=d.id,
            source=d.source,
            url=d.url,
            published_at=d.published_at,
            is_html=d.is_html,
        )
        for d in body.documents
    ]
    results = await call(svc.ingest_documents, items)
    return {"results": [r.public() for r in results]}


@router.get("", response_model=DocumentList, summary="List documents (without their text)")
async def list_documents(
    svc: Service,
    limit: Annotated[
        int | None, Query(ge=1, description="documents per page (default and maximum: server settings)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=400, description="the next_cursor of the previous page")
    ] = None,
) -> dict:
    """Documents in id order, one page at a time: while `next_cursor` is not null, there are more,
    and passing it as `cursor` returns the next page."""
    page = await call(svc.document_page, limit, cursor)
    return {"documents": [d.summary() for d in page.documents], "next_cursor": page.next_cursor}


@router.get("/{doc_id:anytext}", response_model=DocumentOut, summary="A document with its cleaned text")
async def get_document(doc_id: DocId, svc: Service) -> dict:
    doc = await call(lambda: svc.get_document(validate_id(doc_id)))
    return {**doc.summary(), "text": doc.text}


@router.delete("/{doc_id:anytext}", status_code=204, response_class=Response, summary="Delete a document")
async def delete_document(doc_id: DocId, svc: Service) -> Response:
    await call(lambda: svc.delete_document(validate_id(doc_id)))
    return Response(status_code=204)
