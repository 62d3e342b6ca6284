import type { AgentOutputEvent } from "@/lib/api-types";
import { plainText } from "@/lib/api";
import { fmtNum, fmtUsd } from "@/lib/format";
import { Flags, ModelBadge } from "./ui";
import { agentLabel, outputFlags, type AgentView } from "./runView";

export function AgentMeta({ output }: { output?: AgentOutputEvent }) {
  if (!output) return null;
  if (output.model.startsWith("rules") && output.cost_usd === 0) {
    return (
      <span className="agent-meta" data-testid="agent-meta" title="The rules engine decides in code: no model call, no tokens, no cost.">
        no model call · no cost
      </span>
    );
  }
  return (
    <span className="agent-meta" data-testid="agent-meta">
      {output.prompt_tokens + output.completion_tokens} tok · {fmtUsd(output.cost_usd)}
      {output.latency_ms ? ` · ${Math.round(output.latency_ms)} ms` : ""}
    </span>
  );
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

/** The structured output of an agent, rendered by whichever fields it has. */
export function OutputSummary({ output }: { output: Record<string, unknown> }) {
  const facts: [string, string][] = [];
  for (const key of ["signal", "score", "confidence", "direction", "conviction", "action", "verdict", "size_pct", "entry", "stop_loss", "take_profit"]) {
    const v = output[key];
    if (v === undefined || v === null) continue;
    facts.push([key.replace(/_/g, " "), typeof v === "number" ? fmtNum(v, 3) : String(v)]);
  }
  const lists = ["key_points", "key_risks", "reasons"].flatMap((k) =>
    Array.isArray(output[k]) ? (output[k] as unknown[]).map((v) => plainText(String(v))) : [],
  );
  const raw = str(output.summary) ?? str(output.rationale);
  const text = raw && plainText(raw);
  return (
    <>
      {facts.length > 0 && (
        <div className="kv">
          {facts.map(([k, v]) => (
            <span key={k}>
              {k} <b>{v}</b>
            </span>
          ))}
        </div>
      )}
      {text && <div>{text}</div>}
      {lists.length > 0 && (
        <ul className="points">
          {lists.slice(0, 6).map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      )}
    </>
  );
}

function Head({ a }: { a: AgentView }) {
  return (
    <div className="agent-head">
      <span className="agent-name">{agentLabel(a.node)}</span>
      <span className="card-actions">
        <Flags flags={outputFlags(a.output)} />
        <ModelBadge model={a.output?.model} />
        <AgentMeta output={a.output} />
      </span>
    </div>
  );
}

/** Reasoning as it streams in (a typing cursor until the output arrives), then the output. */
function AgentBody({ a }: { a: AgentView }) {
  const streaming = a.started && !a.output;
  return (
    <>
      {a.text && (
        <div className={`stream-text ${streaming ? "typing" : ""}`} data-testid="agent-text">
          {a.text}
        </div>
      )}
      {a.output && <OutputSummary output={a.output.output} />}
    </>
  );
}

/** An analyst's column: reasoning streams in as tokens arrive, then its structured report. */
export function AnalystColumn({ a }: { a: AgentView }) {
  return (
    <div className="agent-col" data-testid={`agent-${a.node}`}>
      <Head a={a} />
      {!a.started && <span className="muted">waiting…</span>}
      <AgentBody a={a} />
    </div>
  );
}

/** Researcher, trader and risk manager speak in turn: one chat bubble each. */
export function AgentBubble({ a }: { a: AgentView }) {
  return (
    <div className={`bubble ${a.node}`} data-testid={`agent-${a.node}`}>
      <Head a={a} />
      <AgentBody a={a} />
    </div>
  );
}
