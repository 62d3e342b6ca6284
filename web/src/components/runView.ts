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
