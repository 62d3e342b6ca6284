"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { PriceChart } from "@/components/charts";
import { PortfolioSummary } from "@/components/PortfolioSummary";
import { decisionVerdict } from "@/components/decision";
import { runDecision, runExecution } from "@/components/runs";
import { Card, Empty, ErrorBox, Loading, ModelBadge, ReplayBadge, SourceBadge, StatusBadge, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import { DEFAULT_INTERVAL, DEFAULT_SYMBOL, INTERVALS } from "@/lib/constants";
import { fmtMoney, fmtTime } from "@/lib/format";
import { useApi } from "@/lib/hooks";
import { effectiveSource } from "@/lib/source";

export default function DashboardPage() {
  const series = useApi(() => api.series(), []);
  const symbols = { ...series, data: series.data ? [...new Set(series.data.map((s) => s.symbol))] : undefined };
  const [symbol, setSymbol] = useState(DEFAULT_SYMBOL);
  const [interval, setInterval] = useState(DEFAULT_INTERVAL);
  const candles = useApi(() => api.candles(symbol, interval, 500), [symbol, interval]);
  const portfolios = useApi(() => api.portfolios(), [], true, 15_000);
  const pid = portfolios.data?.[0]?.id;
  const portfolio = useApi(() => api.portfolio(pid as number), [pid], pid !== undefined, 15_000);
  // The run list carries no results: fetch the details of the latest few for their decisions.
  const runs = useApi(async () => Promise.all((await api.analysisRuns()).slice(0, 6).map((r) => api.analysisRun(r.id))), [], true, 15_000);

  // Fall back to the first known symbol when the default one isn't in the store.
  useEffect(() => {
    const list = symbols.data;
    // eslint-disable-next-line react-hooks/set-state-in-effect -- sync with the loaded list once
    if (list && list.length && !list.includes(symbol)) setSymbol(list[0]);
  }, [symbols.data, symbol]);

  const sessions = useApi(() => api.sessions(), [], true, 15_000);
  const active = (sessions.data ?? []).filter((x) => ["pending", "running", "paused", "stopping"].includes(x.status));

  const last = candles.data?.candles.at(-1);
  return (
    <>
      <div className="page-head">
        <h1>Dashboard</h1>
        <div className="tools">
          <label className="field">
            Symbol
            <select value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Symbol" data-testid="symbol-select">
              {(symbols.data?.length ? symbols.data : [symbol]).map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <label className="field">
            Interval
            <select value={interval} onChange={(e) => setInterval(e.target.value)} aria-label="Interval" data-testid="interval-select">
              {INTERVALS.map((i) => (
                <option key={i}>{i}</option>
              ))}
            </select>
          </label>
        </div>
      </div>
      {active.length > 0 && (
        <div className="note" data-testid="sessions-note">
          The firm is at work: {active.length === 1 ? "a trading session is" : `${active.length} trading sessions are`} on the{" "}
          <Link className="inline-link" href={`/floor/?session=${active[0].id}`}>
            Trading floor
          </Link>{" "}
          ({active[0].name}: {active[0].symbols.join(", ")} · {active[0].clock === "replay" ? "replay of stored history" : "live"} · {active[0].status}).
        </div>
      )}
      {symbols.error && <ErrorBox error={symbols.error} onRetry={symbols.reload} />}

      <Card
        testId="chart-card"
        title={
          <>
            {symbol} · {interval}
            {last && <span className="muted"> · last close {fmtMoney(last.close)}</span>}
          </>
        }
        actions={<SourceBadge source={effectiveSource(candles.data?.source, series.data, symbol, interval, candles.data?.derived_from)} />}
      >
        <View state={candles} isEmpty={(d) => d.candles.length === 0} empty={`No ${symbol} ${interval} candles in the store yet.`}>
          {(d) => <PriceChart candles={d.candles} />}
        </View>
      </Card>

      <div className="grid halves">
        <Card title="Portfolio" actions={<Link href="/portfolio/">Details →</Link>}>
          {portfolios.error && !portfolios.data ? (
            <ErrorBox error={portfolios.error} onRetry={portfolios.reload} />
          ) : portfolios.data && portfolios.data.length === 0 ? (
            <Empty>No portfolio yet — run an analysis with execution to create the default one.</Empty>
          ) : (
            <View state={portfolio}>{(p) => <PortfolioSummary portfolio={p} />}</View>
          )}
        </Card>
        <Card title="Latest decisions" actions={<Link href="/analysis/">New analysis →</Link>}>
          <View state={runs} isEmpty={(r) => r.length === 0} empty="No analysis runs yet.">
            {(list) => (
              <Table caption="Latest decisions" head={["When", "Symbol", "Decision", "Run", "Model"]} testId="decisions-table">
                {list.map((r) => {
                  const d = runDecision(r);
                  const v = d && decisionVerdict(d, runExecution(r), { awaitingApproval: r.status === "paused" });
                  return (
                    <tr key={r.id}>
                      <td>
                        <Link href={`/analysis/?run=${r.id}`}>{fmtTime(r.created_at)}</Link>
                        {r.as_of && " "}
                        <ReplayBadge asOf={r.as_of} />
                      </td>
                      <td>{r.symbol}</td>
                      <td>
                        {v ? (
                          <span className="card-actions">
                            <span className={`badge ${v.headlineClass}`} title={v.reason}>
                              {v.headline}
                            </span>
                            <span className={`badge ${v.statusTone}`} title={v.reason}>
                              {v.status}
                            </span>
                          </span>
                        ) : (
                          "—"
                        )}
                      </td>
                      <td>
                        <StatusBadge status={r.status} />
                      </td>
                      <td>
                        <ModelBadge model={r.model} />
                      </td>
                    </tr>
                  );
                })}
              </Table>
            )}
          </View>
        </Card>
      </div>
      {candles.loading && candles.data && <Loading label="Refreshing…" />}
    </>
  );
}
