"use client";

import { useEffect, useMemo, useState } from "react";
import { buyAndHoldFromCloses, curve, fmtMetric, metricsTable } from "@/components/backtestView";
import { LinesChart } from "@/components/charts";
import { Card, Empty, ErrorBox, Loading, ModelBadge, ProgressBar, SourceBadge, StatusBadge, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import type { BacktestResult, ProgressEvent, RunFinishedEvent, RunStartedEvent } from "@/lib/api-types";
import { fmtMoney, fmtNum, fmtTime } from "@/lib/format";
import { useApi, useRunEvents } from "@/lib/hooks";
import { effectiveSource } from "@/lib/source";

const TERMINAL = new Set(["completed", "degraded", "failed", "cancelled", "budget_exceeded"]);

export function BacktestDetail({ id, onFinished }: { id: string; onFinished: () => void }) {
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

  const fraction = progress ? progress.done / Math.max(1, progress.total) : (run.data?.progress ?? 0);
  const cancel = async () => {
    try {
      await api.cancelBacktest(id);
    } catch (e) {
      setCancelError(e as Error);
    }
  };

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
            value={done && status === "completed" ? 1 : fraction}
            label={
              progress
                ? `${progress.done} / ${progress.total} bars${progress.equity != null ? ` · equity ${fmtMoney(progress.equity)}` : ""}`
                : done
                  ? status
                  : state === "error"
                    ? "stream disconnected"
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
          {(r) => <ResultView result={r} symbol={run.data?.symbol} interval={run.data?.interval} />}
        </View>
      )}
    </>
  );
}

const SPREAD_COLORS: Record<string, string> = { buy: "#26a69a", sell: "#ef5350", hold: "#5d6b7e" };

function ResultView({ result, symbol, interval }: { result: BacktestResult; symbol?: string; interval?: string }) {
  const equity = useMemo(() => curve(result.equity_curve), [result]);
  const candles = useApi(() => api.candles(symbol as string, interval as string, 2000), [symbol, interval], !!symbol && !!interval);
  const bh = useMemo(() => buyAndHoldFromCloses(equity, candles.data?.candles ?? []), [equity, candles.data]);
  const lines = useMemo(
    () => [
      { name: "Desk", color: "#4fa3ff", points: equity },
      ...(bh.length ? [{ name: "Buy & hold (closes, before fees)", color: "#9aa7b8", points: bh, dashed: true }] : []),
    ],
    [equity, bh],
  );
  const table = metricsTable(result);
  const spread = Object.entries(result.decision_spread ?? {}).filter(([, v]) => typeof v === "number") as [string, number][];
  const total = spread.reduce((s, [, v]) => s + v, 0);
  // Closed trades (tools.metrics.ClosedTrade) as JSON objects; columns follow the first one.
  const trades = result.trades as Record<string, unknown>[];
  const tradeCols = trades.length ? Object.keys(trades[0]).slice(0, 9) : [];
  return (
    <>
      {result.partial && <ErrorBox error="Partial result: the run stopped before the end of the range." />}
      {result.warnings.length > 0 && (
        <ul className="warnings">
          {result.warnings.map((w, i) => (
            <li key={i}>{String(w)}</li>
          ))}
        </ul>
      )}
      <Card title="Equity curve">
        {equity.length === 0 ? (
          <Empty>No equity points in this result.</Empty>
        ) : (
          <LinesChart testId="backtest-equity-chart" lines={lines} />
        )}
      </Card>
      <div className="grid two">
        <Card title="Metrics and baselines">
          {table.rows.length === 0 ? (
            <Empty>No metrics.</Empty>
          ) : (
            <Table head={["Metric", ...table.names]} testId="metrics-table">
              {table.rows.map(([k, vals]) => (
                <tr key={k}>
                  <td>{k.replace(/_/g, " ")}</td>
                  {vals.map((v, i) => (
                    <td key={i} className="num">
                      {fmtMetric(k, v)}
                    </td>
                  ))}
                </tr>
              ))}
            </Table>
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
      <Card title={`Trades (${trades.length})`}>
        {trades.length === 0 ? (
          <Empty>The desk made no trades in this range.</Empty>
        ) : (
          <Table head={tradeCols.map((c) => c.replace(/_/g, " "))} testId="backtest-trades">
            {trades.slice(0, 500).map((t, i) => (
              <tr key={i}>
                {tradeCols.map((c) => {
                  const v = t[c];
                  const text =
                    typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) ? fmtTime(v) : typeof v === "number" ? fmtNum(v, 4) : String(v ?? "—");
                  return <td key={c}>{text}</td>;
                })}
              </tr>
            ))}
          </Table>
        )}
      </Card>
    </>
  );
}
