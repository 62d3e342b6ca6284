"use client";

import {
  CandlestickSeries,
  ColorType,
  createChart,
  HistogramSeries,
  LineSeries,
  TickMarkType,
  type DeepPartial,
  type ChartOptions,
  type IChartApi,
  type LineData,
  type Time,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import type { Candle } from "@/lib/api-types";
import { fmtTime, toUnixSeconds } from "@/lib/format";

const THEME: DeepPartial<ChartOptions> = {
  autoSize: true,
  layout: {
    background: { type: ColorType.Solid, color: "#0f1520" },
    textColor: "#9aa7b8",
    fontFamily: "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    panes: { separatorColor: "#223044", enableResize: true },
  },
  grid: { vertLines: { color: "#1a2331" }, horzLines: { color: "#1a2331" } },
  rightPriceScale: { borderColor: "#223044" },
  timeScale: { borderColor: "#223044", timeVisible: true, secondsVisible: false, tickMarkFormatter: tickWithYear },
  localization: { timeFormatter: (t: Time) => `${fmtTime(t as number)} UTC` },
  crosshair: { mode: 0 },
};

/** Axis labels that always say which year (real data can be years old): UTC. */
function tickWithYear(time: Time, type: TickMarkType): string {
  const iso = new Date((time as number) * 1000).toISOString();
  switch (type) {
    case TickMarkType.Year:
      return iso.slice(0, 4);
    case TickMarkType.Month:
      return iso.slice(0, 7);
    case TickMarkType.DayOfMonth:
      return iso.slice(0, 10);
    default:
      return iso.slice(11, 16);
  }
}

type IndicatorKey = keyof Candle;

/** Line points for one indicator column; bars before it is defined are left out. */
function line(candles: Candle[], key: IndicatorKey): LineData<Time>[] {
  const out: LineData<Time>[] = [];
  for (const c of candles) {
    const v = c[key];
    if (typeof v === "number" && Number.isFinite(v)) out.push({ time: toUnixSeconds(c.time) as Time, value: v });
  }
  return out;
}

/** Candles with EMA 20/50/200 and Bollinger overlays, plus RSI and MACD panes. */
export function PriceChart({ candles, height = 560 }: { candles: Candle[]; height?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart: IChartApi = createChart(ref.current, THEME);
    const price = chart.addSeries(CandlestickSeries, {
      upColor: "#26a69a",
      downColor: "#ef5350",
      borderVisible: false,
      wickUpColor: "#26a69a",
      wickDownColor: "#ef5350",
    });
    price.setData(
      candles.map((c) => ({
        time: toUnixSeconds(c.time) as Time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
      })),
    );
    const overlay = (key: IndicatorKey, color: string, title: string, dashed = false) =>
      chart
        .addSeries(LineSeries, {
          color,
          lineWidth: 1,
          lineStyle: dashed ? 2 : 0,
          title,
          priceLineVisible: false,
          lastValueVisible: false,
          crosshairMarkerVisible: false,
        })
        .setData(line(candles, key));
    overlay("ema_20", "#f5c542", "EMA20");
    overlay("ema_50", "#4fa3ff", "EMA50");
    overlay("ema_200", "#c77dff", "EMA200");
    overlay("bb_upper", "#5d6b7e", "BB", true);
    overlay("bb_middle", "#46515f", "", true);
    overlay("bb_lower", "#5d6b7e", "", true);

    const rsi = chart.addSeries(LineSeries, { color: "#f59e0b", lineWidth: 1, title: "RSI 14", priceLineVisible: false }, 1);
    rsi.setData(line(candles, "rsi_14"));
    rsi.createPriceLine({ price: 70, color: "#ef5350", lineWidth: 1, lineStyle: 2, axisLabelVisible: false, title: "" });
    rsi.createPriceLine({ price: 30, color: "#26a69a", lineWidth: 1, lineStyle: 2, axisLabelVisible: false, title: "" });

    const hist = chart.addSeries(HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, 2);
    hist.setData(
      candles
        .filter((c) => typeof c.macd_hist === "number")
        .map((c) => ({
          time: toUnixSeconds(c.time) as Time,
          value: c.macd_hist as number,
          color: (c.macd_hist as number) >= 0 ? "rgba(38,166,154,0.6)" : "rgba(239,83,80,0.6)",
        })),
    );
    chart
      .addSeries(LineSeries, { color: "#4fa3ff", lineWidth: 1, title: "MACD", priceLineVisible: false }, 2)
      .setData(line(candles, "macd"));
    chart
      .addSeries(LineSeries, { color: "#f5c542", lineWidth: 1, title: "signal", priceLineVisible: false }, 2)
      .setData(line(candles, "macd_signal"));

    // Stretch factors, not pixel heights: autoSize lays the panes out after the container sizes.
    const [main, rsiPane, macdPane] = chart.panes();
    main?.setStretchFactor(3);
    rsiPane?.setStretchFactor(1);
    macdPane?.setStretchFactor(1.1);
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [candles, height]);
  return <div ref={ref} className="chart" style={{ height }} data-testid="price-chart" />;
}

export interface LineSpec {
  name: string;
  color: string;
  points: { time: string | number; value: number }[];
  dashed?: boolean;
}

/** One or more lines on a shared time axis (equity curves, baselines). */
export function LinesChart({ lines, height = 320, testId }: { lines: LineSpec[]; height?: number; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = createChart(ref.current, THEME);
    for (const l of lines) {
      // lightweight-charts needs strictly increasing times: keep the last point of any repeat.
      const byTime = new Map<number, number>();
      for (const p of l.points) if (Number.isFinite(p.value)) byTime.set(toUnixSeconds(p.time), p.value);
      const data = [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ time: t as Time, value: v }));
      chart
        .addSeries(LineSeries, { color: l.color, lineWidth: 2, lineStyle: l.dashed ? 2 : 0, title: l.name, priceLineVisible: false })
        .setData(data);
    }
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [lines]);
  return (
    <div>
      <div className="legend">
        {lines.map((l) => (
          <span key={l.name}>
            <i style={{ background: l.color }} /> {l.name}
          </span>
        ))}
      </div>
      <div ref={ref} className="chart" style={{ height }} data-testid={testId} />
    </div>
  );
}
