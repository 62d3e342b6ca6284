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
}

/** The API's one error shape: `{detail, errors?: [{field, message}]}` (api/errors.py). */
function describeError(body: unknown, fallback: string): string {
  if (!body || typeof body !== "object" || !("detail" in body)) return typeof body === "string" && body ? body : fallback;
  const { detail, errors } = body as ErrorResponse;
  const fields = (errors ?? []).map((e) => `${e.field}: ${e.message}`);
  return fields.length && !fields.some((f) => String(detail).includes(f)) ? `${detail} (${fields.join("; ")})` : String(detail);
}

export async function request<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${API_BASE}${path}`, {
      ...init,
      headers: { Accept: "application/json", ...(init?.body ? { "Content-Type": "application/json" } : {}) },
    });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the API (${(err as Error).message})`, path);
  }
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!res.ok) throw new ApiError(res.status, describeError(body, `${res.status} ${res.statusText}`), path);
  return body as T;
}

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
  candles: async (symbol: string, interval: string, limit = 500): Promise<CandlesResponse> => {
    const body = await request<CandlesOut>(`/market/candles${qs({ symbol, interval, limit })}`);
    return { ...body, candles: body.candles.map(({ indicators, ...bar }) => ({ ...bar, ...indicators })) };
  },
  portfolios: () => request<PortfolioInfo[]>("/portfolios"),
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
  analysisEventsUrl: (id: string) => `${API_BASE}/analysis/runs/${id}/events`,
  backtestEventsUrl: (id: string) => `${API_BASE}/backtests/${id}/events`,
};
