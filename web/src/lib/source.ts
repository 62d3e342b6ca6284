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
): string | undefined {
  if (!source) return undefined;
  if (source !== "store") return source;
  const sources = series?.find((s) => s.symbol === symbol && s.interval === interval)?.sources ?? [];
  if (!sources.includes("synthetic")) return source;
  return sources.every((s) => s === "synthetic") ? "synthetic" : "store, partly synthetic";
}
