// The desk as a live graph: every node of graph/graph.py with its state, tokens and cost.
import { fmtUsd } from "@/lib/format";
import { agentLabel, ANALYSTS, type NodeState, type PipelineNode } from "./runView";

const STAGES: string[][] = [["prepare"], [...ANALYSTS], ["researcher"], ["trader"], ["risk_manager"], ["risk_gate"], ["execute"]];

const ICON: Record<NodeState, string> = {
  waiting: "○",
  running: "◔",
  done: "●",
  fallback: "◐",
  "awaiting approval": "‖",
  failed: "✕",
  stopped: "■",
};

const isRules = (model?: string) => !!model && model.startsWith("rules");

function NodeBox({ n }: { n: PipelineNode }) {
  const label = agentLabel(n.node);
  const meta = !n.model ? null : isRules(n.model) ? "rules · no cost" : `${n.tokens} tok · ${fmtUsd(n.cost)}`;
  return (
    <li className={`pipe-node ${n.state.replace(/ /g, "-")}`} data-testid={`pipe-${n.node}`} data-state={n.state}>
      <span className="pipe-name">{label}</span>
      <span className="pipe-state">
        <span aria-hidden>{ICON[n.state]} </span>
        {n.state}
        {n.flags.filter((f) => f !== "fallback" || n.state !== "fallback").map((f) => ` · ${f}`)}
      </span>
      {meta && <span className="pipe-meta">{meta}</span>}
    </li>
  );
}

export function Pipeline({ nodes }: { nodes: PipelineNode[] }) {
  const byName = new Map(nodes.map((n) => [n.node, n]));
  const done = nodes.filter((n) => n.state === "done" || n.state === "fallback").length;
  return (
    <div className="pipeline-wrap" data-testid="pipeline">
      <ol className="pipeline" aria-label={`Desk pipeline: ${done} of ${nodes.length} steps done`}>
        {STAGES.map((stage) => (
          <li key={stage.join("-")} className="pipe-stage">
            <ol className="pipe-group">
              {stage.map((name) => {
                const n = byName.get(name);
                return n ? <NodeBox key={name} n={n} /> : null;
              })}
            </ol>
          </li>
        ))}
      </ol>
    </div>
  );
}
