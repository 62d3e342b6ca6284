"use client";

// One watchlist symbol on the Trading floor: its price up to the session's clock with the
// session's fills marked and the open position's entry/stop/target, and the desk's latest
// reasoning about it as it streams.
import { useMemo } from "react";
import { EXIT_REASONS } from "../backtestView";
import { PriceChart, type PriceLevel, type TradeMark } from "../charts";
import { OutputSummary } from "../AgentPanels";
import { agentLabel } from "../runView";
import { Card, View } from "../ui";
import { api } from "@/lib/api";
import type { Position, Trade } from "@/lib/api-types";
import { fmtMoney, fmtNum, fmtTime, num } from "@/lib/format";
import { useApi } from "@/lib/hooks";
import type { SymbolState } from "@/lib/session-types";
import { DecisionStatusBadge } from "./labels";
import { DESK_ORDER, type SymbolReasoning } from "./sessionFold";

const BARS = 200;
/** The latest words of each agent (no scroll box: the newest are always in view). */
const TAIL = 400;

export function SymbolPanel({
  symbol,
  interval,
  end,
  trades,
  position,
  state,
  reasoning,
  quiet,
}: {
  symbol: string;
  interval: string;
  /** the session clock (throttled): the chart ends there; undefined = the newest stored bar */
  end: string | undefined;
  trades: Trade[];
  position: Position | undefined;
  state: SymbolState | undefined;
  reasoning: SymbolReasoning | undefined;
  /** a full-speed replay: the engine streams decisions, not the agents' words */
  quiet?: boolean;
}) {
  const candles = useApi(() => api.candles(symbol, interval, BARS, end), [symbol, interval, end], true, undefined, true);
  const marks = useMemo<TradeMark[]>(
    () =>
      trades.map((t) => ({
        time: t.executed_at,
        side: t.side as "buy" | "sell",
        price: num(t.price),
        text: t.side === "sell" && t.reason !== "signal" ? (EXIT_REASONS[t.reason] ?? t.reason) : undefined,
      })),
    [trades],
  );
  const stop = state?.stop_loss ?? (position?.stop_loss != null ? num(position.stop_loss) : null);
  const target = state?.take_profit ?? (position?.take_profit != null ? num(position.take_profit) : null);
  const levels = useMemo<PriceLevel[]>(
    () => [
      ...(position ? [{ price: num(position.avg_entry_price), kind: "entry" as const, label: "avg entry" }] : []),
      ...(position && stop != null ? [{ price: stop, kind: "stop" as const }] : []),
      ...(position && target != null ? [{ price: target, kind: "target" as const }] : []),
    ],
    [position, stop, target],
  );
  return (
    <Card
      testId={`symbol-${symbol}`}
      title={`${symbol} · ${interval}`}
      actions={
        <>
          {state?.last_action && <span className={`badge ${state.last_action === "hold" ? "hold" : state.last_action}`}>last: {state.last_action.toUpperCase()}</span>}
          <span className="agent-meta">
            position {position ? `${fmtNum(position.quantity, 6)} @ ${fmtMoney(position.avg_entry_price)}` : "none"}
            {state?.last_close != null && ` · close ${fmtMoney(state.last_close)}`}
          </span>
        </>
      }
    >
      <View state={candles} isEmpty={(c) => c.candles.length === 0} empty={`No ${symbol} candles to draw.`}>
        {(c) => <PriceChart candles={c.candles} height={380} marks={marks} levels={levels} testId={`floor-chart-${symbol}`} />}
      </View>
      <Reasoning reasoning={reasoning} quiet={quiet} />
    </Card>
  );
}

/** The desk's latest reasoning about this symbol: streaming, then with the bar's verdict. */
function Reasoning({ reasoning, quiet }: { reasoning: SymbolReasoning | undefined; quiet?: boolean }) {
  const agents = reasoning ? DESK_ORDER.map((n) => reasoning.agents[n]).filter((a) => a && (a.text || a.output)) : [];
  const extra = reasoning ? Object.values(reasoning.agents).filter((a) => !(DESK_ORDER as readonly string[]).includes(a.node) && (a.text || a.output)) : [];
  const d = reasoning?.decision;
  return (
    <section className="reasoning" aria-label="The desk's latest reasoning" data-testid="symbol-reasoning">
      <h3>
        Latest reasoning{" "}
        {d ? (
          <span className="muted">
            · bar {fmtTime(d.bar_time)} UTC: <b className={d.action === "hold" ? "" : d.action === "buy" ? "pos" : "neg"}>{d.action.toUpperCase()}</b>
            {d.action !== "hold" && ` ${fmtNum(d.size_pct, 2)}%`} <DecisionStatusBadge status={d.status} action={d.action} />
          </span>
        ) : (
          agents.length > 0 && <span className="muted">· deciding…</span>
        )}
      </h3>
      {agents.length + extra.length === 0 ? (
        <p className="muted">
          {quiet ? "A replay at full speed streams the desk's decisions, not the agents' words: pick a pace to watch them reason." : "Nothing yet: the desk speaks at the next bar close."}
        </p>
      ) : (
        <div className="reasoning-list">
          {[...agents, ...extra].map((a) => (
            <div key={a.node} className="reason-item" data-testid={`reason-${a.node}`}>
              <span className="agent-name">{agentLabel(a.node)}</span>
              {a.text && (
                <div className={`stream-text ${a.output || d ? "" : "typing"}`} data-testid="reason-text">
                  {a.text.length > TAIL ? `…${a.text.slice(-TAIL)}` : a.text}
                </div>
              )}
              {a.output && <OutputSummary output={a.output.output} />}
            </div>
          ))}
        </div>
      )}
    </section>
  );
}
