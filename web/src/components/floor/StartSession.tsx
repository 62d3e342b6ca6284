"use client";

// Start a trading session: watchlist, interval, clock (replay from a past time at a speed, or
// live), approval policy and the portfolio it trades into (an existing one or a new one).
import { useMemo, useState } from "react";
import { api } from "@/lib/api";
import type { Interval, StoredSeries } from "@/lib/api-types";
import { INTERVALS } from "@/lib/constants";
import { useApi } from "@/lib/hooks";
import type { ApprovalPolicy, SessionSpec } from "@/lib/session-types";
import { INTERVAL_SECONDS } from "@/lib/source";
import { ErrorBox } from "../ui";
import { speedWords } from "./labels";

/** Replay paces offered, in bars per wall second (converted to simulated seconds per second). */
const PACES = [0.2, 1, 2, 5, 20];
const MAX_SPEED = 100_000;
const WARMUP_BARS = 200;

/** A default replay start: a month before the newest stored bar, after the warm-up. */
function defaultReplayFrom(series: StoredSeries[], symbols: string[], interval: string): string {
  const rows = series.filter((s) => symbols.includes(s.symbol) && s.interval === interval);
  if (!rows.length) return "";
  const first = Math.max(...rows.map((r) => Date.parse(r.first)));
  const last = Math.min(...rows.map((r) => Date.parse(r.last)));
  const step = (INTERVAL_SECONDS[interval] ?? 3600) * 1000;
  const at = Math.max(first + (WARMUP_BARS + 10) * step, last - 30 * 86_400_000);
  return new Date(Math.floor(at / step) * step).toISOString().slice(0, 16);
}

export function StartSession({ onStarted }: { onStarted: (id: string) => void }) {
  const series = useApi(() => api.series(), []);
  const portfolios = useApi(() => api.portfolios(), []);
  const stored = useMemo(() => [...new Set((series.data ?? []).map((s) => s.symbol))], [series.data]);
  const [picked, setPicked] = useState<string[]>();
  const symbols = picked ?? stored.slice(0, 2);
  const [interval, setInterval] = useState("1h");
  const [clock, setClock] = useState<"replay" | "live">("replay");
  const [replayFrom, setReplayFrom] = useState<string>();
  const [until, setUntil] = useState("");
  const [pace, setPace] = useState("1");
  const [approval, setApproval] = useState<ApprovalPolicy>();
  const [timeoutBars, setTimeoutBars] = useState("3");
  const [portfolioId, setPortfolioId] = useState<string>("");
  const [name, setName] = useState("");
  const [cash, setCash] = useState("10000");
  const [rules, setRules] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | string>();

  const from = replayFrom ?? defaultReplayFrom(series.data ?? [], symbols, interval);
  const portfolio = portfolios.data?.find((p) => String(p.id) === portfolioId);
  // The approval policy follows the chosen portfolio's until the user picks one.
  const policy: ApprovalPolicy = approval ?? (portfolio?.require_approval ? "require" : "auto");
  const step = INTERVAL_SECONDS[interval] ?? 3600;
  const paces = PACES.filter((p) => p * step <= MAX_SPEED);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (!symbols.length) return setError("Symbols: pick at least one");
    if (clock === "replay" && !from) return setError("Replay from: pick a start time");
    const speed = clock === "replay" && pace !== "max" ? Number(pace) * step : null;
    const spec: SessionSpec = {
      symbols,
      interval: interval as Interval,
      portfolio_id: portfolio ? portfolio.id : null,
      name: name.trim() || null,
      starting_cash: portfolio ? null : Number(cash),
      replay_from: clock === "replay" ? `${from}:00Z` : null,
      until: clock === "replay" && until ? `${until}:00Z` : null,
      speed,
      approval: policy,
      approval_timeout_bars: Number(timeoutBars),
      rules,
    };
    setBusy(true);
    setError(undefined);
    try {
      onStarted((await api.startSession(spec)).session_id);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  const toggle = (s: string, on: boolean) => setPicked(on ? [...symbols, s] : symbols.filter((x) => x !== s));

  return (
    <form onSubmit={submit} noValidate className="stack" data-testid="start-session-form" aria-label="Start a trading session">
      <fieldset className="plain">
        <legend>Watchlist</legend>
        {(stored.length ? stored : symbols).map((s) => (
          <label key={s} className="check">
            <input type="checkbox" checked={symbols.includes(s)} onChange={(e) => toggle(s, e.target.checked)} data-testid={`ss-symbol-${s}`} /> {s}
          </label>
        ))}
        {series.error && <span className="muted">stored symbols unavailable</span>}
      </fieldset>
      <div className="form-row">
        <label className="field">
          Interval
          <select value={interval} onChange={(e) => setInterval(e.target.value)} data-testid="ss-interval">
            {INTERVALS.map((i) => (
              <option key={i}>{i}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Clock
          <select value={clock} onChange={(e) => setClock(e.target.value as "replay" | "live")} data-testid="ss-clock">
            <option value="replay">Replay stored history</option>
            <option value="live">Live (wall time, Binance)</option>
          </select>
        </label>
        {clock === "replay" && (
          <>
            <label className="field" title="The first bar the desk decides (UTC); 200 earlier bars are its warm-up.">
              Replay from (UTC)
              <input type="datetime-local" value={from} onChange={(e) => setReplayFrom(e.target.value)} data-testid="ss-replay-from" />
            </label>
            <label className="field">
              Until (UTC, optional)
              <input type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} data-testid="ss-until" />
            </label>
            <label className="field">
              Speed
              <select value={pace} onChange={(e) => setPace(e.target.value)} data-testid="ss-speed">
                {paces.map((p) => (
                  <option key={p} value={String(p)}>
                    {speedWords(p * step, interval)}
                  </option>
                ))}
                <option value="max">as fast as possible</option>
              </select>
            </label>
          </>
        )}
      </div>
      <div className="form-row">
        <label className="field">
          Portfolio
          <select value={portfolioId} onChange={(e) => setPortfolioId(e.target.value)} data-testid="ss-portfolio">
            <option value="">a new portfolio</option>
            {(portfolios.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {p.kind === "synthetic" ? " · SYNTHETIC market" : ""}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Session name (optional)
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} data-testid="ss-name" />
        </label>
        {!portfolio && (
          <label className="field">
            Starting cash (USDT)
            <input type="number" min={1} step="any" value={cash} onChange={(e) => setCash(e.target.value)} data-testid="ss-cash" />
          </label>
        )}
        <label className="field">
          Approval
          <select value={policy} onChange={(e) => setApproval(e.target.value as ApprovalPolicy)} data-testid="ss-approval">
            <option value="auto">automatic: orders fill on their own</option>
            <option value="require">require my approval per order</option>
          </select>
        </label>
        {policy === "require" && (
          <label className="field" title="An order not answered within this many bars is skipped.">
            Approval timeout (bars)
            <input type="number" min={1} max={10000} step={1} value={timeoutBars} onChange={(e) => setTimeoutBars(e.target.value)} data-testid="ss-timeout" />
          </label>
        )}
        <label className="check" title="The offline rules engine decides in code: no model calls, no cost.">
          <input type="checkbox" checked={rules} onChange={(e) => setRules(e.target.checked)} data-testid="ss-rules" /> Offline rules engine
        </label>
      </div>
      <p className="muted small-note">
        {clock === "replay"
          ? "A replay runs the firm as if it were that day: the same desk, broker and ledger, on stored candles, into a paper portfolio."
          : "A live session waits for each bar to close, fetches it from Binance and lets the desk decide."}{" "}
        {portfolio?.kind === "synthetic" && "This portfolio trades synthetic (generated) prices only."}
      </p>
      <div className="form-row">
        <button className="btn primary" type="submit" disabled={busy} data-testid="ss-start">
          {busy ? "Starting…" : "Start session"}
        </button>
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}
