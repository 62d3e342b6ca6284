// TEMPORARY: trading-session types written by hand from sessions/schemas.py and the #15 contract,
// until the session routes are in web/openapi.json. Once `npm run gen:api` generates them, these
// become aliases of the generated schemas (like lib/api-types.ts) and this note goes.
import type { Num } from "./api-types";

export type ClockKind = "replay" | "live";
export type ApprovalPolicy = "auto" | "require";
export type SessionStatus = "pending" | "running" | "paused" | "stopping" | "stopped" | "completed" | "failed";

export interface SessionSpec {
  symbols: string[];
  interval?: string;
  portfolio_id?: number | null;
  name?: string | null;
  starting_cash?: number | null;
  replay_from?: string | null;
  until?: string | null;
  speed?: number | null;
  approval?: ApprovalPolicy;
  approval_timeout_bars?: number;
  every?: number;
  fee_rate?: number;
  slippage_bps?: number;
  rules?: boolean;
}

export interface LimitMaxima {
  max_position_pct: number;
  max_total_exposure_pct: number;
  min_cash_pct: number;
  max_drawdown_pct: number;
  max_daily_loss_pct: number;
}

export interface PendingApproval {
  symbol: string;
  bar_time: string;
  action: "buy" | "sell";
  size_pct: number;
  expires_after_bar: string;
}

export interface SymbolState {
  symbol: string;
  last_bar?: string | null;
  last_close?: number | null;
  last_action?: "buy" | "sell" | "hold" | null;
  position_qty: number;
  stop_loss?: number | null;
  take_profit?: number | null;
}

export interface SessionView {
  id: string;
  name: string;
  status: SessionStatus;
  clock: ClockKind;
  symbols: string[];
  interval: string;
  portfolio_id: number;
  approval: ApprovalPolicy;
  approval_timeout_bars: number;
  replay_from?: string | null;
  until?: string | null;
  speed?: number | null;
  data_source?: string | null;
  now?: string | null;
  next_bar?: string | null;
  bars_processed: number;
  decisions: number;
  trades: number;
  equity?: number | null;
  starting_cash?: number | null;
  drawdown_pct?: number | null;
  doing?: string | null;
  error?: string | null;
  limits?: Record<string, number>;
  maxima?: LimitMaxima;
  symbols_state?: SymbolState[];
  pending_approvals?: PendingApproval[];
  created_at: string;
  updated_at: string;
}

export interface SessionDecisionRow {
  symbol: string;
  bar_time: string;
  action: "buy" | "sell" | "hold";
  approved: boolean;
  size_pct: number;
  stop_loss?: number | null;
  take_profit?: number | null;
  status: "decided" | "filled" | "skipped" | "awaiting_approval" | "expired" | "rejected";
  detail?: string | null;
  trade_id?: number | null;
  reasons?: string[];
}

/** One point of `GET /api/sessions/{id}/equity` (a processed bar's close). */
export interface SessionEquityPoint {
  at: string;
  equity: Num;
}

export interface SessionCreated {
  session_id: string;
}

export interface ApprovalAnswer {
  symbol: string;
  bar_time: string;
  approved: boolean;
  note?: string | null;
}

// ---- session events (graph/events.py, #15 contract) -------------------------------------------

interface EventBase {
  run_id: string;
  at: string;
  seq?: number;
}

export interface SessionTickEvent extends EventBase {
  type: "session_tick";
  bar_time: string;
  equity: number;
  cash: number;
  drawdown_pct: number;
  exposure_pct: number;
  bars_processed: number;
}

export interface SessionDecisionEvent extends EventBase {
  type: "session_decision";
  symbol: string;
  bar_time: string;
  action: "buy" | "sell" | "hold";
  approved: boolean;
  size_pct: number;
  stop_loss?: number | null;
  take_profit?: number | null;
  status: SessionDecisionRow["status"];
  reasons?: string[];
}

export interface SessionStateEvent extends EventBase {
  type: "session_state";
  status: SessionStatus;
  doing?: string | null;
}

/** `PATCH /api/portfolios/{id}`: the approval policy and risk limits of a portfolio. */
export interface PortfolioPatch {
  require_approval?: boolean;
  risk?: Record<string, number>;
}

export interface ParityDiff {
  what: "decision" | "fill" | "equity";
  symbol?: string | null;
  at: string;
  session: string;
  backtest: string;
}

/** `GET /api/sessions/{id}/parity`: the session against the backtest of the same bars. */
export interface ParityReport {
  session_id: string;
  bars: number;
  decisions_compared: number;
  fills_compared: number;
  equity_points_compared: number;
  identical: boolean;
  differences?: ParityDiff[];
  session_final_equity: number;
  backtest_final_equity: number;
}
