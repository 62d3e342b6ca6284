"""One settings object for the whole firm, read from the environment (and `.env`).

Every knob is documented in `.env.example`; nothing else reads `os.environ` directly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

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
    """USD per one million tokens, and the model's training cutoff (memorisation guard)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    training_cutoff: date | None = Field(
        default=None,
        description="last day the model's training data may cover; a backtest before it "
        "measures memory, not skill (None: unknown, or no training data as for rules)",
    )


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "rules": ModelPrice(input_per_mtok=Decimal(0), output_per_mtok=Decimal(0)),
    "gpt-4o-mini": ModelPrice(
        input_per_mtok=Decimal("0.15"),
        output_per_mtok=Decimal("0.60"),
        training_cutoff=date(2023, 10, 31),
    ),
    "gpt-4o": ModelPrice(
        input_per_mtok=Decimal("2.50"),
        output_per_mtok=Decimal("10.00"),
        training_cutoff=date(2023, 10, 31),
    ),
    "gpt-4.1-mini": ModelPrice(
        input_per_mtok=Decimal("0.40"),
        output_per_mtok=Decimal("1.60"),
        training_cutoff=date(2024, 6, 30),
    ),
    "gpt-4.1": ModelPrice(
        input_per_mtok=Decimal("2.00"),
        output_per_mtok=Decimal("8.00"),
        training_cutoff=date(2024, 6, 30),
    ),
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

    log_level: str = "INFO"

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
