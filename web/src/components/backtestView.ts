// Shapes a backtest result (graph/backtest/report.py, stored as JSON) for display.
import type { BacktestResult, Metrics } from "@/lib/api-types";

export interface Point {
  time: string | number;
  value: number;
}

/** `[time, equity]` pairs (the report's format) or `{at, equity}` objects. */
export function curve(points: unknown): Point[] {
  if (!Array.isArray(points)) return [];
  return points.flatMap((p): Point[] => {
    if (Array.isArray(p) && p.length >= 2) return [{ time: p[0] as string, value: Number(p[1]) }];
    if (p && typeof p === "object" && "at" in p && "equity" in p) return [{ time: p.at as string, value: Number(p.equity) }];
    return [];
  });
}

interface StoredBaseline {
  name?: string;
  metrics?: Metrics | null;
  note?: string | null;
  same_as_desk?: boolean;
  equity_curve?: unknown;
}

const baselines = (result: BacktestResult) => (result.baselines ?? {}) as Record<string, StoredBaseline | undefined>;

/**
 * The buy & hold curve the report computed (tools/baselines.py: all cash in at the first bar's
 * close, out at the last, the desk's fees and slippage): the same figure the metrics table
 * shows, never a second one redrawn from candles.
 */
export function buyAndHoldCurve(result: BacktestResult): Point[] {
  return curve(baselines(result).buy_and_hold?.equity_curve);
}

export const BUY_AND_HOLD_LABEL = "Buy & hold (same fees and slippage)";

const NAMES: Record<string, string> = {
  desk: "Desk",
  buy_and_hold: "Buy & hold",
  sma_cross: "SMA 20/50 cross",
  rules: "Rules engine",
};

export interface MetricColumn {
  name: string;
  /** this baseline is the desk's own run (the desk ran the rules engine) */
  sameAsDesk: boolean;
  annualised: boolean;
}

/** Keys that are not shown as rows (flags, or figures of old reports no longer defined so). */
const HIDDEN = new Set(["annualised", "buy_and_hold_return", "starting_equity"]);

/** Metrics of each strategy: the desk, then every baseline (notes say what each baseline is). */
export function metricsTable(result: BacktestResult): {
  columns: MetricColumn[];
  rows: [string, (number | null)[]][];
  notes: string[];
} {
  const cols: [MetricColumn, Metrics][] = [[{ name: "Desk", sameAsDesk: false, annualised: result.metrics?.annualised === true }, result.metrics ?? {}]];
  const notes: string[] = [];
  for (const [key, b] of Object.entries(baselines(result))) {
    const name = NAMES[key] ?? NAMES[b?.name ?? ""] ?? (b?.name ?? key).replace(/_/g, " ");
    if (b?.note) notes.push(`${name}: ${b.note}.`);
    if (b?.metrics) cols.push([{ name, sameAsDesk: b.same_as_desk === true, annualised: b.metrics.annualised === true }, b.metrics]);
  }
  const keys: string[] = [];
  for (const [, m] of cols)
    for (const [k, v] of Object.entries(m)) if (!HIDDEN.has(k) && !keys.includes(k) && (typeof v === "number" || v === null)) keys.push(k);
  return {
    columns: cols.map(([c]) => c),
    rows: keys.map((k) => [k, cols.map(([, m]) => (typeof m[k] === "number" ? (m[k] as number) : null))]),
    notes,
  };
}

/** Figures compounded or scaled to a year: only shown when the window supports it. */
export const ANNUALISED = new Set(["cagr", "calmar"]);

// tools/metrics.py reports these as fractions (0.12 = 12%).
const FRACTIONS = new Set(["total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"]);

const LABELS: Record<string, string> = {
  total_return: "Total return",
  cagr: "CAGR (annual)",
  volatility: "Volatility (annualised)",
  sharpe: "Sharpe (annualised)",
  sortino: "Sortino (annualised)",
  max_drawdown: "Max drawdown",
  max_drawdown_bars: "Max drawdown, bars",
  longest_drawdown_bars: "Longest drawdown, bars",
  calmar: "Calmar",
  win_rate: "Win rate",
  profit_factor: "Profit factor",
  expectancy: "Expectancy per trade",
  exposure_pct: "Time in market",
  fees_paid: "Fees paid",
  final_equity: "Final equity",
  bars: "Bars",
  trades: "Trades",
};

export function metricLabel(key: string): string {
  return LABELS[key] ?? key.replace(/_/g, " ");
}

export function fmtMetric(key: string, v: number | null, annualised = true): string {
  if (ANNUALISED.has(key) && !annualised) return "not annualised";
  if (v === null || v === undefined) return "—";
  if (FRACTIONS.has(key)) return `${(v * 100).toFixed(2)}%`;
  if (key.endsWith("_pct")) return `${v.toFixed(2)}%`;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: key.includes("equity") || key.includes("fees") ? 2 : 3 });
}

/** A closed trade of a backtest (tools.metrics.ClosedTrade). */
export interface ClosedTrade {
  symbol: string;
  entry_time: string;
  exit_time: string;
  entry_price: number;
  exit_price: number;
  quantity: number;
  pnl: number;
  fees: number;
  return_pct: number;
  exit_reason: string;
}

export const EXIT_REASONS: Record<string, string> = {
  stop_loss: "stop loss",
  take_profit: "take profit",
  signal: "desk signal",
  manual: "manual",
  end: "still open at the end",
};
