"""One settings object for the whole firm, read from the environment (and `.env`).

Every knob is documented in `.env.example`; nothing else reads `os.environ` directly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DataSourceMode(StrEnum):
    """Where the source chain starts: live Binance → local store → synthetic."""

    live = "live"
    store = "store"
    synthetic = "synthetic"


class LLMProvider(StrEnum):
    """`rules` is the offline deterministic engine; the rest speak the OpenAI protocol."""

    rules = "rules"
    openai = "openai"
    openrouter = "openrouter"
    ollama = "ollama"
    openai_compatible = "openai_compatible"


class ModelPrice(BaseModel):
    """One model entry: USD per one million tokens, plus what else the desk must know of it."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    context_tokens: int | None = Field(default=None, description="context window (tokens)")
    training_cutoff: date | None = Field(
        default=None,
        description="last day the model's training data may cover; a backtest before it "
        "measures memory, not skill (None: unknown, or no training data as for rules)",
    )


def _entry(inp: str, out: str, context: int, cutoff: date) -> ModelPrice:
    return ModelPrice(
        input_per_mtok=Decimal(inp),
        output_per_mtok=Decimal(out),
        context_tokens=context,
        training_cutoff=cutoff,
    )


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "rules": ModelPrice(input_per_mtok=Decimal(0), output_per_mtok=Decimal(0)),
    # Cutoffs: the last day of the month the provider names (the conservative end).
    "gpt-4o-mini": _entry("0.15", "0.60", 128_000, date(2023, 10, 31)),
    "gpt-4o": _entry("2.50", "10.00", 128_000, date(2023, 10, 31)),
    "gpt-4.1-mini": _entry("0.40", "1.60", 1_047_576, date(2024, 6, 30)),
    "gpt-4.1": _entry("2.00", "8.00", 1_047_576, date(2024, 6, 30)),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- persistence -----------------------------------------------------------------
    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'cryptofirm.db'}",
        description="SQLAlchemy URL. SQLite file by default; postgresql+psycopg://… in production.",
    )

    # --- market data -----------------------------------------------------------------
    data_source: DataSourceMode = DataSourceMode.store
    binance_base_url: str = "https://api.binance.com"
    binance_timeout_s: float = 10.0
    binance_max_retries: int = 5
    synthetic_seed: int = 42

    # --- models ----------------------------------------------------------------------
    llm_provider: LLMProvider = LLMProvider.rules
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model_cheap: str = "gpt-4o-mini"
    llm_model_strong: str = "gpt-4o"
    llm_max_output_tokens: int = 800
    llm_temperature: float = 0.2
    llm_timeout_s: float = 60.0
    llm_prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    llm_structured_output: Literal["json_schema", "tool_calling", "prompt"] = Field(
        default="json_schema",
        description="how the provider is asked for the answer's shape: response_format "
        "json_schema, a forced tool call, or (a provider with neither) the prompt",
    )
    llm_max_retries: int = Field(default=1, ge=0, le=5, description="client retries per call")
    llm_seed: int | None = Field(default=None, description="sampling seed, where supported")
    llm_frequency_penalty: float | None = Field(
        default=None, ge=-2, le=2, description="OpenAI frequency_penalty (small models loop)"
    )
    llm_breaker_failures: int = Field(
        default=3,
        ge=1,
        description="consecutive transport failures after which the provider is not called "
        "again in the run (or backtest)",
    )
    llm_replay: bool = Field(
        default=False,
        description="answer only from recorded model responses (llm_cache); a response "
        "missing from the recording fails the run instead of calling the model",
    )

    # --- budgets (checked before every call) ------------------------------------------
    budget_run_usd: Decimal = Decimal("0.50")
    budget_day_usd: Decimal = Decimal("5.00")
    budget_run_tokens: int = 200_000
    budget_day_tokens: int = 2_000_000
    backtest_cost_cap_usd: Decimal = Decimal("2.00")

    # --- outside inputs for the analysts ----------------------------------------------
    sentiment_provider: str = "offline"  # offline | live
    tokenomics_provider: str = "offline"  # offline | live
    fear_greed_url: str = "https://api.alternative.me/fng/"
    coingecko_base_url: str = "https://api.coingecko.com/api/v3"
    news_rss_url: str | None = None  # live sentiment: optional RSS feed of headlines

    # --- trading ---------------------------------------------------------------------
    default_portfolio_name: str = "default"
    default_starting_cash: Decimal = Decimal("10000")
    fee_rate: Decimal = Decimal("0.001")
    slippage_bps: Decimal = Decimal("5")

    # --- API -------------------------------------------------------------------------
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )
    api_key: SecretStr | None = None
    api_rate_limit_per_minute: int = 30
    api_max_body_bytes: int = 64_000
    cors_allow_credentials: bool = Field(
        default=False, description="CORS credentials; refused at startup with a '*' origin"
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="comma-separated proxy IPs (or '*') whose X-Forwarded-For/-Proto uvicorn "
        "trusts; empty trusts none, so a client cannot pick its rate-limit identity",
    )
    sse_ping_seconds: float = Field(default=15.0, gt=0, description="SSE heartbeat interval")
    api_embedded_worker: bool = Field(
        default=True,
        description="the API process also runs a worker (always needed with SQLite; with "
        "Postgres, API replicas may leave runs to `cryptofirm worker` processes)",
    )
    worker_concurrency: int = Field(
        default=4, ge=1, le=64, description="runs one worker process executes at a time"
    )
    worker_heartbeat_seconds: float = Field(
        default=2.0, gt=0, le=60, description="how often a worker says it is alive"
    )
    worker_stalled_seconds: float = Field(
        default=10.0, gt=0, le=600, description="a worker silent this long is dead: its runs resume"
    )
    worker_sweep_seconds: float = Field(
        default=2.0, gt=0, le=60, description="how often a worker looks for stalled/orphaned runs"
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness of a `cryptofirm worker` process: on a host it shares with "
        "API replicas, runs (throughput work) yield the CPU to SSE relays and approvals "
        "(latency work); 0 = same priority as the API",
    )
    max_run_recoveries: int = Field(
        default=5, ge=0, le=100, description="resumes after dead workers before a run fails"
    )
    web_out_dir: Path = Field(
        default=PROJECT_ROOT / "web" / "out", description="Next.js static export served at /"
    )
    real_data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data" / "real",
        description="real Binance candle files (never copied into the repo): the demo imports "
        "them, tests and benchmarks read them",
    )

    sentiment_data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data" / "sentiment",
        description="point-in-time sentiment history (Fear & Greed daily CSV, headline files; "
        "never copied into the repo): backtests and replays read it",
    )
    worker_metrics_port: int = Field(
        default=9100,
        ge=1,
        le=65535,
        description="port of /metrics in a process without an HTTP app (`cryptofirm worker`)",
    )

    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = Field(
        default="plain",
        description="plain: human lines (make demo); json: one JSON object per line with "
        "run_id / session_id / agent / job_id where they apply (containers, CloudWatch)",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def offline_models(self) -> bool:
        return self.llm_provider is LLMProvider.rules


@lru_cache
def get_settings() -> Settings:
    return Settings()
