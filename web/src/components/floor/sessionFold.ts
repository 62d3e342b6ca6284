// Folds a trading session's event stream into what the Trading floor shows: the equity ticks,
// the latest decisions, each symbol's latest reasoning (tokens carry the watchlist `symbol`),
// the fills and the lifecycle. Pure and batch-wise: a session streams thousands of events.
import type { AgentOutputEvent, ErrorEventData, RunEvent, RunFinishedEvent, TokenEvent, TradeEventData } from "@/lib/api-types";
import type { SessionDecisionEvent, SessionStateEvent, SessionTickEvent } from "@/lib/session-types";
import type { AgentView } from "../runView";

export type SessionEvent = RunEvent | SessionTickEvent | SessionDecisionEvent | SessionStateEvent;

/** Every event a session streams (the run events plus the three of sessions). */
export const SESSION_EVENT_TYPES = [
  "run_started",
  "node_started",
  "token",
  "agent_output",
  "decision",
  "trade",
  "budget",
  "progress",
  "error",
  "run_finished",
  "session_tick",
  "session_decision",
  "session_state",
] as const;

/** The desk's agents in the order they speak. */
export const DESK_ORDER = ["technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"] as const;

/** What the desk is saying about one symbol: the bar being decided, or the last one decided. */
export interface SymbolReasoning {
  symbol: string;
  agents: Record<string, AgentView>;
  /** the decision that closed this reasoning; the next token starts the next bar's */
  decision?: SessionDecisionEvent;
}

export interface FloorState {
  ticks: SessionTickEvent[];
  /** newest last, at most MAX_DECISIONS */
  decisions: SessionDecisionEvent[];
  reasoning: Record<string, SymbolReasoning>;
  trades: TradeEventData[];
  errors: ErrorEventData[];
  lifecycle?: SessionStateEvent;
  finished?: RunFinishedEvent;
  /** events folded so far: changes whenever anything arrived */
  count: number;
}

const MAX_DECISIONS = 500;
const MAX_TEXT = 4000;
const MAX_ERRORS = 50;

export function emptyFloor(): FloorState {
  return { ticks: [], decisions: [], reasoning: {}, trades: [], errors: [], count: 0 };
}

/** The watchlist symbol an agent event belongs to ("" when the engine did not say). */
function symbolOf(e: TokenEvent | AgentOutputEvent | SessionDecisionEvent): string {
  const s = (e as { symbol?: string | null }).symbol;
  return typeof s === "string" ? s : "";
}

export function foldSession(prev: FloorState, batch: SessionEvent[]): FloorState {
  const next: FloorState = { ...prev, reasoning: { ...prev.reasoning }, count: prev.count + batch.length };
  let ticks: SessionTickEvent[] | null = null;
  let decisions: SessionDecisionEvent[] | null = null;
  let trades: TradeEventData[] | null = null;
  let errors: ErrorEventData[] | null = null;
  const touched = new Set<string>();

  /** This batch's own copy of a symbol's reasoning (a new bar's when the last one was decided). */
  const reasoning = (symbol: string): SymbolReasoning => {
    const current = next.reasoning[symbol];
    if (!current || current.decision) {
      touched.add(symbol);
      return (next.reasoning[symbol] = { symbol, agents: {} });
    }
    if (!touched.has(symbol)) {
      touched.add(symbol);
      next.reasoning[symbol] = { ...current, agents: { ...current.agents } };
    }
    return next.reasoning[symbol];
  };
  const agent = (r: SymbolReasoning, node: string): AgentView => {
    const a = r.agents[node];
    const copy: AgentView = a ? { ...a } : { node, started: false, text: "" };
    r.agents[node] = copy;
    return copy;
  };

  for (const e of batch) {
    switch (e.type) {
      case "session_tick":
        ticks ??= [...prev.ticks];
        if (ticks.length && ticks[ticks.length - 1].bar_time === e.bar_time) ticks[ticks.length - 1] = e;
        else ticks.push(e);
        break;
      case "session_decision": {
        decisions ??= [...prev.decisions];
        decisions.push(e);
        const r = next.reasoning[e.symbol];
        // The reasoning that led here is kept on screen with its verdict until the next bar's starts.
        next.reasoning[e.symbol] = { symbol: e.symbol, agents: r && !r.decision ? { ...r.agents } : (r?.agents ?? {}), decision: e };
        touched.add(e.symbol);
        break;
      }
      case "token": {
        const a = agent(reasoning(symbolOf(e)), e.node);
        a.started = true;
        a.text = (a.text + e.text).slice(-MAX_TEXT);
        break;
      }
      case "agent_output": {
        const a = agent(reasoning(symbolOf(e)), e.node);
        a.started = true;
        a.output = e;
        break;
      }
      case "trade":
        trades ??= [...prev.trades];
        trades.push(e);
        break;
      case "error":
        errors ??= [...prev.errors];
        errors.push(e);
        if (errors.length > MAX_ERRORS) errors.splice(0, errors.length - MAX_ERRORS);
        break;
      case "session_state":
        next.lifecycle = e;
        break;
      case "run_finished":
        next.finished = e;
        break;
      default:
        break;
    }
  }
  if (ticks) next.ticks = ticks;
  if (decisions) next.decisions = decisions.length > MAX_DECISIONS ? decisions.slice(-MAX_DECISIONS) : decisions;
  if (trades) next.trades = trades;
  if (errors) next.errors = errors;
  return next;
}

/** The key of a decision: one per (symbol, bar). */
export const decisionKey = (d: { symbol: string; bar_time: string }) => `${d.symbol}|${Date.parse(d.bar_time)}`;
