"""The one typed settings object; the only place environment variables are read."""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from prompts import NAMES as PROMPT_NAMES


PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("factdesk.settings")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- contract variables (../shared/CONTRACT.md) ---
    data_dir: Path = Field(Path("./.factdesk"), alias="FACTDESK_DATA_DIR")
    chroma_url: str | None = Field(None, alias="FACTDESK_CHROMA_URL")
    api_keys_raw: str | None = Field(None, alias="FACTDESK_API_KEYS")
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    llm_model: str = Field("gpt-4o-mini", alias="FACTDESK_LLM_MODEL")
    embedder: str = Field("local", alias="FACTDESK_EMBEDDER")
    # postgresql://user@host:port/db: the catalog and keyword index in PostgreSQL, shared by replicas
    database_url: str | None = Field(None, alias="FACTDESK_DATABASE_URL")

    # --- factdesk's own knobs ---
    articles_dir: Path = Field(Path("data/articles"), alias="FACTDESK_ARTICLES_DIR")
    collection: str = Field("factdesk", alias="FACTDESK_COLLECTION")
    chunk_tokens: int = Field(200, alias="FACTDESK_CHUNK_TOKENS", ge=32, le=2000)
    chunk_overlap_tokens: int = Field(50, alias="FACTDESK_CHUNK_OVERLAP_TOKENS", ge=0, le=500)
    embed_batch_size: int = Field(32, alias="FACTDESK_EMBED_BATCH_SIZE", ge=1, le=1024)
    # bf16: ~2.6x sentence-transformers' fp32 speed on this AVX-512 CPU, cosine >= 0.9999 (BENCHMARKS.md)
    embed_precision: str = Field("bf16", alias="FACTDESK_EMBED_PRECISION")
    # what embeds in bulk (ingest): the model as an OpenVINO graph, or in torch (~20% slower here)
    bulk_encoder: Literal["openvino", "torch"] = Field("openvino", alias="FACTDESK_BULK_ENCODER")
    torch_threads: int = Field(0, alias="FACTDESK_TORCH_THREADS", ge=0)  # model threads; 0: all cores
    # questions are embedded without torch: by the bulk model's OpenVINO graph (bf16, 2.9 ms p50 a
    # question), ONNX runtime (fp32, 4.5 ms) or numpy (fp32, 7.3 ms)
    query_encoder: Literal["openvino", "onnx", "numpy"] = Field("openvino", alias="FACTDESK_QUERY_ENCODER")
    # the local embedder's fine-tuned weights (training/train_embedder.py --out); unset: the base model.
    # Another file is another vector space: a store written with another is re-embedded by `factdesk doctor --repair`
    embedder_weights: Path | None = Field(None, alias="FACTDESK_EMBEDDER_WEIGHTS")
    near_duplicate_threshold: float = Field(0.8, alias="FACTDESK_NEAR_DUPLICATE_THRESHOLD", gt=0, le=1)

    # the offline answer engine: the trained cross-encoder reader (answers/reader.py) or the trained
    # feature ranker (answers/ranker.py); the first version's hand-written rules were removed once the
    # reader beat them on the blind sets (docs/evals.md)
    answerer: Literal["reader", "ranker"] = Field("reader", alias="FACTDESK_ANSWERER")
    # int8: the reader's dense layers in int8 (calibrated ranges and threshold in its config.json):
    # about 40% less time an ask, and a few more questions declined (BENCHMARKS.md)
    reader_precision: Literal["bf16", "int8"] = Field("bf16", alias="FACTDESK_READER_PRECISION")
    # the reader's weights: a folder training/train_reader.py --out wrote; unset: the shipped ones
    reader_dir: Path | None = Field(None, alias="FACTDESK_READER_DIR")

    # which retrievers feed the fusion; "hybrid" is the measured default (evals/questions.yaml)
    search_mode: Literal["hybrid", "dense", "lexical"] = Field("hybrid", alias="FACTDESK_SEARCH_MODE")
    default_top_k: int = Field(5, alias="FACTDESK_TOP_K", ge=1)
    max_top_k: int = Field(50, alias="FACTDESK_MAX_TOP_K", ge=1)
    max_question_chars: int = Field(2000, alias="FACTDESK_MAX_QUESTION_CHARS", ge=1)
    max_body_bytes: int = Field(20 * 1024 * 1024, alias="FACTDESK_MAX_BODY_BYTES", ge=1024)
    max_document_chars: int = Field(2_000_000, alias="FACTDESK_MAX_DOCUMENT_CHARS", ge=100)
    max_file_bytes: int = Field(20 * 1024 * 1024, alias="FACTDESK_MAX_FILE_BYTES", ge=1024)
    # `factdesk ingest URL` / `factdesk watch`: limits on each fetched feed or page (retrieval/fetch.py)
    fetch_timeout_s: float = Field(20.0, alias="FACTDESK_FETCH_TIMEOUT_S", gt=0)
    fetch_max_bytes: int = Field(10 * 1024 * 1024, alias="FACTDESK_FETCH_MAX_BYTES", ge=1024)
    fetch_max_redirects: int = Field(5, alias="FACTDESK_FETCH_MAX_REDIRECTS", ge=0, le=30)
    fetch_user_agent: str = Field("factdesk/0.1 (+feed reader)", alias="FACTDESK_FETCH_USER_AGENT")
    # a public feed's links (and a public page's redirects) may not reach private, loopback or
    # link-local addresses; true lets every fetch reach any address
    fetch_any_address: bool = Field(False, alias="FACTDESK_FETCH_ANY_ADDRESS")
    summary_max_words: int = Field(120, alias="FACTDESK_SUMMARY_MAX_WORDS", ge=10)
    # GET /v1/documents: a page when the client names no limit, and the largest it may ask for
    documents_page_size: int = Field(1000, alias="FACTDESK_DOCUMENTS_PAGE_SIZE", ge=1)
    documents_max_page_size: int = Field(10_000, alias="FACTDESK_DOCUMENTS_MAX_PAGE_SIZE", ge=1)

    # PostgreSQL (FACTDESK_DATABASE_URL): connections each replica keeps at most, and how long a
    # request waits for one (or for the server to answer a connect) before it fails with a 503
    database_pool_size: int = Field(10, alias="FACTDESK_DATABASE_POOL_SIZE", ge=2, le=1000)
    database_timeout_s: float = Field(5.0, alias="FACTDESK_DATABASE_TIMEOUT_S", gt=0)
    # how long a write waits for another replica's write (the advisory lock) before a 503
    database_write_wait_s: float = Field(300.0, alias="FACTDESK_DATABASE_WRITE_WAIT_S", gt=0)
    # how long a statement waits for the server's answer on an open connection before a 503 (a stalled
    # host answers nothing and ends nothing); longer than any statement the catalog runs
    database_statement_timeout_s: float = Field(60.0, alias="FACTDESK_DATABASE_STATEMENT_TIMEOUT_S", gt=0)

    # seconds between retries of crash recovery that the vector store could not answer at start
    recovery_retry_s: float = Field(5.0, alias="FACTDESK_RECOVERY_RETRY_S", gt=0)
    # seconds between sweeps for what a writer that died (another replica, killed mid-write) left
    # unfinished; 0: only at start and before each write
    recovery_sweep_s: float = Field(60.0, alias="FACTDESK_RECOVERY_SWEEP_S", ge=0)

    llm_timeout_s: float = Field(30.0, alias="FACTDESK_LLM_TIMEOUT_S", gt=0)
    # seconds between keep-alive comments on a quiet answer stream: under the usual 30-60 s idle
    # timeouts of proxies and chat UIs
    sse_ping_s: float = Field(15.0, alias="FACTDESK_SSE_PING_S", gt=0)
    llm_max_retries: int = Field(2, alias="FACTDESK_LLM_MAX_RETRIES", ge=0, le=10)
    llm_context_tokens: int = Field(16000, alias="FACTDESK_LLM_CONTEXT_TOKENS", ge=1000)
    llm_answer_tokens: int = Field(800, alias="FACTDESK_LLM_ANSWER_TOKENS", ge=50)
    prompts_dir: Path | None = Field(None, alias="FACTDESK_PROMPTS_DIR")
    # "json": one JSON object a line (time, level, logger, message, request_id; access lines add
    # method, path, status, duration_ms), for log collectors; "text": uvicorn's style, for people
    log_format: Literal["text", "json"] = Field("text", alias="FACTDESK_LOG_FORMAT")
    # Host header names the server answers (against DNS rebinding); unset: any
    allowed_hosts_raw: str | None = Field(None, alias="FACTDESK_ALLOWED_HOSTS")

    @field_validator(
        "chroma_url",
        "api_keys_raw",
        "openai_api_key",
        "openai_base_url",
        "allowed_hosts_raw",
        "database_url",
        "reader_dir",
        "embedder_weights",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("data_dir", "articles_dir", mode="before")
    @classmethod
    def _blank_path_is_default(cls, v: object, info: ValidationInfo) -> object:
        # FACTDESK_DATA_DIR= (set but empty) must not mean "the current folder"
        if isinstance(v, str) and not v.strip():
            return cls.model_fields[str(info.field_name)].default
        return v

    @model_validator(mode="after")
    def _reader_weights(self) -> Settings:
        # said at start, not as a traceback at the first question
        if self.reader_dir is not None:
            problem = reader_dir_problem(self.reader_dir, int8=self.reader_precision == "int8")
            if problem:
                raise ValueError(f"FACTDESK_READER_DIR: {problem}")
        if self.embedder_weights is not None and not self.embedder_weights.is_file():
            raise ValueError(
                f"FACTDESK_EMBEDDER_WEIGHTS: no file {self.embedder_weights} (training/train_embedder.py --out)"
            )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """Settings that only make sense together, said at start rather than as a 400 that blames every
        client, or a silent cap."""
        if self.default_top_k > self.max_top_k:
            raise ValueError(
                f"FACTDESK_TOP_K ({self.default_top_k}) is more than FACTDESK_MAX_TOP_K ({self.max_top_k})"
            )
        if self.documents_page_size > self.documents_max_page_size:
            raise ValueError(
                f"FACTDESK_DOCUMENTS_PAGE_SIZE ({self.documents_page_size}) is more than "
                f"FACTDESK_DOCUMENTS_MAX_PAGE_SIZE ({self.documents_max_page_size})"
            )
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"FACTDESK_CHUNK_OVERLAP_TOKENS ({self.chunk_overlap_tokens}) must be less than "
                f"FACTDESK_CHUNK_TOKENS ({self.chunk_tokens})"
            )
        if self.allowed_hosts_raw is not None and not self.allowed_hosts:
            raise ValueError("FACTDESK_ALLOWED_HOSTS names no host (leave it unset to serve every host)")
        if self.api_keys_raw is not None and not self.api_keys:
            # " , ," would otherwise serve every caller without a key, while the operator believes
            # keys are required
            raise ValueError("FACTDESK_API_KEYS names no key (leave it unset to serve without keys)")
        if any(c in self.fetch_user_agent for c in "\r\n\0"):
            raise ValueError("FACTDESK_FETCH_USER_AGENT must be one line")
        if self.prompts_dir is not None:
            missing = [f"{n}.md" for n in PROMPT_NAMES if not (self.prompts_dir / f"{n}.md").is_file()]
            if missing:
                raise ValueError(f"FACTDESK_PROMPTS_DIR: {self.prompts_dir} lacks {', '.join(missing)}")
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ValueError(f"FACTDESK_DATA_DIR: {self.data_dir} is a file, not a folder")
        return self

    @field_validator("chroma_url", "openai_base_url")
    @classmethod
    def _http_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        # said at start: "127.0.0.1:8001" was reported as a server that does not answer, and
        # OPENAI_BASE_URL=notaurl as a connection error at every question
        if v is None:
            return v
        name, example = {
            "chroma_url": ("FACTDESK_CHROMA_URL", "http://127.0.0.1:8001"),
            "openai_base_url": ("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
        }[str(info.field_name)]
        try:
            parts = urlsplit(v.strip())
            parts.port  # noqa: B018 (reading it checks it)
        except ValueError as e:
            raise ValueError(f"{name} is not a URL ({e}); e.g. {example}") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name} must be an http:// or https:// URL with a host, e.g. {example}")
        return v.strip()

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("FACTDESK_DATABASE_URL must be a postgresql:// URL")
        return v

    @field_validator("allowed_hosts_raw")
    @classmethod
    def _host_patterns(cls, v: str | None) -> str | None:
        # Starlette's TrustedHostMiddleware takes "*" alone or a leading "*." only; say so at start
        for host in (h.strip() for h in (v or "").split(",")):
            if "*" in host[1:] or (host.startswith("*") and host != "*" and not host.startswith("*.")):
                raise ValueError(
                    f"FACTDESK_ALLOWED_HOSTS: {host!r}: a wildcard must be '*' or lead as '*.domain'"
                )
        return v

    @property  # not cached: a model_copy(update=...) of these settings must not keep the old list
    def allowed_hosts(self) -> tuple[str, ...]:
        """Lower-cased host names (no port) from FACTDESK_ALLOWED_HOSTS; empty: every host."""
        return tuple(h.strip().lower() for h in (self.allowed_hosts_raw or "").split(",") if h.strip())

    @cached_property
    def api_keys(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in (self.api_keys_raw or "").split(",") if k.strip())

    @property
    def articles_path(self) -> Path:
        """articles_dir; a relative one not found from here is looked up in the project checkout,
        so `factdesk serve` and `factdesk eval` work from any folder."""
        folder = Path(self.articles_dir)
        if not folder.is_absolute() and not folder.exists() and (PROJECT_ROOT / folder).exists():
            return PROJECT_ROOT / folder
        return folder

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and .env); keyword overrides use field names."""
    base = Settings()
    for problem in unknown_variables(os.environ, Path(".env")):
        log.warning("%s", problem)
    if base.database_url and not base.chroma_url:
        log.warning(
            "FACTDESK_DATABASE_URL is set without FACTDESK_CHROMA_URL: the vectors stay in this "
            "process's data dir, where other replicas of the shared catalog do not see them "
            "(docs/postgres.md)"
        )
    return base.model_copy(update=overrides) if overrides else base


def unknown_variables(environ: Mapping[str, str], env_file: Path | None) -> list[str]:
    """FACTDESK_ names (in the environment or .env) that are no setting: a misspelt one
    (FACTDESK_TOPK) would otherwise be ignored without a word."""
    known = {f.alias for f in Settings.model_fields.values() if f.alias}
    names = {(k, "environment") for k in environ}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values  # pydantic-settings' own reader of .env

        names |= {(k, str(env_file)) for k in dotenv_values(env_file)}
    out = []
    for name, where in sorted(names):
        if name.startswith("FACTDESK_") and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            out.append(f"{name} (in the {where}) is not a factdesk setting and is ignored{hint}")
    return out


def reader_dir_problem(folder: Path, int8: bool = False) -> str | None:
    """What keeps a folder from serving as the reader's weights (in int8: with its calibration), or None."""
    missing = [n for n in ("reader.npz", "config.json") if not (folder / n).is_file()]
    if missing:
        return f"{folder} has no {' or '.join(missing)} (the folder training/train_reader.py --out writes)"
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        threshold = float(config["threshold"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"{folder}/config.json has no numeric threshold ({e})"
    if not 0.0 <= threshold <= 1.0:
        return f"{folder}/config.json's threshold {threshold} is not in [0, 1]"
    if int8 and "int8" not in config:
        return f"{folder}/config.json has no int8 calibration (python -m training.calibrate_reader writes it)"
    return None


def isolated_settings(data_dir: Path, **overrides: object) -> Settings:
    """Default settings over data_dir that ignore the environment and any .env file: offline, no
    API keys, embedded Chroma, SQLite catalog. What tests and benchmarks run on, whatever the developer's shell holds."""
    values: dict[str, Any] = {
        "FACTDESK_DATA_DIR": str(data_dir),
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
        "FACTDESK_API_KEYS": None,
        "FACTDESK_CHROMA_URL": None,
        "FACTDESK_DATABASE_URL": None,
        "FACTDESK_READER_DIR": None,
        "FACTDESK_ARTICLES_DIR": str(PROJECT_ROOT / "data" / "articles"),
    }
    base = Settings(_env_file=None, **values)
    return base.model_copy(update=overrides) if overrides else base
