// Normalises a backtest result for display. The engine's JSON is loose by design (it lives in
// `backtest_results` as JSON), so curves may be `[time, value]` pairs or `{at, equity}` objects.
import type { BacktestResult, Metrics } from "@/lib/api-types";

export interface Point {
  time: string | number;
  value: number;
}

function toPoint(p: unknown, valueKeys: string[]): Point | undefined {
  if (Array.isArray(p) && p.length >= 2) return { time: p[0] as string | number, value: Number(p[1]) };
  if (p && typeof p === "object") {
    const o = p as Record<string, unknown>;
    const time = (o.at ?? o.time ?? o.t ?? o.timestamp ?? o.open_time) as string | number | undefined;
    const vk = valueKeys.find((k) => o[k] !== undefined && o[k] !== null);
    if (time !== undefined && vk) return { time, value: Number(o[vk]) };
  }
  return undefined;
}

export function curve(points: unknown, valueKeys = ["equity", "value"]): Point[] {
  if (!Array.isArray(points)) return [];
  return points.flatMap((p) => {
    const pt = toPoint(p, valueKeys);
    return pt && Number.isFinite(pt.value) ? [pt] : [];
  });
}

/** The buy & hold curve: inline on each equity point, or inside baselines.buy_and_hold. */
export function buyAndHoldCurve(result: BacktestResult): Point[] {
  const inline = curve(result.equity_curve, ["buy_and_hold", "benchmark"]);
  if (inline.length) return inline;
  const bh = result.baselines?.buy_and_hold as Record<string, unknown> | undefined;
  return bh ? curve(bh.equity_curve ?? bh.equity) : [];
}

/** Metrics of each strategy: the desk, then every baseline that carries metrics. */
export function metricsTable(result: BacktestResult): { names: string[]; rows: [string, (number | string | null)[]][] } {
  const columns: [string, Metrics][] = [["desk", result.metrics ?? {}]];
  for (const [name, b] of Object.entries(result.baselines ?? {})) {
    if (!b || typeof b !== "object") continue;
    const m = ("metrics" in b && b.metrics && typeof b.metrics === "object" ? b.metrics : b) as Metrics;
    columns.push([name, m]);
  }
  const keys: string[] = [];
  for (const [, m] of columns)
    for (const [k, v] of Object.entries(m)) if (!keys.includes(k) && (typeof v === "number" || v === null)) keys.push(k);
  return {
    names: columns.map(([n]) => n.replace(/_/g, " ")),
    rows: keys.map((k) => [k, columns.map(([, m]) => (m[k] as number | string | null | undefined) ?? null)]),
  };
}

const FRACTIONS = new Set(["total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure", "exposure_pct"]);

export function fmtMetric(key: string, v: number | string | null): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  if (FRACTIONS.has(key)) return `${(v * 100).toFixed(2)}%`;
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
}
