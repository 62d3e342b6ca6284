import type { StoredSeries } from "./api-types";

/**
 * The label to show for candles. The API reports candles read from the store as `store`, even
 * when the stored rows were generated (`cryptofirm demo` without real files stores synthetic
 * bars): the store's own per-row sources say so, and synthetic data must never pass as real.
 */
export function effectiveSource(
  source: string | null | undefined,
  series: StoredSeries[] | undefined,
  symbol: string,
  interval: string,
  derivedFrom?: string | null,
): string | undefined {
  if (!source) return undefined;
  if (source === "store-resampled") return derivedFrom ? `store, resampled from ${derivedFrom}` : "store, resampled";
  if (source !== "store") return source;
  const sources = series?.find((s) => s.symbol === symbol && s.interval === interval)?.sources ?? [];
  if (!sources.includes("synthetic")) return source;
  return sources.every((s) => s === "synthetic") ? "synthetic" : "store, partly synthetic";
}

export const INTERVAL_SECONDS: Record<string, number> = {
  "1m": 60,
  "3m": 180,
  "5m": 300,
  "15m": 900,
  "30m": 1800,
  "1h": 3600,
  "2h": 7200,
  "4h": 14400,
  "6h": 21600,
  "8h": 28800,
  "12h": 43200,
  "1d": 86400,
  "3d": 259200,
  "1w": 604800,
};

/** "2 y 7 m", "3 d 4 h", "25 min": how long ago a bar closed. */
export function fmtAge(seconds: number): string {
  const s = Math.max(0, seconds);
  const days = Math.floor(s / 86400);
  if (days >= 365) {
    const months = Math.floor((days % 365) / 30.44);
    return `${Math.floor(days / 365)} y ${months} m`;
  }
  if (days >= 31) return `${Math.floor(days / 30.44)} m ${Math.floor(days % 30.44)} d`;
  if (days >= 1) return `${days} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 60)} min`;
}

export interface Freshness {
  lastBar: string;
  age: string;
  synthetic: boolean;
  resampledFrom?: string;
}

/**
 * Freshness of what the API would serve for (symbol, interval): the stored interval itself, or
 * else the finer stored one it is resampled from (`store-resampled`); undefined if neither.
 */
export function dataFreshness(series: StoredSeries[], symbol: string, interval: string, now: Date): Freshness | undefined {
  const target = INTERVAL_SECONDS[interval];
  const mine = series.filter((s) => s.symbol === symbol);
  const exact = mine.find((s) => s.interval === interval);
  const finer = mine
    .filter((s) => target && INTERVAL_SECONDS[s.interval] < target && target % INTERVAL_SECONDS[s.interval] === 0)
    .sort((a, b) => Date.parse(b.last) - Date.parse(a.last));
  const chosen = exact ?? finer[0];
  if (!chosen) return undefined;
  const last = Date.parse(chosen.last);
  const closed = last + 1000 * (INTERVAL_SECONDS[chosen.interval] ?? 0);
  return {
    lastBar: new Date(last).toISOString().replace("T", " ").slice(0, 16),
    age: fmtAge((now.getTime() - closed) / 1000),
    synthetic: chosen.sources.includes("synthetic"),
    resampledFrom: exact ? undefined : chosen.interval,
  };
}
