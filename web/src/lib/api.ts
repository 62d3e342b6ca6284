// The one place that talks HTTP to the backend. Same origin (`/api`) by default; set
// NEXT_PUBLIC_API_BASE (e.g. http://127.0.0.1:8000/api) for `next dev` against uvicorn.
import type {
  AgentLogPage,
  BacktestEstimate,
  BacktestRequest,
  BacktestResult,
  BudgetStatus,
  CandlesOut,
  CandlesResponse,
  EquityPoint,
  ErrorResponse,
  Portfolio,
  PortfolioCreate,
  PortfolioInfo,
  Position,
  Run,
  RunCreated,
  RunPage,
  StartAnalysisRequest,
  StoredSeries,
  Trade,
  Usage,
} from "./api-types";
import type {
  ApprovalAnswer,
  ParityReport,
  PortfolioPatch,
  SessionCreated,
  SessionDecisionRow,
  SessionEquityPoint,
  SessionSpec,
  SessionView,
} from "./session-types";

export const API_BASE = (process.env.NEXT_PUBLIC_API_BASE ?? "/api").replace(/\/$/, "");

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The API answered "no such thing" (an unknown run, portfolio or backtest). */
  get notFound(): boolean {
    return this.status === 404;
  }

  /** The request never got an answer: the API is down or the network is. */
  get offline(): boolean {
    return this.status === 0;
  }
}

export const OFFLINE_MESSAGE = "Cannot reach the API: the server is not answering.";

/** The form's words for the API's field names (errors name fields as the API spells them). */
const FIELD_LABELS: Record<string, string> = {
  as_of: "Replay at",
  symbol: "Symbol",
  interval: "Interval",
  start: "From",
  end: "To",
  every: "Every N bars",
  portfolio_id: "Portfolio",
  starting_cash: "Starting cash",
  limit: "Number of bars",
  symbols: "Symbols",
  replay_from: "Replay from",
  until: "Until",
  speed: "Speed",
  approval: "Approval",
  approval_timeout_bars: "Approval timeout (bars)",
  max_position_pct: "Max position %",
  max_total_exposure_pct: "Max total exposure %",
  min_cash_reserve_pct: "Cash reserve %",
  max_stop_distance_pct: "Max stop distance %",
  max_daily_loss_pct: "Max daily loss %",
  max_drawdown_pct: "Max drawdown %",
  max_data_age_bars: "Max data age (bars)",
};

export function fieldLabel(field: string): string {
  const last = field.split(".").filter((p) => !/^\d+$/.test(p)).at(-1) ?? field;
  const label = FIELD_LABELS[last] ?? last.replace(/_/g, " ");
  return label.charAt(0).toUpperCase() + label.slice(1);
}

/** What the user sees for an HTTP status with no message of its own. */
function statusMessage(status: number): string {
  if (status === 404) return "Not found.";
  if (status === 429) return "Too many requests or the budget is used up: try again later.";
  if (status >= 500) return "The server hit an unexpected error; the request was not completed.";
  return `The request failed (HTTP ${status}).`;
}

/**
 * The API's one error shape is `{detail, errors?: [{field, message}]}` (api/errors.py). Field
 * errors are shown with the form's labels; a bare 500 never shows "internal server error".
 */
function describeError(body: unknown, status: number): string {
  if (!body || typeof body !== "object" || !("detail" in body)) return statusMessage(status);
  const { detail, errors } = body as ErrorResponse;
  if (errors?.length) return errors.map((e) => `${fieldLabel(e.field)}: ${plainText(e.message)}`).join("; ");
  if (status >= 500 && /internal server error/i.test(String(detail))) return statusMessage(status);
  return plainText(String(detail));
}

/**
 * A message in a trader's words: no exception class names ("ReplayDataError: …"), no
 * "run failed:" wrapper, and times as "2024-03-01 12:00 UTC" rather than ISO with microseconds.
 * Messages built for the UI already read so (graph/context.py, graph/prepare.py); this is the
 * net for the rest.
 */
export function plainText(message: string): string {
  return message
    .replace(/^run failed:\s*/i, "")
    .replace(/^(?:[A-Z][A-Za-z0-9]*\.)*[A-Z][A-Za-z0-9]*(?:Error|Exception|Exhausted|Exceeded):\s*/, "")
    .replace(/^([a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:\.[a-z0-9_]+)*):\s+/, (_, field: string) => `${fieldLabel(field)}: `)
    .replace(/\b(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(?:Z|[+-]00:?00)?/g, "$1 $2 UTC")
    .replace(/ UTC UTC/g, " UTC");
}

/**
 * Whether the API answered the latest request: the header shows one "offline" banner for the
 * whole page (cards then only grey their figures with their time).
 */
let offlineSince: number | null = null;
const listeners = new Set<() => void>();
function setOffline(offline: boolean) {
  const next = offline ? (offlineSince ?? Date.now()) : null;
  if (next === offlineSince) return;
  offlineSince = next;
  for (const l of listeners) l();
}
export const connection = {
  subscribe(listener: () => void) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  offlineSince: () => offlineSince,
};

export async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      ...init,
      headers: { Accept: "application/json", ...(init?.body ? { "Content-Type": "application/json" } : {}) },
    });
  } catch {
    setOffline(true);
    throw new ApiError(0, OFFLINE_MESSAGE, path);
  }
  setOffline(false);
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, describeError(body, res.status), path);
  return body as T;
}

const patch = <T>(path: string, payload: unknown) => request<T>(path, { method: "PATCH", body: JSON.stringify(payload) });

const post = <T>(path: string, payload?: unknown) =>
  request<T>(path, { method: "POST", body: payload === undefined ? undefined : JSON.stringify(payload) });

const qs = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
};

export const api = {
  /** Distinct stored symbols (the API lists one row per symbol and interval). */
  symbols: async () => [...new Set((await api.series()).map((s) => s.symbol))],
  /** What the candle store holds: one row per symbol and interval, with the rows' sources. */
  series: () => request<StoredSeries[]>("/market/symbols"),
  /** Candles with their indicator columns flattened onto each bar. */
  candles: async (symbol: string, interval: string, limit = 500, end?: string): Promise<CandlesResponse> => {
    const body = await request<CandlesOut>(`/market/candles${qs({ symbol, interval, limit, end })}`);
    return { ...body, candles: body.candles.map(({ indicators, ...bar }) => ({ ...bar, ...indicators })) };
  },
  portfolios: () => request<PortfolioInfo[]>("/portfolios"),
  createPortfolio: (body: PortfolioCreate) => post<PortfolioInfo>("/portfolios", body),
  updatePortfolio: (id: number, body: PortfolioPatch) => patch<PortfolioInfo>(`/portfolios/${id}`, body),
  portfolio: (id: number) => request<Portfolio>(`/portfolios/${id}`),
  positions: (id: number) => request<Position[]>(`/portfolios/${id}/positions`),
  trades: (id: number) => request<Trade[]>(`/portfolios/${id}/trades`),
  equity: (id: number) => request<EquityPoint[]>(`/portfolios/${id}/equity`),
  analysisRuns: async () => (await request<RunPage>("/analysis/runs")).items,
  analysisRun: (id: string) => request<Run>(`/analysis/runs/${id}`),
  startAnalysis: (body: StartAnalysisRequest) => post<RunCreated>("/analysis/runs", body),
  approve: (id: string, note = "") => post<RunCreated>(`/analysis/runs/${id}/approve`, { note }),
  reject: (id: string, note = "") => post<RunCreated>(`/analysis/runs/${id}/reject`, { note }),
  estimateBacktest: (body: BacktestRequest) => post<BacktestEstimate>("/backtests/estimate", body),
  startBacktest: (body: BacktestRequest) => post<RunCreated>("/backtests", body),
  backtests: async () => (await request<RunPage>("/backtests")).items,
  backtest: (id: string) => request<Run>(`/backtests/${id}`),
  backtestResult: (id: string) => request<BacktestResult>(`/backtests/${id}/result`),
  cancelBacktest: (id: string) => post<RunCreated>(`/backtests/${id}/cancel`),
  usage: async (groupBy: "day" | "model" | "agent") => (await request<Usage>(`/agents/usage${qs({ group_by: groupBy })}`)).rows,
  budget: () => request<BudgetStatus>("/agents/budget"),
  logs: async (limit = 50) => (await request<AgentLogPage>(`/agents/logs${qs({ limit })}`)).items,
  sessions: () => request<SessionView[]>("/sessions"),
  session: (id: string) => request<SessionView>(`/sessions/${id}`),
  startSession: (body: SessionSpec) => post<SessionCreated>("/sessions", body),
  sessionDecisions: (id: string, limit = 200) => request<SessionDecisionRow[]>(`/sessions/${id}/decisions${qs({ limit })}`),
  sessionEquity: (id: string) => request<SessionEquityPoint[]>(`/sessions/${id}/equity`),
  sessionControl: (id: string, action: "pause" | "resume" | "stop") => post<SessionView>(`/sessions/${id}/${action}`),
  answerApproval: (id: string, body: ApprovalAnswer) => post<SessionDecisionRow>(`/sessions/${id}/approvals`, body),
  sessionParity: (id: string) => request<ParityReport>(`/sessions/${id}/parity`),
  sessionEventsUrl: (id: string) => `${API_BASE}/sessions/${id}/events`,
  analysisEventsUrl: (id: string) => `${API_BASE}/analysis/runs/${id}/events`,
  backtestEventsUrl: (id: string) => `${API_BASE}/backtests/${id}/events`,
};
