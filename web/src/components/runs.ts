import type { Run, RunSummary } from "@/lib/api-types";

export interface RunDecision {
  action?: string;
  size_pct?: number;
  approved?: boolean;
}

/** The decision a finished analysis run reached, wherever the API put it in `result`. */
export function runDecision(run: Run | RunSummary): RunDecision | undefined {
  if (!("result" in run)) return undefined;
  const r = run.result as Record<string, unknown> | null | undefined;
  if (!r) return undefined;
  const d = (r.decision ?? r.final_decision ?? r) as Record<string, unknown>;
  if (typeof d.action !== "string") return undefined;
  return {
    action: d.action,
    size_pct: typeof d.size_pct === "number" ? d.size_pct : undefined,
    approved: typeof d.approved === "boolean" ? d.approved : undefined,
  };
}

export interface RunExecution {
  status: string;
  detail?: string;
}

/** What the execute node did (graph.schemas.ExecutionResult), from a finished run's result. */
export function runExecution(run: Run | undefined): RunExecution | undefined {
  const e = (run?.result as Record<string, unknown> | null | undefined)?.execution as Record<string, unknown> | null | undefined;
  if (!e || typeof e.status !== "string") return undefined;
  return { status: e.status, detail: typeof e.detail === "string" ? e.detail : undefined };
}
