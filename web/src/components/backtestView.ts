// Shapes a backtest result (graph/backtest/report.py, stored as JSON) for display.
import type { BacktestResult, BaselineResult, Candle, Metrics } from "@/lib/api-types";
import { toUnixSeconds } from "@/lib/format";

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

/**
 * Buy & hold over the same bars, scaled to the desk's starting equity, from the market's closes
 * (before fees). The report keeps only the baseline's metrics, not its curve, so the UI redraws
 * it from candles; bars the candle window doesn't cover are left out.
 */
export function buyAndHoldFromCloses(equity: Point[], candles: Candle[]): Point[] {
  if (equity.length === 0 || candles.length === 0) return [];
  const first = toUnixSeconds(equity[0].time);
  const last = toUnixSeconds(equity[equity.length - 1].time);
  const bars = candles.filter((c) => {
    const t = toUnixSeconds(c.time);
    return t >= first && t <= last;
  });
  if (bars.length < 2 || toUnixSeconds(bars[0].time) !== first) return [];
  const start = equity[0].value;
  const base = bars[0].close;
  return bars.map((c) => ({ time: c.time, value: (start * c.close) / base }));
}

/** Metrics of each strategy: the desk, then every baseline (notes for those without metrics). */
export function metricsTable(result: BacktestResult): {
  names: string[];
  rows: [string, (number | null)[]][];
  notes: string[];
} {
  const columns: [string, Metrics][] = [["desk", result.metrics ?? {}]];
  const notes: string[] = [];
  for (const [key, b] of Object.entries((result.baselines ?? {}) as Record<string, BaselineResult | undefined>)) {
    if (b?.note) notes.push(`${b.name ?? key}: ${b.note}`);
    if (b?.metrics) columns.push([b.name ?? key, b.metrics]);
  }
  const keys: string[] = [];
  for (const [, m] of columns)
    for (const [k, v] of Object.entries(m)) if (!keys.includes(k) && (typeof v === "number" || v === null)) keys.push(k);
  return {
    names: columns.map(([n]) => n.replace(/_/g, " ")),
    rows: keys.map((k) => [k, columns.map(([, m]) => (typeof m[k] === "number" ? (m[k] as number) : null))]),
    notes,
  };
}

// tools/metrics.py reports these as fractions (0.12 = 12%).
const FRACTIONS = new Set(["total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure", "buy_and_hold_return"]);

export function fmtMetric(key: string, v: number | null): string {
  if (v === null || v === undefined) return "—";
  if (FRACTIONS.has(key)) return `${(v * 100).toFixed(2)}%`;
  if (key.endsWith("_pct")) return `${v.toFixed(2)}%`;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
}
