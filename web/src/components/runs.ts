import type { Run } from "@/lib/api-types";

export interface RunDecision {
  action?: string;
  size_pct?: number;
  approved?: boolean;
}

/** The decision a finished analysis run reached, wherever the API put it in `result`. */
export function runDecision(run: Run): RunDecision | undefined {
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
