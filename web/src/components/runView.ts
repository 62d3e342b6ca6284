// Folds a run's event stream into what the Analysis screen shows. Pure: easy to reason about.
import type {
  AgentOutputEvent,
  BudgetEventData,
  DecisionEvent,
  ErrorEventData,
  RunEvent,
  RunFinishedEvent,
  RunStartedEvent,
  TradeEventData,
} from "@/lib/api-types";

export const ANALYSTS = ["technical", "sentiment", "tokenomics"] as const;
export const DESK = ["researcher", "trader", "risk_manager"] as const;

export interface AgentView {
  node: string;
  started: boolean;
  text: string;
  output?: AgentOutputEvent;
}

export interface RunView {
  started?: RunStartedEvent;
  agents: Record<string, AgentView>;
  decision?: DecisionEvent;
  trades: TradeEventData[];
  budgets: BudgetEventData[];
  errors: ErrorEventData[];
  finished?: RunFinishedEvent;
  tokenCount: number;
  /** where the candles came from: run_started's label, else the technical analyst's input */
  dataSource?: string;
}

export function foldRun(events: RunEvent[]): RunView {
  const view: RunView = { agents: {}, trades: [], budgets: [], errors: [], tokenCount: 0 };
  const agent = (node: string) => (view.agents[node] ??= { node, started: false, text: "" });
  for (const e of events) {
    switch (e.type) {
      case "run_started":
        view.started = e;
        break;
      case "node_started":
        agent(e.node).started = true;
        break;
      case "token": {
        const a = agent(e.node);
        a.started = true;
        a.text += e.text;
        view.tokenCount += 1;
        break;
      }
      case "agent_output":
        agent(e.node).output = e;
        break;
      case "decision":
        view.decision = e;
        break;
      case "trade":
        view.trades.push(e);
        break;
      case "budget":
        view.budgets.push(e);
        break;
      case "error":
        view.errors.push(e);
        break;
      case "run_finished":
        view.finished = e;
        break;
    }
  }
  const technicalSource = view.agents.technical?.output?.output.source;
  view.dataSource = view.started?.data_source ?? (typeof technicalSource === "string" ? technicalSource : undefined);
  return view;
}

export function agentLabel(node: string): string {
  return node.replace(/_/g, " ");
}

/** The desk's graph in order (graph/graph.py): prepare → 3 analysts → researcher → trader →
 * risk manager → risk gate → execute. */
export const PIPELINE = ["prepare", ...ANALYSTS, ...DESK, "risk_gate", "execute"] as const;

export type NodeState = "waiting" | "running" | "done" | "fallback" | "awaiting approval" | "failed" | "stopped";

export interface PipelineNode {
  node: string;
  state: NodeState;
  tokens: number;
  cost: number;
  model?: string;
  flags: string[];
}

/**
 * Flags an agent output carries: `fallback` today, and any other boolean flag or `flags` list
 * the event schema grows (`cached`, `repaired`…) without a change here.
 */
export function outputFlags(o: AgentOutputEvent | undefined): string[] {
  if (!o) return [];
  const record = o as unknown as Record<string, unknown>;
  const flags = new Set<string>();
  for (const k of ["fallback", "cached", "repaired", "degraded"]) if (record[k] === true) flags.add(k);
  if (Array.isArray(record.flags)) for (const f of record.flags) flags.add(String(f));
  return [...flags];
}

/** Each pipeline node's state as the run streams, with its tokens and cost. */
export function pipelineNodes(view: RunView): PipelineNode[] {
  // A string, not the schema's union: statuses added later (`degraded`) are handled here too.
  const finished: string | undefined = view.finished?.status;
  const awaiting = finished === "paused" || (view.decision?.awaiting_approval && !finished);
  const anyStarted = (nodes: readonly string[]) => nodes.some((n) => view.agents[n]?.started || view.agents[n]?.output);
  return PIPELINE.map((node) => {
    const a = view.agents[node];
    const flags = outputFlags(a?.output);
    let state: NodeState = a?.started ? "running" : "waiting";
    if (a?.output) state = flags.includes("fallback") ? "fallback" : "done";
    else if (node === "prepare" && (anyStarted(ANALYSTS) || view.decision)) state = "done";
    else if (node === "risk_gate" && view.decision) state = "done";
    else if (node === "execute") {
      if (view.trades.length > 0 || finished === "completed" || finished === "degraded") state = "done";
      else if (awaiting) state = "awaiting approval";
    }
    // A completed (or degraded: finished with fallbacks) run went through every node; a failed
    // or cancelled one stopped where it was.
    const ranThrough = finished === "completed" || finished === "degraded";
    if (ranThrough && (state === "waiting" || state === "running")) state = "done";
    if (finished && !ranThrough && finished !== "paused" && state === "running") {
      state = finished === "failed" ? "failed" : "stopped";
    }
    const o = a?.output;
    return {
      node,
      state,
      tokens: o ? o.prompt_tokens + o.completion_tokens : 0,
      cost: o ? o.cost_usd : 0,
      model: o?.model,
      flags,
    };
  });
}
