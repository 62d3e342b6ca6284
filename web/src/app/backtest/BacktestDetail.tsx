"use client";

import { useEffect, useMemo, useState } from "react";
import {
  buyAndHoldCurve,
  BUY_AND_HOLD_LABEL,
  curve,
  EXIT_REASONS,
  fmtMetric,
  metricLabel,
  metricsTable,
  ANNUALISED,
  type ClosedTrade,
} from "@/components/backtestView";
import { DrawdownChart, LinesChart, PriceChart, type TradeMark } from "@/components/charts";
import { SortTable, type Column } from "@/components/SortTable";
import { Card, Empty, ErrorBox, Loading, ModelBadge, NotFound, ProgressBar, SourceBadge, StatusBadge, Table, View } from "@/components/ui";
import { api, ApiError } from "@/lib/api";
import type { BacktestResult, ProgressEvent, RunFinishedEvent, RunStartedEvent } from "@/lib/api-types";
import { fmtMoney, fmtNum, fmtTime, signClass } from "@/lib/format";
import { useApi, useRunEvents } from "@/lib/hooks";
import { effectiveSource } from "@/lib/source";

const TERMINAL = new Set(["completed", "failed", "cancelled", "budget_exceeded", "degraded"]);

export function BacktestDetail({ id, onFinished, onProgress }: { id: string; onFinished: () => void; onProgress?: (fraction: number) => void }) {
  const run = useApi(() => api.backtest(id), [id]);
  const series = useApi(() => api.series(), []);
  const { events, state } = useRunEvents(api.backtestEventsUrl(id));
  const progress = useMemo(() => events.filter((e): e is ProgressEvent => e.type === "progress").at(-1), [events]);
  const started = events.find((e): e is RunStartedEvent => e.type === "run_started");
  const finished = events.find((e): e is RunFinishedEvent => e.type === "run_finished");
  const errors = events.flatMap((e) => (e.type === "error" ? [e.message] : []));
  const status = finished?.status ?? run.data?.status;
  const done = status !== undefined && TERMINAL.has(status);
  const result = useApi(() => api.backtestResult(id), [id, done], done);
  const [cancelError, setCancelError] = useState<Error>();
  const reloadRun = run.reload;
  useEffect(() => {
    if (!finished) return;
    reloadRun();
    onFinished(); // the run list shows the final status
  }, [finished, reloadRun, onFinished]);

  const fraction = done && status === "completed" ? 1 : progress ? progress.done / Math.max(1, progress.total) : (run.data?.progress ?? 0);
  useEffect(() => onProgress?.(fraction), [fraction, onProgress]);
  const cancel = async () => {
    try {
      await api.cancelBacktest(id);
    } catch (e) {
      setCancelError(e as Error);
    }
  };

  if (run.error instanceof ApiError && run.error.notFound) {
    return <NotFound what="Backtest" id={id} back="/backtest/" backLabel="Start a new backtest" />;
  }

  return (
    <>
      <Card
        testId="backtest-run"
        title={
          run.data ? (
            <>
              {run.data.symbol} · {run.data.interval} <span className="mono muted">{id.slice(0, 8)}</span>
            </>
          ) : (
            "Backtest"
          )
        }
        actions={
          <>
            <SourceBadge
              source={run.data && effectiveSource(started?.data_source ?? run.data.data_source, series.data, run.data.symbol, run.data.interval)}
            />
            <ModelBadge model={run.data?.model ?? started?.model_strong} />
            {status && <StatusBadge status={status} />}
            {!done && status && (
              <button className="btn small danger" onClick={cancel}>
                Cancel
              </button>
            )}
          </>
        }
      >
        {run.error && <ErrorBox error={run.error} onRetry={run.reload} />}
        {!run.data && !run.error && <Loading />}
        <div data-testid="backtest-progress">
          <ProgressBar
            name="Backtest progress"
            value={fraction}
            label={
              progress
                ? `${progress.done} / ${progress.total} bars${progress.equity != null ? ` · equity ${fmtMoney(progress.equity)}` : ""}`
                : done
                  ? (status ?? "").replace(/_/g, " ")
                  : state === "error"
                    ? "live updates stopped"
                    : "starting…"
            }
          />
        </div>
        {run.data?.error && <ErrorBox error={run.data.error} />}
        {errors.map((m, i) => (
          <ErrorBox key={i} error={m} />
        ))}
        {cancelError && <ErrorBox error={cancelError} />}
      </Card>
      {done && (
        <View state={result}>
          {(r) => <ResultView result={r} symbol={run.data?.symbol} interval={run.data?.interval} end={String(run.data?.params?.end ?? "")} />}
        </View>
      )}
    </>
  );
}

const SPREAD_COLORS: Record<string, string> = { buy: "#26a69a", sell: "#ef5350", hold: "#5d6b7e" };

const TRADE_COLUMNS: Column<ClosedTrade>[] = [
  { key: "entry_time", label: "Entry", sortValue: (t) => t.entry_time, render: (t) => fmtTime(t.entry_time) },
  { key: "exit_time", label: "Exit", sortValue: (t) => t.exit_time, render: (t) => fmtTime(t.exit_time) },
  {
    key: "pnl",
    label: "P&L",
    num: true,
    sortValue: (t) => t.pnl,
    render: (t) => fmtMoney(t.pnl),
    className: (t) => signClass(t.pnl),
  },
  { key: "return_pct", label: "Return", num: true, sortValue: (t) => t.return_pct, render: (t) => `${fmtNum(t.return_pct, 2)}%`, className: (t) => signClass(t.return_pct) },
  {
    key: "exit_reason",
    label: "Exit reason",
    sortValue: (t) => t.exit_reason,
    render: (t) => (
      <span className={`badge ${t.exit_reason === "stop_loss" ? "bad" : t.exit_reason === "take_profit" ? "ok" : "muted"}`} data-testid="exit-reason">
        {EXIT_REASONS[t.exit_reason] ?? t.exit_reason.replace(/_/g, " ")}
      </span>
    ),
  },
  { key: "entry_price", label: "Entry price", num: true, sortValue: (t) => t.entry_price, render: (t) => fmtMoney(t.entry_price) },
  { key: "exit_price", label: "Exit price", num: true, sortValue: (t) => t.exit_price, render: (t) => fmtMoney(t.exit_price) },
  { key: "quantity", label: "Quantity", num: true, sortValue: (t) => t.quantity, render: (t) => fmtNum(t.quantity, 6) },
  { key: "fees", label: "Fees", num: true, sortValue: (t) => t.fees, render: (t) => fmtMoney(t.fees) },
  { key: "symbol", label: "Symbol", render: (t) => t.symbol },
];

function ResultView({ result, symbol, interval, end }: { result: BacktestResult; symbol?: string; interval?: string; end: string }) {
  const equity = useMemo(() => curve(result.equity_curve), [result]);
  const bh = useMemo(() => buyAndHoldCurve(result), [result]);
  const lines = useMemo(
    () => [
      { name: "Desk", color: "#4fa3ff", points: equity },
      ...(bh.length ? [{ name: BUY_AND_HOLD_LABEL, color: "#9aa7b8", points: bh, dashed: true }] : []),
    ],
    [equity, bh],
  );
  const table = metricsTable(result);
  const spread = Object.entries(result.decision_spread ?? {}).filter(([, v]) => typeof v === "number") as [string, number][];
  const total = spread.reduce((s, [, v]) => s + v, 0);
  const trades = result.trades as ClosedTrade[];
  // The price over the tested window (plus a little before), with every entry and exit marked.
  const bars = equity.length && interval ? Math.min(2000, equity.length + 50) : 0;
  const candles = useApi(
    () => api.candles(symbol as string, interval as string, bars, end || undefined),
    [symbol, interval, bars, end],
    !!symbol && !!interval && bars > 0,
  );
  const marks = useMemo<TradeMark[]>(
    () =>
      trades.flatMap((t) => [
        { time: t.entry_time, side: "buy" as const, price: t.entry_price },
        // an "end" exit is the mark-to-market of a position still open: no sell happened
        ...(t.exit_reason === "end" ? [] : [{ time: t.exit_time, side: "sell" as const, price: t.exit_price, text: EXIT_REASONS[t.exit_reason] ?? t.exit_reason }]),
      ]),
    [trades],
  );
  return (
    <>
      {result.partial && <ErrorBox error="Partial result: the run stopped before the end of the range." />}
      {result.memorisation_note && (
        <p className="warnings" data-testid="memorisation-note" role="note">
          <span className="badge warn">Memorisation</span> {result.memorisation_note}
        </p>
      )}
      {result.warnings.filter((w) => String(w) !== result.memorisation_note).length > 0 && (
        <ul className="warnings">
          {result.warnings
            .filter((w) => String(w) !== result.memorisation_note)
            .map((w, i) => (
              <li key={i}>{String(w)}</li>
            ))}
        </ul>
      )}
      <div className="grid halves">
        <Card title="Equity curve">
          {equity.length === 0 ? <Empty>No equity points in this result.</Empty> : <LinesChart testId="backtest-equity-chart" lines={lines} label="Equity curve of the desk and buy & hold" />}
        </Card>
        <Card title="Drawdown">
          {equity.length === 0 ? <Empty>No equity points in this result.</Empty> : <DrawdownChart testId="backtest-drawdown-chart" points={equity} height={320 - 4} />}
        </Card>
      </div>
      <div className="grid metrics">
        <Card title="Metrics and baselines">
          {table.rows.length === 0 ? (
            <Empty>No metrics.</Empty>
          ) : (
            <Table
              caption="Metrics of the desk and its baselines"
              numeric={table.columns.map((_, i) => i + 1)}
              head={[
                "Metric",
                ...table.columns.map((c) =>
                  c.sameAsDesk ? (
                    <span key={c.name} className="th-stack" title="This baseline is the desk's own run: the desk ran the rules engine">
                      {c.name}
                      <span className="badge muted">same as desk</span>
                    </span>
                  ) : (
                    c.name
                  ),
                ),
              ]}
              testId="metrics-table"
            >
              {table.rows.map(([k, vals]) => (
                <tr key={k} data-testid={`metric-${k}`}>
                  <td>{metricLabel(k)}</td>
                  {vals.map((v, i) => (
                    <td key={i} className={`num ${table.columns[i].sameAsDesk ? "muted" : ""} ${ANNUALISED.has(k) && !table.columns[i].annualised ? "muted" : ""}`}>
                      {fmtMetric(k, v, table.columns[i].annualised)}
                    </td>
                  ))}
                </tr>
              ))}
            </Table>
          )}
          {table.columns.some((c) => !c.annualised) && (
            <p className="muted" data-testid="not-annualised-note">
              Not annualised: the window is shorter than a year, so compounding its return to a yearly rate (CAGR, Calmar) would state a figure nobody
              earned. Volatility, Sharpe and Sortino are per-bar statistics scaled to a year.
            </p>
          )}
          {table.notes.map((n) => (
            <p key={n} className="muted">
              {n}
            </p>
          ))}
        </Card>
        <Card title="Decision spread">
          {total === 0 ? (
            <Empty>No decisions.</Empty>
          ) : (
            <>
              <div className="bar-spread" data-testid="decision-spread">
                {spread.map(([k, v]) => (
                  <div key={k} style={{ width: `${(v / total) * 100}%`, background: SPREAD_COLORS[k] ?? "#4fa3ff" }} title={`${k}: ${v}`} />
                ))}
              </div>
              <div className="legend" style={{ marginTop: 10 }}>
                {spread.map(([k, v]) => (
                  <span key={k}>
                    <i style={{ background: SPREAD_COLORS[k] ?? "#4fa3ff" }} /> {k} {v} ({fmtNum((v / total) * 100, 1)}%)
                  </span>
                ))}
              </div>
            </>
          )}
        </Card>
      </div>
      {symbol && interval && bars > 0 && (
        <Card title={`${symbol} · ${interval} over the tested window`} testId="backtest-price">
          <View state={candles} isEmpty={(c) => c.candles.length === 0} empty="No candles to draw.">
            {(c) => <PriceChart candles={c.candles} height={460} marks={marks} testId="backtest-price-chart" />}
          </View>
        </Card>
      )}
      <Card title={`Trades (${trades.length})`}>
        {trades.length === 0 ? (
          <Empty>The desk made no trades in this range.</Empty>
        ) : (
          <SortTable
            caption="Closed trades of the backtest"
            columns={TRADE_COLUMNS}
            rows={trades.slice(0, 500)}
            rowKey={(t, i) => `${t.entry_time}-${i}`}
            initial={{ key: "entry_time", dir: "asc" }}
            testId="backtest-trades"
          />
        )}
      </Card>
    </>
  );
}
