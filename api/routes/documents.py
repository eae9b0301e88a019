"""Add, list, read and delete documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path
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
async def list_documents(svc: Service) -> dict:
    docs = await call(svc.list_documents)
    return {"documents": [d.summary() for d in docs]}


@router.get("/{doc_id:anytext}", response_model=DocumentOut, summary="A document with its cleaned text")
async def get_document(doc_id: DocId, svc: Service) -> dict:
    doc = await call(lambda: svc.get_document(validate_id(doc_id)))
    return asdict(doc)


@router.delete("/{doc_id:anytext}", status_code=204, response_class=Response, summary="Delete a document")
async def delete_document(doc_id: DocId, svc: Service) -> Response:
    await call(lambda: svc.delete_document(validate_id(doc_id)))
    return Response(status_code=204)
