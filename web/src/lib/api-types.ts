// Hand-written API types, mirroring docs/architecture.md (REST API) and graph/events.py.
// Replaced by types generated from web/openapi.json (`npm run gen:api`) once the API exports it.
// Money travels as JSON numbers or as decimal strings (pydantic serialises Decimal as a string),
// so amounts are typed `Num` and converted with `num()` in lib/format.ts.

export type Num = number | string;

export type DataSource = "binance" | "store" | "import" | "synthetic" | string;

export interface Health {
  status: string;
}

export interface Candle {
  time: string | number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  ema_20?: number | null;
  ema_50?: number | null;
  ema_200?: number | null;
  bb_upper?: number | null;
  bb_middle?: number | null;
  bb_lower?: number | null;
  rsi_14?: number | null;
  macd?: number | null;
  macd_signal?: number | null;
  macd_hist?: number | null;
  /** as sent by the API; `api.candles` flattens it onto the bar */
  indicators?: Record<string, number | null>;
}

export interface CandlesResponse {
  symbol: string;
  interval: string;
  source: DataSource;
  candles: Candle[];
}

export interface Position {
  symbol: string;
  quantity: Num;
  avg_entry_price: Num;
  mark_price?: Num | null;
  market_value?: Num | null;
  unrealized_pnl?: Num | null;
  stop_loss?: Num | null;
  take_profit?: Num | null;
}

export interface Portfolio {
  id: number;
  name: string;
  base_currency?: string;
  starting_cash: Num;
  cash?: Num;
  equity?: Num;
  positions_value?: Num;
  realized_pnl?: Num;
  unrealized_pnl?: Num;
  fees_paid?: Num;
  return_pct?: Num;
  require_approval?: boolean;
  positions?: Position[];
}

export interface Trade {
  id: number;
  run_id?: string | null;
  symbol: string;
  side: "buy" | "sell";
  quantity: Num;
  price: Num;
  fee: Num;
  reason?: string;
  executed_at: string;
}

export interface EquityPoint {
  at: string;
  equity: Num;
  cash?: Num;
}

export type RunStatus =
  | "pending"
  | "running"
  | "paused"
  | "completed"
  | "failed"
  | "cancelled"
  | "budget_exceeded";

export interface Run {
  id: string;
  kind: "analysis" | "backtest";
  status: RunStatus;
  symbol: string;
  interval: string;
  portfolio_id?: number | null;
  params?: Record<string, unknown>;
  progress?: number;
  result?: Record<string, unknown> | null;
  error?: string | null;
  model?: string | null;
  data_source?: DataSource | null;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface StartAnalysisRequest {
  symbol: string;
  interval: string;
  portfolio_id?: number | null;
  execute: boolean;
}

export interface RunCreated {
  run_id: string;
  status: string;
  events_url: string;
}

export interface BacktestRequest {
  symbol: string;
  interval: string;
  start: string;
  end: string;
  every: number;
  max_cost_usd?: number | null;
}

export interface BacktestEstimate {
  decision_points: number;
  agent_calls: number;
  /** false when the model is the rules engine: no metered calls */
  metered: boolean;
  llm_calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  usd: Num;
  cap_usd: Num;
  within_cap: boolean;
  model_cheap: string;
  model_strong: string;
}

/** `[open time, equity]` pairs */
export type BacktestEquityPoint = [string, number];

export interface BaselineResult {
  name: string;
  metrics: Metrics | null;
  note?: string | null;
}

export type Metrics = Record<string, number | string | null>;

export interface BacktestResult {
  run_id: string;
  partial: boolean;
  metrics: Metrics;
  baselines: Record<string, BaselineResult>;
  decision_spread: Record<string, number>;
  equity_curve: BacktestEquityPoint[];
  trades: Record<string, unknown>[];
  warnings: string[];
}

export interface UsageRow {
  key: string;
  calls: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: Num;
}

/** Today's (UTC) spend against the daily budget, plus the per-run limits. */
export interface BudgetStatus {
  day: string;
  spent_usd: Num;
  limit_usd: Num;
  spent_tokens: number;
  limit_tokens: number;
  exceeded: boolean;
  reason?: string | null;
  run_limit_usd: Num;
  run_limit_tokens: number;
}

export interface AgentLog {
  id: number;
  run_id?: string | null;
  agent: string;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: Num;
  latency_ms: number;
  ok: boolean;
  cached?: boolean;
  created_at: string;
}

// ---- run events (graph/events.py) --------------------------------------------------------

interface EventBase {
  run_id: string;
  at: string;
  /** the SSE id, i.e. the persisted run_events.seq — added client-side */
  seq?: number;
}

export interface RunStartedEvent extends EventBase {
  type: "run_started";
  kind: "analysis" | "backtest";
  symbol: string;
  interval: string;
  model_cheap: string;
  model_strong: string;
  data_source?: DataSource | null;
}
export interface NodeStartedEvent extends EventBase {
  type: "node_started";
  node: string;
}
export interface TokenEvent extends EventBase {
  type: "token";
  node: string;
  message_id: string;
  text: string;
}
export interface AgentOutputEvent extends EventBase {
  type: "agent_output";
  node: string;
  model: string;
  output: Record<string, unknown>;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  latency_ms?: number;
  fallback: boolean;
}
export interface DecisionEvent extends EventBase {
  type: "decision";
  action: "buy" | "sell" | "hold";
  size_pct: number;
  entry?: number | null;
  stop_loss?: number | null;
  take_profit?: number | null;
  approved: boolean;
  reasons: string[];
  awaiting_approval: boolean;
}
export interface TradeEventData extends EventBase {
  type: "trade";
  portfolio_id: number;
  trade_id: number | null;
  symbol: string;
  side: "buy" | "sell";
  quantity: number;
  price: number;
  fee: number;
}
export interface BudgetEventData extends EventBase {
  type: "budget";
  scope: "run" | "day";
  spent_usd: number;
  limit_usd: number;
  spent_tokens: number;
  limit_tokens: number;
  exceeded: boolean;
  reason?: string | null;
}
export interface ProgressEvent extends EventBase {
  type: "progress";
  done: number;
  total: number;
  equity?: number | null;
}
export interface ErrorEventData extends EventBase {
  type: "error";
  message: string;
  node?: string | null;
}
export interface RunFinishedEvent extends EventBase {
  type: "run_finished";
  status: "completed" | "failed" | "cancelled" | "budget_exceeded" | "paused";
  cost_usd: number;
  prompt_tokens: number;
  completion_tokens: number;
}

export type RunEvent =
  | RunStartedEvent
  | NodeStartedEvent
  | TokenEvent
  | AgentOutputEvent
  | DecisionEvent
  | TradeEventData
  | BudgetEventData
  | ProgressEvent
  | ErrorEventData
  | RunFinishedEvent;

export const EVENT_TYPES: readonly RunEvent["type"][] = [
  "run_started",
  "node_started",
  "token",
  "agent_output",
  "decision",
  "trade",
  "budget",
  "progress",
  "error",
  "run_finished",
] as const;
