"""Request and response models: at once the validation and the OpenAPI schema.

Requests to factdesk's own routes are strict (no type coercion, unknown fields refused, so a typo
like "topk" is an error rather than silently ignored). The OpenAI-compatible models ignore what they
do not know (temperature, n, tools, ...), as clients built for OpenAI send plenty of it.
Limits that depend on settings (question length, top_k's upper bound) are checked by the service,
which raises the same 400 `invalid_request`; api.app writes them into the served OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from factdesk.service import NON_BLANK
from retrieval.errors import InvalidInput
from retrieval.ingest import ID_PATTERN, TITLE_MAX, parse_published, validate_id

# validate_id's rule for the OpenAPI document (validation itself calls validate_id)
ID_SCHEMA_PATTERN = "^(?!.*\\.\\.)" + ID_PATTERN.pattern.removeprefix("^")


def _document_id(value: str) -> str:
    try:
        return validate_id(value)
    except InvalidInput as e:
        raise ValueError(e.message) from None


def _iso_date(value: str) -> str:
    """The field's name comes with the error's location; the value is not echoed (api/errors.py)."""
    try:
        parsed = parse_published(value)
    except InvalidInput:
        parsed = None
    if parsed is None:
        raise ValueError("must be an ISO 8601 date, such as 2025-01-31 or 2025-01-31T09:30:00Z")
    return value


def _whole_number(value: object) -> object:
    """JSON Schema's "integer" includes 5.0; strict validation would refuse the float."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = BeforeValidator(_whole_number)
DocumentId = Annotated[
    str, AfterValidator(_document_id), Field(json_schema_extra={"pattern": ID_SCHEMA_PATTERN})
]
# the range is the service's to check (1 .. max_top_k), so that every route and the MCP tools say it in
# one message; the schema still states the minimum (the maximum: api/app.py `_write_limits`)
TopK = Annotated[
    int,
    Field(
        json_schema_extra={"minimum": 1},
        description="passages to use (1 .. the server's max_top_k; default 5)",
    ),
    WholeNumber,
]
# a question or query: emptiness (blank too) and length are the service's to check, in one message
# on every route ("question is empty"); the schema states them
Text = Annotated[str, Field(json_schema_extra={"minLength": 1, "pattern": NON_BLANK})]
IsoDate = Annotated[
    str,
    AfterValidator(_iso_date),
    Field(
        max_length=64,
        description="ISO 8601 date or date-time",
        examples=["2024-11-01"],
        json_schema_extra={"anyOf": [{"format": "date"}, {"format": "date-time"}]},
    ),
]


class ApiRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")  # fields may be added (CONTRACT.md); never dropped here


# ---- errors ----
class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


# ---- health ----
class Health(Response):
    status: Literal["ok"] = "ok"
    recovered: dict[str, int] = Field(
        default_factory=dict, description="what crash recovery and repair finished since the start"
    )


class Ready(Response):
    status: Literal["ready"] = "ready"
    store: str
    model: str
    degraded: list[str] = Field(
        default_factory=list,
        description="what the service answers without (a read-only data dir; vectors the store lost; an LLM "
        "endpoint whose latest call failed: answers are extractive meanwhile)",
    )


# ---- documents ----
def _html_spelling(schema: dict[str, Any]) -> None:
    """is_html's other spelling, which validation takes (a validation alias is not in the schema),
    and the model's rule that only one of them is given."""
    schema["properties"]["html"] = {
        "type": "boolean",
        "title": "Html",
        "description": "is_html, as .json files spell it; give one of the two",
    }
    schema["not"] = {"required": ["is_html", "html"]}


class NewDocument(ApiRequest):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_html_spelling)

    text: str = Field(description="article text (plain text, or HTML with is_html)")
    title: str | None = Field(None, max_length=TITLE_MAX)
    id: DocumentId | None = Field(None, description="stable id; derived from the text when absent")
    source: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=4000)
    published_at: IsoDate | None = None
    # "html" as the .json files spell it (README), so a record posts as it is stored
    is_html: bool = Field(False, validation_alias=AliasChoices("is_html", "html"))

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: Any) -> Any:
        # with both, the one pydantic did not pick would be refused as an unknown field
        if isinstance(data, dict) and "is_html" in data and "html" in data:
            raise ValueError("give is_html or html (the same flag), not both")
        return data


class IngestRequest(ApiRequest):
    documents: list[NewDocument] = Field(min_length=1, max_length=10_000)


class IngestResultOut(Response):
    id: str
    status: str = Field(description="created | unchanged | updated | duplicate of <id> | rejected: <reason>")
    chunks: int
    warnings: list[str] = Field(
        default_factory=list,
        description="what was left out of the document, such as a front-matter date that is not ISO 8601",
    )


class IngestResponse(Response):
    results: list[IngestResultOut]


class DocumentSummary(Response):
    id: str
    title: str
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    duplicate_of: str | None = None
    chunks: int
    content_hash: str
    created_at: float
    revision: int = Field(0, description="changes whenever the document's text is replaced")


class DocumentOut(DocumentSummary):
    text: str = Field(description="the cleaned text: every start/end offset refers to it")


class DocumentList(Response):
    documents: list[DocumentSummary]
    next_cursor: str | None = Field(
        None, description="null on the last page; else pass it as `cursor` to get the next page"
    )


# ---- search ----
class Filtered(ApiRequest):
    document_ids: list[DocumentId] | None = Field(None, max_length=1000)
    sources: list[Annotated[str, Field(max_length=1000)]] | None = Field(None, max_length=1000)
    published_after: IsoDate | None = None
    published_before: IsoDate | None = None


class SearchRequest(Filtered):
    query: Text
    top_k: TopK | None = None


class SearchResult(Response):
    chunk_id: str
    document_id: str
    title: str
    text: str = Field(description="== document.text[start:end]")
    start: int
    end: int
    score: float


class SearchResponse(Response):
    results: list[SearchResult]


# ---- answers ----
class AskRequest(Filtered):
    question: Text
    top_k: TopK | None = None
    stream: bool = Field(False, description="reply with Server-Sent Events: deltas, then one done event")
    history: list[str] | None = Field(
        None, max_length=50, description="earlier user questions, oldest first, for follow-ups"
    )


class Citation(Response):
    marker: int
    document_id: str
    chunk_id: str
    title: str
    quote: str = Field(description="== document.text[start:end]")
    start: int
    end: int
    content_hash: str = Field(
        description="the cited document's content_hash when it was read (GET /v1/documents/{id}): "
        "if the document's differs now, it has been replaced and start/end refer to its earlier text"
    )


class AnswerOut(Response):
    answer: str = Field(description="refers to citations with markers [1], [2] ...")
    abstained: bool
    citations: list[Citation]
    generator: str
    prompt_version: str
    warnings: list[str] = []


class SummarizeRequest(ApiRequest):
    document_ids: list[DocumentId] | None = Field(None, max_length=1000)
    query: Text | None = None
    max_words: Annotated[int, Field(ge=10, le=2000), WholeNumber] | None = None


class SummaryOut(Response):
    summary: str
    citations: list[Citation]
    generator: str
    prompt_version: str
    warnings: list[str] = []


# ---- OpenAI-compatible ----
class OpenAIRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(OpenAIRequest):
    type: str
    text: str | None = None


class ChatMessage(OpenAIRequest):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content or [] if p.text and p.type in ("text", "input_text"))


class StreamOptions(OpenAIRequest):
    include_usage: bool = Field(False, strict=True)


class ChatRequest(OpenAIRequest):
    model: str = "factdesk"
    # a chat UI sends the whole conversation each turn: a long one must not stop working at some count
    # of messages (only the last user turns are read; FACTDESK_MAX_BODY_BYTES bounds the body)
    messages: list[ChatMessage] = Field(min_length=1, max_length=100_000)
    # the fields factdesk acts on are as strict as its own routes' ("yes" is not true, "5" not 5)
    # OpenAI's schema lets `stream` be null (as not streaming); a string is still a 400
    stream: bool | None = Field(False, strict=True)
    stream_options: StreamOptions | None = Field(
        None, description='{"include_usage": true}: a last chunk with no choices carries `usage`'
    )
    top_k: TopK | None = Field(None, strict=True, description="factdesk extension: passages to retrieve")


class ModelCard(Response):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(Response):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class AssistantMessage(Response):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(Response):
    index: int
    message: AssistantMessage
    finish_reason: str


class Usage(Response):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(Response):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[Citation] = Field(description="the sources behind the [n] markers in the content")
    system_fingerprint: str | None = Field(None, description="the prompt_version of the answer")
    generator: str | None = Field(
        None, description='"extractive" offline (or after a model failed), else the model'
    )
    warnings: list[str] = Field(
        default_factory=list, description="as /v1/ask's: a model that failed, a question not read in English"
    )


def sse_docs(description: str, example: Any, json_data: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entry for a route that can also answer text/event-stream (one itemSchema per event)."""
    data: dict[str, Any] = {"type": "string"}
    if json_data:
        data.update(contentMediaType="application/json", contentSchema={"type": "object"})
    event = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": data,
            "event": {"type": "string"},
            "id": {"type": "string"},
            "retry": {"type": "integer", "minimum": 0},
        },
    }
    return {
        200: {
            "content": {"text/event-stream": {"itemSchema": event, "example": example}},
            "description": description,
        }
    }
