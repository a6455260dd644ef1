"""The one settings object read by the CLI, the API and the Discord bot.

Values come from the environment (``KIJI_*``, plus ``DISCORD_TOKEN``) or a ``.env`` file, and are
validated when read so a bad deployment fails at start-up rather than on the first question. Data
paths default under ``KIJI_HOME`` (``models/``, ``var/``); the corpus defaults to the shipped one.
Only the edges and the composition root (``kiji.runtime``) read settings: the core gets values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
from kiji.retrieval.embedding.embedder import Runtime
from kiji.retrieval.embedding.model_files import MARKER_FILE
from kiji.retrieval.embedding.models import registry
from kiji.retrieval.embedding.models.spec import ModelSpec
from kiji.retrieval.validation import DEFAULT_TOP_K, MAX_QUESTION_CHARS, MAX_TOP_K

#: Where ``kiji model prepare`` writes the models it knows (``registry.MODELS``), under ``KIJI_HOME``.
MODELS_SUBDIR = Path("models")


def checkout_root() -> Path | None:
    """The repository checkout kiji runs from (an editable install, as scripts/setup.sh makes), or
    ``None`` for an installed wheel."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "retrieval").is_dir():
        return checkout
    return None


def default_home() -> Path:
    """``KIJI_HOME`` when unset: the checkout kiji runs from, else the working directory. An
    installed wheel never writes next to its own files."""
    return checkout_root() or Path.cwd()


def _under_home(*parts: str) -> Any:
    return Field(default_factory=lambda data: Path(data["home"]).joinpath(*parts))


def _split_list(value: object) -> object:
    """Accept ``a,b`` or JSON-ish lists from the environment for list settings."""
    if isinstance(value, str):
        stripped = value.strip()
        if not stripped:
            return []
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KIJI_", env_file=".env", extra="ignore", validate_default=True
    )

    #: Where models/ and var/ live (see ``default_home``); the paths below default under it.
    home: Path = Field(default_factory=default_home)

    # --- corpus and index -------------------------------------------------------------------
    corpus_dir: Path = SHIPPED_CORPUS_DIR
    index_dir: Path = _under_home("var", "index")
    chunk_min_chars: int = Field(150, ge=20, le=4000)
    chunk_max_chars: int = Field(400, ge=40, le=8000)
    chunk_overlap_sentences: int = Field(1, ge=0, le=5)
    #: A sentence longer than this is quoted in pieces cut at commas or semicolons.
    max_quote_chars: int = Field(300, ge=40, le=8000)
    #: Keep the unrelated posts that blogs append after "Popular posts from this blog".
    include_footer_posts: bool = False
    keep_versions: int = Field(3, ge=1, le=100)
    #: The builder's passage vector cache (SQLite); unset: ``<index dir>/cache``. With the index on
    #: shared storage, point it at the builder's local disk (SQLite wants local file locks).
    cache_dir: Path | None = None
    #: Above this many vectors the index switches from exact search to HNSW.
    ann_threshold: int = Field(200_000, ge=1)
    #: From this many chunks on, a build writes a compact version: chunk vectors in an IVF index over
    #: 8-bit codes, sentence vectors as int8 (a quarter of the memory; see docs/scaling.md).
    compact_threshold: int = Field(500_000, ge=1)
    embed_batch_size: int = Field(16, ge=1, le=512)
    #: Memory-map the vector index on load (large indexes: pages load on demand, shared by workers).
    index_mmap: bool = False
    #: Largest article (a one-article file, or one record of a .jsonl/.csv file: the format
    #: registry, kiji.corpus.formats) a build reads or `index add` accepts. The shipped articles are under 20 KB; a 50 MB file took 1.7 GB and minutes.
    max_article_bytes: int = Field(5_000_000, ge=1_000)

    # --- articles from the web (`kiji index add URL`, `kiji feed`, POST /v1/articles) ----------
    #: CIDRs kiji may fetch from although they are loopback, private, link-local or metadata
    #: addresses (comma-separated; empty: none, so the server cannot be turned against its network).
    fetch_allowed_networks: str = ""
    #: Seconds to connect, and between two reads of one response.
    fetch_connect_timeout: float = Field(10.0, gt=0, le=300)
    fetch_read_timeout: float = Field(30.0, gt=0, le=600)
    #: Seconds between two requests to one host (robots.txt's Crawl-delay when it asks for more).
    fetch_delay: float = Field(1.0, ge=0, le=3600)

    # --- distributed builds (`kiji index build --ray`, the `ray` extra) ----------------------
    #: A running Ray cluster (`ray://head:10001` or `head:6379`) for `--ray` without an address;
    #: unset: `--ray` starts a local instance for the build.
    ray_address: str | None = None
    #: Actors embedding at once (one encoder each), CPUs and encoder threads per actor.
    ray_actors: int = Field(2, ge=1, le=100_000)
    ray_threads_per_actor: int = Field(1, ge=1, le=64)
    #: Passages per actor call (one Ray Data block).
    ray_batch_size: int = Field(256, ge=1, le=100_000)
    #: Restarts of a dead actor and retries of its block before the build fails.
    ray_max_retries: int = Field(3, ge=0, le=100)
    #: CPUs of the local instance `--ray` starts without an address.
    ray_local_cpus: int = Field(2, ge=1, le=1024)

    # --- embedding model --------------------------------------------------------------------
    #: A model kiji prepares offline, by name (``embeddinggemma-300m``, ``multilingual-e5-small``;
    #: ``kiji model list``), or any sentence-transformers model id or local folder. Empty: the
    #: default (``registry.DEFAULT``), or the fallback where only that one could be prepared.
    embedding_model: str = ""
    embedding_runtime: Runtime = "auto"
    #: Threads for the embedding runtime and FAISS. One each holds latency under competing load.
    embed_threads: int = Field(1, ge=1, le=64)
    faiss_threads: int = Field(1, ge=1, le=64)
    #: Threads for embedding during `kiji index build` (an offline batch job); 0 = every core.
    build_threads: int = Field(0, ge=0, le=64)

    # --- answering --------------------------------------------------------------------------
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K)
    #: Cosine below which kiji declines; calibrated for the default model. Set it when you
    #: change KIJI_EMBEDDING_MODEL (similarities differ from model to model).
    min_similarity: float | None = Field(None, ge=-1.0, le=1.0)
    #: A fitted answer model (``kiji fit``); unset: the one shipped with kiji.
    answer_model: Path | None = None
    max_question_chars: int = Field(MAX_QUESTION_CHARS, ge=10, le=100_000)

    # --- language model (optional) -----------------------------------------------------------
    #: An OpenAI-compatible chat-completions server (e.g. http://127.0.0.1:11434/v1 for Ollama).
    #: Unset: answers are extractive only, exactly as without this feature.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    #: The whole generation must finish within this; past it the extractive answer is shown.
    llm_timeout_s: float = Field(20.0, gt=0, le=600)
    llm_max_tokens: int = Field(512, ge=16, le=32_768)

    # --- HTTP API ---------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    admin_token: SecretStr | None = None
    rate_limit_per_minute: int = Field(120, ge=0)
    #: Failed authentications (API key or admin token) allowed per client IP and minute; then 429.
    auth_failures_per_minute: int = Field(10, ge=0)
    cors_origins: Annotated[list[str], NoDecode] = []
    #: Addresses (IPs or CIDR networks) of the reverse proxies whose X-Forwarded-For / -Proto kiji
    #: believes, as uvicorn's ``forwarded_allow_ips``. Empty: none, so the client is the peer
    #: address (uvicorn's own default trusts 127.0.0.1, which let any local client forge one).
    trusted_proxies: Annotated[list[str], NoDecode] = []
    watch_index: bool = True
    #: One log line per request (uvicorn's access log); metrics cover traffic without it.
    access_log: bool = True
    watch_interval_s: float = Field(2.0, gt=0, le=3600)
    #: Where people reach the web page (e.g. https://kiji.example.org); the bot links quotes to
    #: its reader. Unset: no links.
    public_url: str | None = None

    # --- Discord bot ------------------------------------------------------------------------
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "KIJI_DISCORD_TOKEN")
    )
    discord_guild_ids: Annotated[list[int], NoDecode] = []
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_cooldown_s: float = Field(10.0, ge=0, le=3600)
    #: Gateway shards. Unset: one connection, unless Discord recommends more (a bot in ~1,000+
    #: servers), then discord.py's AutoShardedClient with Discord's count; "auto": always that;
    #: a number: that many shards. ``discord_shard_ids``: the ones this process runs (several
    #: bot processes share one count: 0,1 and 2,3 of 4).
    discord_shards: str | None = None
    discord_shard_ids: Annotated[list[int], NoDecode] = []
    feedback_db: Path = _under_home("var", "feedback.sqlite3")
    #: Salt for hashing Discord user ids in the feedback store; random per database when unset.
    feedback_salt: SecretStr | None = None

    @field_validator("api_keys", "cors_origins", "trusted_proxies", "discord_guild_ids", "discord_shard_ids",
                     mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)") from None
        return value

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            if not value:
                return None
            # No spaces, brackets or quotes: the URL goes into Markdown links and HTML as it is.
            if not value.lower().startswith(("http://", "https://")) or any(
                    c.isspace() or c in "()[]<>\"'`" for c in value):
                raise ValueError("KIJI_PUBLIC_URL must be an http:// or https:// URL, e.g. https://kiji.example.org")
        return value

    @field_validator("llm_base_url", "llm_model", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # The value is not echoed: a URL may carry credentials (http://user:pass@host).
        if value is not None and not value.strip().lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://127.0.0.1:11434/v1")
        return value.strip() if value else value

    @field_validator("discord_api_base", "discord_gateway_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        schemes = ("http", "https") if info.field_name == "discord_api_base" else ("ws", "wss", "http", "https")
        try:
            parts = urlsplit(value.strip())
            ok = parts.scheme in schemes and bool(parts.hostname) and (parts.port or 1) > 0
        except ValueError:  # a bad port or an unclosed [IPv6]
            ok = False
        if not ok:
            raise ValueError(f"must be a URL like {schemes[0]}://host[:port]/path")
        return value.strip()

    @field_validator("discord_shards")
    @classmethod
    def _shards(cls, value: str | None) -> str | None:
        value = (value or "").strip().lower()
        if not value:
            return None
        if value != "auto" and not (value.isdigit() and 1 <= int(value) <= 100_000):
            raise ValueError("must be auto or a shard count (1 or more)")
        return value if value == "auto" else str(int(value))

    @model_validator(mode="after")
    def _shard_ids(self) -> Settings:
        if self.discord_shard_ids:
            if self.discord_shards is None or self.discord_shards == "auto":
                raise ValueError("discord_shard_ids needs discord_shards set to the total shard count")
            count = int(self.discord_shards)
            if any(not 0 <= i < count for i in self.discord_shard_ids) \
                    or len(set(self.discord_shard_ids)) != len(self.discord_shard_ids):
                raise ValueError(f"discord_shard_ids must be distinct ids from 0 to {count - 1}")
        return self

    @model_validator(mode="after")
    def _chunk_bounds(self) -> Settings:
        if self.chunk_min_chars >= self.chunk_max_chars:
            raise ValueError("chunk_min_chars must be smaller than chunk_max_chars")
        return self

    @model_validator(mode="after")
    def _llm_pair(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("KIJI_LLM_BASE_URL is set but KIJI_LLM_MODEL is not: name the model to use")
        if self.llm_model and not self.llm_base_url:
            raise ValueError("KIJI_LLM_MODEL is set but KIJI_LLM_BASE_URL is not "
                             "(for example http://127.0.0.1:11434/v1, or https://api.openai.com/v1)")
        return self

    def prepared_dir(self, spec: ModelSpec) -> Path:
        return self.home / MODELS_SUBDIR / spec.folder

    @property
    def model_spec(self) -> ModelSpec | None:
        """The known model in use, or None for a user's own sentence-transformers model. Left
        empty, the setting means the default; where only the fallback is prepared (setup could
        not reach the default's mirror), the fallback, so kiji still runs."""
        if self.embedding_model:
            spec = registry.get(self.embedding_model)
            if spec is not None:
                return spec
            path = Path(self.embedding_model)
            return next((s for s in registry.MODELS.values() if path == self.prepared_dir(s)), None)
        default, fallback = registry.MODELS[registry.DEFAULT], registry.MODELS[registry.FALLBACK]
        if not (self.prepared_dir(default) / MARKER_FILE).is_file() \
                and (self.prepared_dir(fallback) / MARKER_FILE).is_file():
            return fallback
        return default

    @property
    def model_dir(self) -> Path:
        """The prepared folder of the known model in use (the default's when a user model is set)."""
        return self.prepared_dir(self.model_spec or registry.MODELS[registry.DEFAULT])

    @property
    def model_name(self) -> str:
        """What to load: a prepared model's folder, or the user's model id or path."""
        return str(self.model_dir) if self.model_spec else self.embedding_model

    @property
    def uses_default_model(self) -> bool:
        """A model kiji prepares (``kiji model prepare``), not a user's own."""
        return self.model_spec is not None
