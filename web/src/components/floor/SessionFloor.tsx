"use client";

// One trading session on the floor: what it is (clock, data, status, what it does now), its
// controls, the orders awaiting approval, equity and drawdown, positions, one chart and the
// desk's latest reasoning per symbol, and the decisions timeline. Live through the session's
// SSE stream; the REST views fill in what happened before the page was opened.
import { useMemo, useState } from "react";
import { DrawdownChart, LinesChart } from "../charts";
import { Card, ErrorBox, Loading, NotFound, SourceBadge, Stat, Table, View } from "../ui";
import { api, ApiError, plainText } from "@/lib/api";
import { fmtMoney, fmtNum, fmtPct, fmtTime, num, signClass } from "@/lib/format";
import { useApi, useFoldedEvents, useThrottled } from "@/lib/hooks";
import type { PendingApproval, SessionDecisionRow, SessionView } from "@/lib/session-types";
import { INTERVAL_SECONDS } from "@/lib/source";
import { ClockBadge, SessionStatusBadge, TERMINAL } from "./labels";
import { emptyFloor, foldSession, SESSION_EVENT_TYPES, type FloorState, type SessionEvent } from "./sessionFold";
import { Parity } from "./Parity";
import { SymbolPanel } from "./SymbolPanel";
import { Approvals, DecisionsTimeline, mergeDecisions } from "./Timeline";

const POLL_MS = 2000;
/** Charts and lists redraw at most this often, however fast the replay runs. */
const REDRAW_MS = 1500;

/**
 * Where the live stream starts: the view's `last_event_seq` (when the API gives it) less enough
 * events for the latest bars' reasoning. Everything older comes from the REST views (equity,
 * decisions, trades): a long session has hundreds of thousands of token events.
 */
const REPLAYED_EVENTS = 4000;
function startSeq(s: SessionView): number {
  const last = (s as { last_event_seq?: unknown }).last_event_seq;
  return typeof last === "number" && Number.isFinite(last) ? Math.max(0, last - REPLAYED_EVENTS) : 0;
}

export function SessionFloor({ id }: { id: string }) {
  const session = useApi(() => api.session(id), [id], true, POLL_MS);
  const s = session.data;

  if (session.error instanceof ApiError && session.error.notFound) {
    return <NotFound what="Session" id={id} back="/floor/" backLabel="Show the sessions" />;
  }
  if (!s) return session.error ? <ErrorBox error={session.error} onRetry={session.reload} /> : <Loading label="Loading the session…" />;
  return <Floor s={s} reload={session.reload} />;
}

function Floor({ s, reload }: { s: SessionView; reload: () => void }) {
  const [after] = useState(() => startSeq(s));
  const [generation, setGeneration] = useState(0);
  const reconnect = () => setGeneration((g) => g + 1);
  const url = `${api.sessionEventsUrl(s.id)}${after ? `?after=${after}` : ""}`;
  const { state: floor, stream } = useFoldedEvents<SessionEvent, FloorState>(url, SESSION_EVENT_TYPES, foldSession, emptyFloor, generation);
  const lastTick = floor.ticks.at(-1);
  // The session clock is the close of the last processed bar (a tick names the bar's open):
  // the newer of the stream's and the polled view's.
  const tickClose = lastTick ? Date.parse(lastTick.bar_time) + (INTERVAL_SECONDS[s.interval] ?? 3600) * 1000 : Number.NaN;
  const viewNow = s.now ? Date.parse(s.now) : Number.NaN;
  // While the stream catches up (or lags the poll), the view's figures are the newer ones.
  const tickFresh = tickClose >= viewNow || (Number.isFinite(tickClose) && !Number.isFinite(viewNow));
  const now = tickFresh ? new Date(tickClose).toISOString() : (s.now ?? undefined);
  const live = tickFresh ? lastTick : undefined;
  // The charts end at the clock: a replay never shows a bar its desk has not reached.
  const chartEnd = useThrottled(now ?? (s.clock === "replay" ? (s.replay_from ?? undefined) : undefined), REDRAW_MS);
  const decisionsSeen = useThrottled(floor.decisions.length + s.decisions, REDRAW_MS);
  const tradesSeen = useThrottled(floor.trades.length + s.trades, REDRAW_MS / 2);
  const ticksSeen = useThrottled(floor.ticks.length, REDRAW_MS);

  const equity = useApi(() => api.sessionEquity(s.id), [s.id]);
  const rows = useApi(() => api.sessionDecisions(s.id), [s.id, decisionsSeen], true, undefined, true);
  const positions = useApi(() => api.positions(s.portfolio_id), [s.portfolio_id, tradesSeen, chartEnd], true, undefined, true);
  const trades = useApi(() => api.trades(s.portfolio_id), [s.portfolio_id, tradesSeen], true, undefined, true);
  const portfolio = useApi(() => api.portfolio(s.portfolio_id), [s.portfolio_id]);

  const points = useMemo(() => {
    const byTime = new Map<number, number>();
    for (const p of equity.data ?? []) byTime.set(Date.parse(p.at), num(p.equity));
    for (const t of floor.ticks) byTime.set(Date.parse(t.bar_time), t.equity);
    return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value }));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the ticks redraw throttled
  }, [equity.data, ticksSeen]);
  const equityLines = useMemo(() => [{ name: "Equity", color: "#4fa3ff", points }], [points]);

  const streamed = useMemo<SessionDecisionRow[]>(() => floor.decisions.map((d) => ({ ...d, reasons: d.reasons ?? [] })), [floor.decisions]);
  const decisions = useMemo(() => mergeDecisions(rows.data ?? [], streamed), [rows.data, streamed]);
  const pending = useMemo(() => {
    // The view's list, minus what was answered since; plus what the stream says is waiting.
    const answered = new Set(decisions.filter((d) => d.status !== "awaiting_approval").map((d) => `${d.symbol}|${Date.parse(d.bar_time)}`));
    if (TERMINAL.has(s.status)) return []; // an ended session fills nothing: its open approvals lapse
    return (s.pending_approvals ?? []).filter((p) => !answered.has(`${p.symbol}|${Date.parse(p.bar_time)}`));
  }, [s.pending_approvals, s.status, decisions]);

  const [acting, setActing] = useState(false);
  const [actError, setActError] = useState<Error>();
  async function act(fn: () => Promise<unknown>) {
    setActing(true);
    setActError(undefined);
    try {
      await fn();
      reload();
      rows.reload();
    } catch (e) {
      setActError(e as Error);
    } finally {
      setActing(false);
    }
  }
  const answer = (p: PendingApproval, approved: boolean) => act(() => api.answerApproval(s.id, { symbol: p.symbol, bar_time: p.bar_time, approved }));
  const control = (action: "pause" | "resume" | "stop") =>
    act(async () => {
      await api.sessionControl(s.id, action);
      if (action === "resume") reconnect();
    });

  const status = s.status;
  const terminal = TERMINAL.has(status);
  const eq = live?.equity ?? (s.equity != null ? num(s.equity) : undefined);
  const start = s.starting_cash != null ? num(s.starting_cash) : portfolio.data ? num(portfolio.data.starting_cash) : undefined;
  const ret = eq !== undefined && start ? (eq / start - 1) * 100 : undefined;
  const doing = s.doing ?? floor.lifecycle?.doing; // the polled view is current; the stream says only lifecycle changes
  const tradesBySymbol = (symbol: string) =>
    (trades.data ?? []).filter((t) => t.symbol === symbol && (!t.run_id || t.run_id === s.id || !(trades.data ?? []).some((x) => x.run_id === s.id)));

  return (
    <>
      <Card testId="session-header" title={<>{s.name}</>} actions={<SessionStatusBadge status={status} />}>
        <div className="floor-head">
          <div className="floor-badges">
            <ClockBadge session={s} />
            <SourceBadge source={s.data_source ?? undefined} />
            {portfolio.data && (
              <span className={`badge ${portfolio.data.kind === "synthetic" ? "warn" : "muted"}`} data-testid="market-kind">
                {portfolio.data.kind === "synthetic" ? "SYNTHETIC MARKET" : "real market"}
              </span>
            )}
            <span className={`badge ${s.approval === "require" ? "warn" : "muted"}`} data-testid="approval-policy">
              approval: {s.approval === "require" ? `required (skipped after ${s.approval_timeout_bars} bars)` : "automatic"}
            </span>
            <span className="agent-meta">
              {s.symbols.join(", ")} · {s.interval} · portfolio{" "}
              <a className="inline-link" href={`/portfolio/?id=${s.portfolio_id}`}>
                #{s.portfolio_id}
              </a>
            </span>
          </div>
          <div className="stats">
            <Stat label={s.clock === "replay" ? "Simulated now (UTC)" : "Last bar close (UTC)"} value={<span data-testid="session-now">{fmtTime(now)}</span>} />
            <Stat label="Next bar (UTC)" value={fmtTime(s.next_bar)} />
            <Stat label="Bars processed" value={<span data-testid="bars-processed">{Math.max(s.bars_processed, lastTick?.bars_processed ?? 0)}</span>} />
            <Stat label="Equity" value={<span data-testid="session-equity">{fmtMoney(eq)}</span>} />
            <Stat label="Return" value={fmtPct(ret)} tone={signClass(ret)} />
            <Stat label="Drawdown now" value={fmtPct(live?.drawdown_pct ?? s.drawdown_pct)} />
            <Stat label="Exposure" value={fmtPct(live?.exposure_pct ?? lastTick?.exposure_pct)} />
            <Stat label="Trades" value={<span data-testid="session-trades">{Math.max(s.trades, floor.trades.length)}</span>} />
          </div>
          <LimitsReached s={s} />
          {doing && !terminal && (
            <p className="doing" data-testid="session-doing" role="status">
              Now: {plainText(doing)}
            </p>
          )}
          {s.error && <ErrorBox error={`The session ${status === "failed" ? "failed" : "reports"}: ${plainText(s.error)}`} />}
          {stream === "error" && !terminal && <ErrorBox error="The live updates of this session stopped; the figures refresh every few seconds." onRetry={reconnect} />}
          <div className="floor-controls">
            {(status === "running" || status === "pending") && (
              <button className="btn" disabled={acting} onClick={() => control("pause")} data-testid="pause-session">
                Pause
              </button>
            )}
            {status === "paused" && (
              <button className="btn primary" disabled={acting} onClick={() => control("resume")} data-testid="resume-session">
                Resume
              </button>
            )}
            {!terminal && status !== "stopping" && (
              <button className="btn danger" disabled={acting} onClick={() => control("stop")} data-testid="stop-session" title="Stop for good: the current bar finishes, positions stay open.">
                Stop
              </button>
            )}
            {terminal && <span className="muted">This session has ended ({status}); its portfolio and history stay.</span>}
          </div>
          {actError && !pending.length && <ErrorBox error={actError} />}
        </div>
      </Card>

      {(s.approval === "require" || pending.length > 0) && <Approvals pending={pending} onAnswer={answer} error={pending.length ? actError : undefined} busy={acting} />}

      <div className="grid halves">
        <Card title="Equity">
          <View state={equity} isEmpty={() => points.length === 0} empty="No bar processed yet.">
            {() => <LinesChart testId="session-equity-chart" lines={equityLines} height={260} label={`Session equity over ${points.length} bars`} />}
          </View>
        </Card>
        <Card title="Drawdown">
          <DrawdownChart testId="session-drawdown-chart" points={points} height={236} />
        </Card>
      </div>

      <Card title="Positions" testId="session-positions">
        <View state={positions} isEmpty={(p) => p.length === 0} empty="No open positions.">
          {(list) => (
            <Table caption="Open positions of the session's portfolio" numeric={[1, 2, 3, 4, 5, 6]} head={["Symbol", "Quantity", "Avg entry", "Mark (session clock)", "Unrealised P&L", "Stop", "Target"]} testId="session-positions-table">
              {list.map((p) => {
                // A replay's positions are marked at its own clock, not at the newest stored candle.
                const close = s.symbols_state?.find((x) => x.symbol === p.symbol)?.last_close;
                const mark = close ?? num(p.mark_price);
                const pnl = close != null ? (close - num(p.avg_entry_price)) * num(p.quantity) : num(p.unrealized_pnl);
                return (
                  <tr key={p.symbol}>
                    <td>{p.symbol}</td>
                    <td className="num">{fmtNum(p.quantity, 6)}</td>
                    <td className="num">{fmtMoney(p.avg_entry_price)}</td>
                    <td className="num" title={close != null ? "close of the last bar the session processed" : "not on the watchlist: the newest stored candle"}>
                      {fmtMoney(mark)}
                      {close == null && <span className="muted"> (latest)</span>}
                    </td>
                    <td className={`num ${signClass(pnl)}`}>{fmtMoney(pnl)}</td>
                    <td className="num">{fmtMoney(p.stop_loss)}</td>
                    <td className="num">{fmtMoney(p.take_profit)}</td>
                  </tr>
                );
              })}
            </Table>
          )}
        </View>
      </Card>

      <div className="symbols-grid">
        {s.symbols.map((symbol) => (
          <SymbolPanel
            key={symbol}
            symbol={symbol}
            interval={s.interval}
            end={chartEnd}
            trades={tradesBySymbol(symbol)}
            position={positions.data?.find((p) => p.symbol === symbol)}
            state={s.symbols_state?.find((x) => x.symbol === symbol)}
            reasoning={floor.reasoning[symbol] ?? (s.symbols.length === 1 ? floor.reasoning[""] : undefined)}
            quiet={s.clock === "replay" && !s.speed}
          />
        ))}
      </div>

      <DecisionsTimeline decisions={decisions} total={s.decisions} />

      {s.clock === "replay" && terminal && s.bars_processed > 0 && <Parity sessionId={s.id} />}
    </>
  );
}

/** The highest each limit reached over the session, beside the limit itself. */
function LimitsReached({ s }: { s: SessionView }) {
  const m = s.maxima;
  const limits = s.limits ?? {};
  if (!s.bars_processed || !m) return null;
  const items: [string, number, string, number | undefined][] = [
    ["position", m.max_position_pct, "≤", limits.max_position_pct],
    ["total exposure", m.max_total_exposure_pct, "≤", limits.max_total_exposure_pct],
    ["cash (lowest)", m.min_cash_pct, "≥", limits.min_cash_reserve_pct],
    ["drawdown", m.max_drawdown_pct, "≤", limits.max_drawdown_pct],
    ["daily loss", m.max_daily_loss_pct, "≤", limits.max_daily_loss_pct],
  ];
  return (
    <div className="kv" data-testid="limits-reached">
      <span>Highest reached (limit):</span>
      {items.map(([label, v, op, limit]) => (
        <span key={label}>
          {label} <b>{fmtPct(v)}</b>
          {limit !== undefined && (
            <span className="muted">
              {" "}
              ({op} {fmtPct(limit, 0)})
            </span>
          )}
        </span>
      ))}
    </div>
  );
}
