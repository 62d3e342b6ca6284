"use client";

import type { StoredSeries } from "@/lib/api-types";
import { dataFreshness } from "@/lib/source";

/**
 * What the desk will analyse for (symbol, interval): "real Binance data, last bar
 * 2024-04-21 14:00, 2 y 7 m old", resampled from a finer stored interval, synthetic, or
 * nothing stored (the API then refuses: it never invents candles unless asked).
 */
export function DataFreshness({
  series,
  symbol,
  interval,
  now = new Date(),
}: {
  series: StoredSeries[] | undefined;
  symbol: string;
  interval: string;
  now?: Date;
}) {
  if (!series) return null;
  const f = dataFreshness(series, symbol, interval, now);
  if (!f) {
    return (
      <p className="muted" data-testid="data-freshness">
        No stored {symbol} data for {interval} (nor a finer interval to build it from): fetch or import it first
        (<span className="mono">cryptofirm data fetch {symbol} --interval {interval} --from …</span>).
      </p>
    );
  }
  const kind = f.synthetic ? "SYNTHETIC data (not market prices)" : "real Binance data";
  const derived = f.resampledFrom ? `, ${interval} resampled from stored ${f.resampledFrom}` : "";
  return (
    <p className={f.synthetic ? "warn-text" : "muted"} data-testid="data-freshness">
      {kind}
      {derived}, last bar {f.lastBar} UTC, {f.age} old
    </p>
  );
}
