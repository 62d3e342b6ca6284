// API types: aliases of the schemas generated from the backend's OpenAPI document
// (web/openapi.json → `npm run gen:api` → openapi.d.ts), plus the few client-side shapes.
// Money arrives as decimal strings (pydantic's Decimal); convert with `num()` in lib/format.ts.
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type Num = number | string;

export type StoredSeries = Schemas["StoredSeries"];
export type CandlesOut = Schemas["CandlesOut"];
export type Portfolio = Schemas["PortfolioDetail"];
export type PortfolioInfo = Schemas["PortfolioInfo"];
/** The server fills in the defaults (approval off, default limits, real market). */
export type PortfolioCreate = Pick<Schemas["PortfolioCreate"], "name" | "starting_cash"> & Partial<Schemas["PortfolioCreate"]>;
export type RiskLimits = Schemas["RiskLimits"];
export type Position = Schemas["PositionOut"];
export type Trade = Schemas["TradeOut"];
export type EquityPoint = Schemas["EquityPoint"];
export type RunSummary = Schemas["RunSummary"];
export type Run = Schemas["RunDetail"];
export type RunPage = Schemas["RunPage"];
export type StartAnalysisRequest = Schemas["AnalysisStart"];
/** The Binance intervals the API accepts (an enum in the schema). */
export type Interval = NonNullable<StartAnalysisRequest["interval"]>;
export type RunCreated = Schemas["RunAccepted"];
/** The server fills in the defaults (cash, fees, warm-up…): the form sends the essentials. */
export type BacktestRequest = Pick<Schemas["BacktestParams"], "symbol" | "interval" | "start" | "end" | "every"> &
  Partial<Schemas["BacktestParams"]>;
export type BacktestEstimate = Schemas["CostEstimateOut"];
export type BacktestResult = Schemas["BacktestResultOut"];
export type Usage = Schemas["Usage"];
export type UsageRow = Schemas["UsageRow"];
export type BudgetStatus = Schemas["BudgetStatus"];
export type AgentLog = Schemas["AgentLogOut"];
export type AgentLogPage = Schemas["AgentLogPage"];
export type ErrorResponse = Schemas["ErrorResponse"];

/** One bar with its indicator columns flattened onto it (see `api.candles`). */
export type Candle = Omit<Schemas["CandleRow"], "indicators"> & {
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
};
export type CandlesResponse = Omit<CandlesOut, "candles"> & { candles: Candle[] };

export type Metrics = Record<string, unknown>;
export interface BaselineResult {
  name: string;
  metrics: Metrics | null;
  note?: string | null;
}

// ---- run events (graph/events.py); `seq` is the SSE id, added client-side -----------------

type WithSeq<T> = T & { seq?: number };
export type RunStartedEvent = WithSeq<Schemas["RunStarted"]>;
export type NodeStartedEvent = WithSeq<Schemas["NodeStarted"]>;
export type TokenEvent = WithSeq<Schemas["Token"]>;
export type AgentOutputEvent = WithSeq<Schemas["AgentOutput"]>;
export type DecisionEvent = WithSeq<Schemas["Decision"]>;
export type TradeEventData = WithSeq<Schemas["TradeEvent"]>;
export type BudgetEventData = WithSeq<Schemas["BudgetEvent"]>;
export type ProgressEvent = WithSeq<Schemas["Progress"]>;
export type ErrorEventData = WithSeq<Schemas["ErrorEvent"]>;
export type RunFinishedEvent = WithSeq<Schemas["RunFinished"]>;

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

// Every event name once: `satisfies` makes a missing or unknown name a type error, so the SSE
// listeners in hooks.ts follow graph/events.py through the generated schema.
const EVENT_NAMES = {
  run_started: true,
  node_started: true,
  token: true,
  agent_output: true,
  decision: true,
  trade: true,
  budget: true,
  progress: true,
  error: true,
  run_finished: true,
} satisfies Record<RunEvent["type"], true>;

export const EVENT_TYPES = Object.keys(EVENT_NAMES) as readonly RunEvent["type"][];
