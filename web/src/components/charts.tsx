"use client";

import {
  AreaSeries,
  CandlestickSeries,
  ColorType,
  createChart,
  createSeriesMarkers,
  HistogramSeries,
  LineSeries,
  TickMarkType,
  type CandlestickData,
  type ChartOptions,
  type DeepPartial,
  type HistogramData,
  type IChartApi,
  type ISeriesApi,
  type LineData,
  type MouseEventParams,
  type SeriesMarker,
  type Time,
} from "lightweight-charts";
import { useEffect, useMemo, useRef, useState } from "react";
import type { Candle } from "@/lib/api-types";
import { fmtMoney, fmtNum, fmtTime, toUnixSeconds } from "@/lib/format";

const THEME: DeepPartial<ChartOptions> = {
  autoSize: true,
  layout: {
    background: { type: ColorType.Solid, color: "#0f1520" },
    textColor: "#9aa7b8",
    fontFamily: "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    panes: { separatorColor: "#223044", enableResize: true },
    // The TradingView logo is a link with no text: a tab stop a screen reader cannot name.
    attributionLogo: false,
  },
  grid: { vertLines: { color: "#1a2331" }, horzLines: { color: "#1a2331" } },
  rightPriceScale: { borderColor: "#223044", minimumWidth: 64 },
  timeScale: { borderColor: "#223044", timeVisible: true, secondsVisible: false, tickMarkFormatter: tickWithYear },
  localization: { timeFormatter: (t: Time) => `${fmtTime(t as number)} UTC` },
  crosshair: { mode: 0 },
};

const UP = "#26a69a";
const DOWN = "#ef5350";

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

/** A trade drawn on the price chart: an arrow on its bar. */
export interface TradeMark {
  time: string | number;
  side: "buy" | "sell";
  price: number;
  /** shown beside the arrow, e.g. "stop loss" */
  text?: string;
}

/** A horizontal price level: the entry, stop and target of a decision or an open position. */
export interface PriceLevel {
  price: number;
  kind: "entry" | "stop" | "target";
  label?: string;
}

const LEVEL_COLOURS: Record<PriceLevel["kind"], string> = { entry: "#4fa3ff", stop: DOWN, target: UP };

const TOGGLES = [
  ["ema", "EMA 20/50/200"],
  ["bb", "Bollinger"],
  ["volume", "Volume"],
  ["rsi", "RSI"],
  ["macd", "MACD"],
] as const;
type Toggle = (typeof TOGGLES)[number][0];

/** The bar a time falls in (markers must sit on a bar of the series). */
function barTime(times: number[], t: number): number | undefined {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || t < times[0]) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return times[lo];
}

/** The OHLCV of the bar under the pointer (the newest bar when the pointer is elsewhere). */
function Readout({ bar }: { bar: Candle | undefined }) {
  if (!bar) return null;
  const tone = bar.close >= bar.open ? "pos" : "neg";
  return (
    <div className="ohlc" data-testid="ohlc-readout">
      <span>{fmtTime(bar.time)} UTC</span>
      <span>
        O <b className={tone}>{fmtMoney(bar.open)}</b>
      </span>
      <span>
        H <b className={tone}>{fmtMoney(bar.high)}</b>
      </span>
      <span>
        L <b className={tone}>{fmtMoney(bar.low)}</b>
      </span>
      <span>
        C <b className={tone}>{fmtMoney(bar.close)}</b>
      </span>
      <span>
        V <b>{fmtNum(bar.volume, 2)}</b>
      </span>
    </div>
  );
}

/**
 * Candles with a volume pane, EMA 20/50/200 and Bollinger overlays, RSI and MACD panes (each
 * can be switched off), an OHLCV readout under the pointer, and — where trades are shown —
 * buy/sell arrows and entry/stop/target lines.
 */
export function PriceChart({
  candles,
  height = 560,
  marks = [],
  levels = [],
  testId = "price-chart",
}: {
  candles: Candle[];
  height?: number;
  marks?: TradeMark[];
  levels?: PriceLevel[];
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [shown, setShown] = useState<Record<Toggle, boolean>>({ ema: true, bb: true, volume: true, rsi: true, macd: true });
  const [hover, setHover] = useState<Candle>();
  const priceRef = useRef<ISeriesApi<"Candlestick"> | null>(null);
  const byTime = useMemo(() => new Map(candles.map((c) => [toUnixSeconds(c.time), c])), [candles]);

  useEffect(() => {
    if (!ref.current) return;
    const chart: IChartApi = createChart(ref.current, THEME);
    // On a phone the series' axis labels would cover the price scale: the toggles name them.
    const compact = ref.current.clientWidth < 600;
    const price = chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    const bars: CandlestickData<Time>[] = candles.map((c) => ({
      time: toUnixSeconds(c.time) as Time,
      open: c.open,
      high: c.high,
      low: c.low,
      close: c.close,
    }));
    price.setData(bars);
    const overlay = (key: IndicatorKey, color: string, title: string, dashed = false) =>
      chart
        .addSeries(LineSeries, {
          color,
          lineWidth: 1,
          lineStyle: dashed ? 2 : 0,
          title: compact ? "" : title,
          priceLineVisible: false,
          lastValueVisible: false,
          crosshairMarkerVisible: false,
        })
        .setData(line(candles, key));
    if (shown.ema) {
      overlay("ema_20", "#f5c542", "EMA20");
      overlay("ema_50", "#4fa3ff", "EMA50");
      overlay("ema_200", "#c77dff", "EMA200");
    }
    if (shown.bb) {
      overlay("bb_upper", "#5d6b7e", "BB", true);
      overlay("bb_middle", "#46515f", "", true);
      overlay("bb_lower", "#5d6b7e", "", true);
    }

    const stretch: [number, number][] = [];
    let pane = 0;
    if (shown.volume) {
      pane += 1;
      const volumes: HistogramData<Time>[] = candles.map((c) => ({
        time: toUnixSeconds(c.time) as Time,
        value: c.volume,
        color: c.close >= c.open ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)",
      }));
      chart
        .addSeries(HistogramSeries, { priceLineVisible: false, lastValueVisible: false, title: compact ? "" : "Volume", priceFormat: { type: "volume" } }, pane)
        .setData(volumes);
      stretch.push([pane, 0.7]);
    }
    if (shown.rsi) {
      pane += 1;
      const rsi = chart.addSeries(LineSeries, { color: "#f59e0b", lineWidth: 1, title: compact ? "" : "RSI 14", priceLineVisible: false }, pane);
      rsi.setData(line(candles, "rsi_14"));
      rsi.createPriceLine({ price: 70, color: DOWN, lineWidth: 1, lineStyle: 2, axisLabelVisible: false, title: "" });
      rsi.createPriceLine({ price: 30, color: UP, lineWidth: 1, lineStyle: 2, axisLabelVisible: false, title: "" });
      stretch.push([pane, 1]);
    }
    if (shown.macd) {
      pane += 1;
      chart
        .addSeries(HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, pane)
        .setData(
          candles
            .filter((c) => typeof c.macd_hist === "number")
            .map((c) => ({
              time: toUnixSeconds(c.time) as Time,
              value: c.macd_hist as number,
              color: (c.macd_hist as number) >= 0 ? "rgba(38,166,154,0.6)" : "rgba(239,83,80,0.6)",
            })),
        );
      chart.addSeries(LineSeries, { color: "#4fa3ff", lineWidth: 1, title: compact ? "" : "MACD", priceLineVisible: false }, pane).setData(line(candles, "macd"));
      chart
        .addSeries(LineSeries, { color: "#f5c542", lineWidth: 1, title: compact ? "" : "signal", priceLineVisible: false }, pane)
        .setData(line(candles, "macd_signal"));
      stretch.push([pane, 1.1]);
    }
    // Stretch factors, not pixel heights: autoSize lays the panes out after the container sizes.
    const panes = chart.panes();
    panes[0]?.setStretchFactor(3);
    for (const [i, f] of stretch) panes[i]?.setStretchFactor(f);

    const onMove = (p: MouseEventParams<Time>) => setHover(p.time === undefined ? undefined : byTime.get(p.time as number));
    chart.subscribeCrosshairMove(onMove);
    chart.timeScale().fitContent();
    priceRef.current = price;
    return () => {
      priceRef.current = null;
      chart.unsubscribeCrosshairMove(onMove);
      chart.remove();
    };
  }, [candles, height, shown, byTime]);

  // Trades: an arrow on the bar each fill falls in; levels as dashed price lines. Applied to the
  // drawn chart, so a refreshed trade list never rebuilds (and resets) the chart.
  const marksKey = JSON.stringify(marks);
  const levelsKey = JSON.stringify(levels);
  useEffect(() => {
    const price = priceRef.current;
    if (!price) return;
    const times = candles.map((c) => toUnixSeconds(c.time));
    const markers: SeriesMarker<Time>[] = (JSON.parse(marksKey) as TradeMark[])
      .flatMap((m) => {
        const t = barTime(times, toUnixSeconds(m.time));
        if (t === undefined || toUnixSeconds(m.time) - t > 86_400 * 7) return [];
        const buy = m.side === "buy";
        return [
          {
            time: t as Time,
            position: buy ? "belowBar" : "aboveBar",
            shape: buy ? "arrowUp" : "arrowDown",
            color: buy ? UP : DOWN,
            text: m.text ?? (buy ? "BUY" : "SELL"),
          } as SeriesMarker<Time>,
        ];
      })
      .sort((a, b) => (a.time as number) - (b.time as number));
    const plugin = createSeriesMarkers(price, markers);
    const lines = (JSON.parse(levelsKey) as PriceLevel[])
      .filter((l) => Number.isFinite(l.price))
      .map((l) =>
        price.createPriceLine({
          price: l.price,
          color: LEVEL_COLOURS[l.kind],
          lineWidth: 1,
          lineStyle: 2,
          axisLabelVisible: true,
          title: l.label ?? l.kind,
        }),
      );
    return () => {
      if (priceRef.current !== price) return; // the chart is gone with its series
      plugin.detach();
      for (const l of lines) price.removePriceLine(l);
    };
  }, [candles, shown, marksKey, levelsKey]);

  return (
    <div className="price-chart">
      <div className="chart-tools">
        <Readout bar={hover ?? candles.at(-1)} />
        <fieldset className="toggles">
          <legend className="sr-only">Indicators</legend>
          {TOGGLES.map(([key, label]) => (
            <label key={key} className="check small">
              <input type="checkbox" checked={shown[key]} onChange={(e) => setShown((s) => ({ ...s, [key]: e.target.checked }))} data-testid={`toggle-${key}`} />
              {label}
            </label>
          ))}
        </fieldset>
      </div>
      <div ref={ref} className="chart" style={{ height }} data-testid={testId} role="img" aria-label={`Price chart, ${candles.length} bars${marks.length ? `, ${marks.length} trades marked` : ""}`} />
    </div>
  );
}

export interface LineSpec {
  name: string;
  color: string;
  points: { time: string | number; value: number }[];
  dashed?: boolean;
}

/** Points on a strictly increasing time axis (lightweight-charts needs it): last of a repeat wins. */
function series(points: { time: string | number; value: number }[]): LineData<Time>[] {
  const byTime = new Map<number, number>();
  for (const p of points) if (Number.isFinite(p.value)) byTime.set(toUnixSeconds(p.time), p.value);
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => ({ time: t as Time, value: v }));
}

/** One or more lines on a shared time axis (equity curves, baselines). */
export function LinesChart({ lines, height = 320, testId, label }: { lines: LineSpec[]; height?: number; testId?: string; label?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = createChart(ref.current, THEME);
    for (const l of lines) {
      chart
        .addSeries(LineSeries, { color: l.color, lineWidth: 2, lineStyle: l.dashed ? 2 : 0, title: l.name, priceLineVisible: false })
        .setData(series(l.points));
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
      <div ref={ref} className="chart" style={{ height }} data-testid={testId} role="img" aria-label={label ?? lines.map((l) => l.name).join(", ")} />
    </div>
  );
}

/** Drawdown: how far each point is below the highest equity before it, in percent (≤ 0). */
export function drawdown(points: { time: string | number; value: number }[]): { time: string | number; value: number }[] {
  let peak = -Infinity;
  return points.map((p) => {
    peak = Math.max(peak, p.value);
    return { time: p.time, value: peak > 0 ? (p.value / peak - 1) * 100 : 0 };
  });
}

export function DrawdownChart({ points, height = 200, testId }: { points: { time: string | number; value: number }[]; height?: number; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const data = useMemo(() => series(drawdown(points)), [points]);
  const worst = data.reduce((m, p) => Math.min(m, p.value), 0);
  useEffect(() => {
    if (!ref.current) return;
    const chart = createChart(ref.current, THEME);
    chart
      .addSeries(AreaSeries, {
        lineColor: DOWN,
        topColor: "rgba(239,83,80,0.05)",
        bottomColor: "rgba(239,83,80,0.45)",
        invertFilledArea: true,
        lineWidth: 1,
        title: "drawdown %",
        priceFormat: { type: "custom", formatter: (v: number) => `${v.toFixed(2)}%`, minMove: 0.01 },
      })
      .setData(data);
    chart.timeScale().fitContent();
    return () => chart.remove();
  }, [data]);
  if (data.length < 2) {
    return (
      <div className="state empty" data-testid={testId}>
        Not enough equity points for a drawdown yet.
      </div>
    );
  }
  return (
    <div>
      <div className="legend">
        <span>
          <i style={{ background: DOWN }} /> Drawdown from the running peak · worst <b className="neg">{worst.toFixed(2)}%</b>
        </span>
      </div>
      <div ref={ref} className="chart" style={{ height }} data-testid={testId} role="img" aria-label={`Drawdown chart, worst ${worst.toFixed(2)}%`} />
    </div>
  );
}
