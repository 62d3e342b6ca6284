// The one place that talks HTTP to the backend. Same origin (`/api`) by default; set
// NEXT_PUBLIC_API_BASE (e.g. http://127.0.0.1:8000/api) for `next dev` against uvicorn.
import type {
  AgentLog,
  BacktestEstimate,
  BacktestRequest,
  BacktestResult,
  BudgetStatus,
  CandlesResponse,
  EquityPoint,
  Portfolio,
  Position,
  Run,
  RunCreated,
  StartAnalysisRequest,
  Trade,
  UsageRow,
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

/** FastAPI errors come as `{detail: string}` or `{detail: [{loc, msg}]}` (422): name the field. */
function describeError(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "detail" in body) {
    const detail = (body as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { loc?: unknown[]; msg?: string }) => {
          const field = (d.loc ?? []).filter((p) => p !== "body").join(".");
          return field ? `${field}: ${d.msg ?? "invalid"}` : (d.msg ?? "invalid");
        })
        .join("; ");
    }
    if (detail && typeof detail === "object" && "message" in detail) {
      return String((detail as { message: unknown }).message);
    }
  }
  if (body && typeof body === "object" && "message" in body) {
    return String((body as { message: unknown }).message);
  }
  return fallback;
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

/** Lists may arrive bare or wrapped (`{items: […]}` / `{<name>: […]}`); unwrap either. */
export function asList<T>(body: unknown, key?: string): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === "object") {
    const obj = body as Record<string, unknown>;
    for (const k of [key, "items", "data", "results"]) {
      if (k && Array.isArray(obj[k])) return obj[k] as T[];
    }
  }
  throw new ApiError(200, `unexpected response shape${key ? ` (expected a list of ${key})` : ""}`, "");
}

const qs = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
};

export const api = {
  /** Distinct stored symbols (the API lists one row per symbol and interval). */
  symbols: async () => {
    const body = await request<unknown>("/market/symbols");
    const names = asList<string | { symbol: string }>(body, "symbols").map((s) => (typeof s === "string" ? s : s.symbol));
    return [...new Set(names)];
  },
  /** Candles with their indicator columns flattened onto each bar. */
  candles: async (symbol: string, interval: string, limit = 500): Promise<CandlesResponse> => {
    const body = await request<CandlesResponse>(`/market/candles${qs({ symbol, interval, limit })}`);
    return { ...body, candles: body.candles.map(({ indicators, ...bar }) => ({ ...bar, ...indicators })) };
  },
  portfolios: async () => asList<Portfolio>(await request<unknown>("/portfolios"), "portfolios"),
  portfolio: (id: number) => request<Portfolio>(`/portfolios/${id}`),
  positions: async (id: number) => asList<Position>(await request<unknown>(`/portfolios/${id}/positions`), "positions"),
  trades: async (id: number) => asList<Trade>(await request<unknown>(`/portfolios/${id}/trades`), "trades"),
  equity: async (id: number) => asList<EquityPoint>(await request<unknown>(`/portfolios/${id}/equity`), "points"),
  analysisRuns: async () => asList<Run>(await request<unknown>("/analysis/runs"), "runs"),
  analysisRun: (id: string) => request<Run>(`/analysis/runs/${id}`),
  startAnalysis: (body: StartAnalysisRequest) => post<RunCreated>("/analysis/runs", body),
  approve: (id: string, note = "") => post<unknown>(`/analysis/runs/${id}/approve`, { note }),
  reject: (id: string, note = "") => post<unknown>(`/analysis/runs/${id}/reject`, { note }),
  estimateBacktest: (body: BacktestRequest) => post<BacktestEstimate>("/backtests/estimate", body),
  startBacktest: (body: BacktestRequest) => post<RunCreated>("/backtests", body),
  backtests: async () => asList<Run>(await request<unknown>("/backtests"), "runs"),
  backtest: (id: string) => request<Run>(`/backtests/${id}`),
  backtestResult: (id: string) => request<BacktestResult>(`/backtests/${id}/result`),
  cancelBacktest: (id: string) => post<unknown>(`/backtests/${id}/cancel`),
  usage: async (groupBy: "day" | "model" | "agent") =>
    asList<UsageRow>(await request<unknown>(`/agents/usage${qs({ group_by: groupBy })}`), "rows"),
  budget: () => request<BudgetStatus>("/agents/budget"),
  logs: async (limit = 50) => asList<AgentLog>(await request<unknown>(`/agents/logs${qs({ limit })}`), "logs"),
  analysisEventsUrl: (id: string) => `${API_BASE}/analysis/runs/${id}/events`,
  backtestEventsUrl: (id: string) => `${API_BASE}/backtests/${id}/events`,
};
