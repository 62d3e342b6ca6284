import type { Run, RunSummary } from "@/lib/api-types";
import type { DecisionFacts, ExecutionFacts } from "./decision";

/** The decision a finished analysis run reached, wherever the API put it in `result`. */
export function runDecision(run: Run | RunSummary): DecisionFacts | undefined {
  if (!("result" in run)) return undefined;
  const r = run.result as Record<string, unknown> | null | undefined;
  if (!r) return undefined;
  const d = (r.decision ?? r.final_decision ?? r) as Record<string, unknown> | null;
  if (!d || typeof d.action !== "string") return undefined;
  return {
    action: d.action,
    size_pct: typeof d.size_pct === "number" ? d.size_pct : undefined,
    approved: typeof d.approved === "boolean" ? d.approved : undefined,
    clamped: typeof d.clamped === "boolean" ? d.clamped : undefined,
    reasons: Array.isArray(d.reasons) ? d.reasons.map(String) : undefined,
  };
}

export type RunExecution = ExecutionFacts;

/** What the execute node did (graph.schemas.ExecutionResult), from a finished run's result. */
export function runExecution(run: Run | undefined): RunExecution | undefined {
  const e = (run?.result as Record<string, unknown> | null | undefined)?.execution as Record<string, unknown> | null | undefined;
  if (!e || typeof e.status !== "string") return undefined;
  return { status: e.status, detail: typeof e.detail === "string" ? e.detail : undefined };
}
