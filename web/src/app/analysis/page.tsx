"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useMemo, useState } from "react";
import { AgentBubble, AnalystColumn } from "@/components/AgentPanels";
import { DataFreshness } from "@/components/DataFreshness";
import { PriceChart, type PriceLevel, type TradeMark } from "@/components/charts";
import { DecisionCard } from "@/components/DecisionCard";
import { Pipeline } from "@/components/Pipeline";
import { runExecution } from "@/components/runs";
import { agentLabel, ANALYSTS, DESK, foldRun, pipelineNodes, type AgentView, type RunView } from "@/components/runView";
import { Card, Empty, ErrorBox, Loading, ModelBadge, NotFound, ReplayBadge, SourceBadge, StatusBadge, Table, View } from "@/components/ui";
import { api, ApiError, OFFLINE_MESSAGE, plainText } from "@/lib/api";
import type { ErrorEventData, Interval } from "@/lib/api-types";
import { DEFAULT_INTERVAL, DEFAULT_SYMBOL, INTERVALS } from "@/lib/constants";
import { fmtMoney, fmtNum, fmtTime, fmtUsd } from "@/lib/format";
import { useApi, useRunEvents } from "@/lib/hooks";
import { effectiveSource } from "@/lib/source";

export default function AnalysisPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Analysis />
    </Suspense>
  );
}

function Analysis() {
  const router = useRouter();
  const runId = useSearchParams().get("run");
  const symbols = useApi(() => api.symbols(), []);
  const stored = useApi(() => api.series(), []);
  const [symbol, setSymbol] = useState(DEFAULT_SYMBOL);
  const [interval, setInterval] = useState(DEFAULT_INTERVAL);
  const [execute, setExecute] = useState(true);
  // "YYYY-MM-DDTHH:MM" from the datetime-local input, read as UTC (the API takes a naive time
  // as UTC); empty = a live analysis. A replay never trades, so it switches execution off.
  const [replayAt, setReplayAt] = useState("");
  const replaying = replayAt !== "";
  const portfolios = useApi(() => api.portfolios(), []);
  const [portfolioId, setPortfolioId] = useState<number>();
  // Executing needs a portfolio (the API refuses otherwise): default to the first one.
  const chosenPortfolio = portfolioId ?? portfolios.data?.[0]?.id;
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<Error>();
  const runs = useApi(() => api.analysisRuns(), [runId], true, 5000);

  async function analyze() {
    setStarting(true);
    setStartError(undefined);
    try {
      const { run_id } = await api.startAnalysis({
        symbol,
        interval,
        execute: !replaying && execute && chosenPortfolio !== undefined,
        portfolio_id: chosenPortfolio ?? null,
        as_of: replaying ? replayAt : null,
        blind: false,
      });
      router.push(`/analysis/?run=${run_id}`);
    } catch (e) {
      setStartError(e as Error);
    } finally {
      setStarting(false);
    }
  }

  return (
    <>
      <div className="page-head">
        <h1>Analysis</h1>
      </div>
      <Card>
        <div className="form-row">
          <label className="field">
            Symbol
            <select value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Symbol" data-testid="analysis-symbol">
              {(symbols.data?.length ? symbols.data : [symbol]).map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
          <label className="field">
            Interval
            <select value={interval} onChange={(e) => setInterval(e.target.value)} aria-label="Interval">
              {INTERVALS.map((i) => (
                <option key={i}>{i}</option>
              ))}
            </select>
          </label>
          <label className="field">
            Portfolio
            <select
              value={chosenPortfolio ?? ""}
              onChange={(e) => setPortfolioId(Number(e.target.value))}
              aria-label="Portfolio"
              disabled={!portfolios.data?.length}
            >
              {portfolios.data?.length ? (
                portfolios.data.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                    {p.require_approval ? " (approval)" : ""}
                    {p.kind === "synthetic" ? " · SYNTHETIC market" : ""}
                  </option>
                ))
              ) : (
                <option value="">{portfolios.error ? "unavailable" : "none"}</option>
              )}
            </select>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={!replaying && execute && chosenPortfolio !== undefined}
              disabled={replaying || chosenPortfolio === undefined}
              onChange={(e) => setExecute(e.target.checked)}
              data-testid="execute-check"
            />{" "}
            Execute on the paper portfolio
          </label>
          <label className="field" title="Replay the desk at the bar containing this UTC time, from stored candles. A replay never trades.">
            Replay at (UTC)
            <input
              type="datetime-local"
              value={replayAt}
              max={new Date().toISOString().slice(0, 16)}
              onChange={(e) => setReplayAt(e.target.value)}
              aria-label="Replay at (UTC)"
              data-testid="replay-at"
            />
          </label>
          <button className="btn primary" onClick={analyze} disabled={starting} data-testid="analyze-button">
            {starting ? "Starting…" : replaying ? "Replay" : "Analyze"}
          </button>
          {replaying && (
            <button className="btn small" onClick={() => setReplayAt("")} data-testid="replay-clear">
              Live
            </button>
          )}
        </div>
        <DataFreshness series={stored.data} symbol={symbol} interval={interval} />
        {replaying && <p className="muted">Replay of a past bar from stored history: nothing is traded.</p>}
        {startError && <ErrorBox error={startError} />}
      </Card>

      {runId ? <RunStream runId={runId} key={runId} onFinished={runs.reload} onSuggestReplay={setReplayAt} /> : <Empty>Pick a symbol and press Analyze to convene the desk.</Empty>}

      <Card title="Recent runs">
        <View state={runs} isEmpty={(r) => r.length === 0} empty="No runs yet.">
          {(list) => (
            <Table head={["Started", "Symbol", "Status", "Model"]} testId="runs-table">
              {list.slice(0, 15).map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={`/analysis/?run=${r.id}`} onClick={(e) => (e.preventDefault(), router.push(`/analysis/?run=${r.id}`))}>
                      {fmtTime(r.created_at)}
                    </a>
                    {r.as_of && " "}
                    <ReplayBadge asOf={r.as_of} />
                  </td>
                  <td>
                    {r.symbol} · {r.interval}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>
                    <ModelBadge model={r.model} />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
    </>
  );
}

/** datetime-local value ("YYYY-MM-DDTHH:MM", UTC) of a timestamp from the API. */
function toReplayInput(at: string): string {
  return new Date(at).toISOString().slice(0, 16);
}

const isStaleWarning = (e: ErrorEventData) => e.severity === "warning" && (e.code === "stale_data" || /stale data/.test(e.message));

function RunStream({
  runId,
  onFinished,
  onSuggestReplay,
}: {
  runId: string;
  onFinished: () => void;
  onSuggestReplay: (at: string) => void;
}) {
  const series = useApi(() => api.series(), []);
  const [generation, setGeneration] = useState(0);
  const { events, state } = useRunEvents(api.analysisEventsUrl(runId), generation);
  const view = useMemo(() => foldRun(events), [events]);
  const nodes = useMemo(() => pipelineNodes(view), [view]);
  const finishedStatus = view.finished?.status;
  useEffect(() => {
    if (finishedStatus) onFinished(); // the run list shows the new status
  }, [finishedStatus, onFinished]);
  // The run row: does it exist at all (a proper not-found page otherwise), and — once it has
  // finished — what the execute node did (filled, skipped, rejected by a human…).
  const detail = useApi(() => api.analysisRun(runId), [runId, finishedStatus]);
  const execution = runExecution(detail.data);
  const [acting, setActing] = useState(false);
  const [actError, setActError] = useState<Error>();
  const agent = (node: string): AgentView => view.agents[node] ?? { node, started: false, text: "" };
  const outputs = Object.values(view.agents).flatMap((a) => (a.output ? [a.output] : []));
  const totals = outputs.reduce(
    (t, o) => ({ tokens: t.tokens + o.prompt_tokens + o.completion_tokens, cost: t.cost + o.cost_usd }),
    { tokens: 0, cost: 0 },
  );
  const rulesOnly =
    (view.started?.model_cheap ?? "").startsWith("rules") &&
    (view.started?.model_strong ?? "").startsWith("rules") &&
    outputs.every((o) => o.model.startsWith("rules"));
  const paused = view.finished?.status === "paused" || (!!view.decision?.awaiting_approval && !view.finished);
  const traderSize = view.agents.trader?.output?.output.size_pct;
  const proposedSize = typeof traderSize === "number" ? traderSize : undefined;

  async function decide(approve: boolean) {
    setActing(true);
    setActError(undefined);
    try {
      await (approve ? api.approve(runId) : api.reject(runId));
      setGeneration((g) => g + 1); // re-subscribe: the resumed run streams on
    } catch (e) {
      setActError(e as Error);
    } finally {
      setActing(false);
    }
  }

  if (detail.error instanceof ApiError && detail.error.notFound) {
    return <NotFound what="Analysis run" id={runId} back="/analysis/" backLabel="Start a new analysis" />;
  }
  const offline = detail.error instanceof ApiError && detail.error.offline;

  const desk = DESK.map(agent).filter((a) => a.started || a.output);
  const replayOf = view.started?.as_of;
  // The newest stored bar of this run's market: where a replay of the stored history can start.
  const lastStored =
    view.started && series.data?.find((s) => s.symbol === view.started?.symbol && s.interval === view.started?.interval)?.last;
  const status = view.finished?.status;
  return (
    <>
      <Card
        testId="run-card"
        title={
          <>
            Run <span className="mono">{runId.slice(0, 8)}</span>
            {view.started && (
              <span className="muted">
                {" "}
                · {view.started.symbol} · {view.started.interval}
              </span>
            )}
          </>
        }
        actions={
          <>
            {replayOf && (
              <span className="badge info" data-testid="replay-badge" title="a replay of a past bar: never trades">
                REPLAY · {fmtTime(replayOf)} UTC
              </span>
            )}
            <SourceBadge source={view.started && effectiveSource(view.dataSource, series.data, view.started.symbol, view.started.interval)} />
            {view.started && <ModelBadge model={view.started.model_cheap} />}
            {view.started && view.started.model_strong !== view.started.model_cheap && <ModelBadge model={view.started.model_strong} />}
            <span className="agent-meta" data-testid="run-totals" title={rulesOnly ? "The rules engine decides in code: it calls no model and costs nothing." : undefined}>
              {rulesOnly && totals.cost === 0 ? "rules engine: no model calls, no cost" : `${totals.tokens} tok · ${fmtUsd(view.finished?.cost_usd ?? totals.cost)}`}
            </span>
            {status ? (
              <StatusBadge status={status} />
            ) : (
              <span className="badge info">{state === "error" ? (offline ? "offline" : "disconnected") : "live"}</span>
            )}
          </>
        }
      >
        {events.length === 0 && state !== "error" && <Loading label="Waiting for the desk…" />}
        {state === "error" && !view.finished && (
          <ErrorBox
            error={offline ? OFFLINE_MESSAGE : "The live updates of this run stopped; reload to see where it stands."}
            onRetry={() => {
              detail.reload();
              setGeneration((g) => g + 1);
            }}
          />
        )}
        <Pipeline nodes={nodes} />
      </Card>

      {view.decision && (
        <DecisionCard decision={view.decision} execution={execution} awaitingApproval={paused && !execution} proposedSize={proposedSize}>
          {paused && !execution && (
            <div className="approval" data-testid="approval">
              <span>The desk is waiting for your approval to place this order.</span>
              <button className="btn ok" disabled={acting} onClick={() => decide(true)} data-testid="approve-button">
                Approve
              </button>
              <button className="btn danger" disabled={acting} onClick={() => decide(false)} data-testid="reject-button">
                Reject
              </button>
            </div>
          )}
          {actError && <ErrorBox error={actError} />}
        </DecisionCard>
      )}

      {view.trades.map((t) => (
        <Card key={`${t.trade_id}-${t.seq}`} title="Executed trade" testId="trade-card">
          <div className="decision-main">
            <span className={`badge ${t.side}`}>{t.side.toUpperCase()}</span>
            <span>
              {fmtNum(t.quantity, 6)} {t.symbol} @ <b>{fmtMoney(t.price)}</b>
            </span>
            <span className="muted">fee {fmtMoney(t.fee, 4)}</span>
          </div>
        </Card>
      ))}

      {view.budgets
        .filter((b) => b.exceeded)
        .map((b, i) => (
          <ErrorBox key={`b${i}`} error={`Budget (${b.scope}) exceeded: ${b.reason ?? `${fmtUsd(b.spent_usd)} of ${fmtUsd(b.limit_usd)}`}`} />
        ))}
      {view.errors
        .filter((e) => e.severity !== "warning")
        .map((e, i) => (
          <ErrorBox key={`e${i}`} error={`${e.node ? `${agentLabel(e.node)}: ` : ""}${e.message}`} />
        ))}
      {view.errors.some((e) => e.severity === "warning") && (
        <Card title="Warnings" testId="run-warnings">
          <ul className="warnings">
            {view.errors
              .filter((e) => e.severity === "warning")
              .map((e, i) => (
                <li key={`w${i}`}>{plainText(`${e.node ? `${agentLabel(e.node)}: ` : ""}${e.message}`)}</li>
              ))}
          </ul>
          {!replayOf && view.errors.some(isStaleWarning) && (
            <div className="kv" style={{ marginTop: 8 }} data-testid="replay-hint">
              <span>
                A live analysis will not trade on old candles. To see how the desk decides on the stored history, set <b>Replay at (UTC)</b> to a time
                inside it and press Replay.
              </span>
              {lastStored && (
                <button className="btn small" onClick={() => onSuggestReplay(toReplayInput(lastStored))} data-testid="replay-suggest">
                  Replay at the last stored bar ({fmtTime(lastStored)})
                </button>
              )}
            </div>
          )}
        </Card>
      )}

      {view.started && <RunChart view={view} rejected={execution?.status === "rejected_by_human"} />}

      <Card title="Analysts">
        <div className="analysts">
          {ANALYSTS.map((n) => (
            <AnalystColumn key={n} a={agent(n)} />
          ))}
        </div>
      </Card>

      {desk.length > 0 && (
        <div className="chat">
          {desk.map((a) => (
            <AgentBubble key={a.node} a={a} />
          ))}
        </div>
      )}
    </>
  );
}

/** The run's market with the decision's entry/stop/target and the run's fills marked. */
function RunChart({ view, rejected }: { view: RunView; rejected: boolean }) {
  const started = view.started as NonNullable<RunView["started"]>;
  const end = started.as_of ?? undefined;
  const candles = useApi(() => api.candles(started.symbol, started.interval, 200, end), [started.symbol, started.interval, end]);
  const d = view.decision;
  // Levels only for an order that stands: not for a hold, a 0% size, a refusal or a rejection.
  const trades = !!d && d.action !== "hold" && d.size_pct > 0 && d.approved && !rejected;
  const levels = useMemo<PriceLevel[]>(
    () =>
      trades && d
        ? [
            ...(d.entry != null ? [{ price: d.entry, kind: "entry" as const }] : []),
            ...(d.stop_loss != null ? [{ price: d.stop_loss, kind: "stop" as const }] : []),
            ...(d.take_profit != null ? [{ price: d.take_profit, kind: "target" as const }] : []),
          ]
        : [],
    [trades, d],
  );
  const marks = useMemo<TradeMark[]>(() => view.trades.flatMap((t) => (t.at ? [{ time: t.at, side: t.side as "buy" | "sell", price: t.price }] : [])), [view.trades]);
  return (
    <Card title={`${started.symbol} · ${started.interval}${end ? ` up to ${fmtTime(end)} UTC` : ""}`} testId="run-chart">
      <View state={candles} isEmpty={(c) => c.candles.length === 0} empty="No candles to draw.">
        {(c) => <PriceChart candles={c.candles} height={420} levels={levels} marks={marks} />}
      </View>
    </Card>
  );
}
