// What a decision card says, in a trader's words: one function for the Analysis page's card
// and the dashboard's list, so both always agree.

export interface DecisionFacts {
  action: string;
  size_pct?: number | null;
  approved?: boolean | null;
  /** the risk clamp changed the trader's order (graph.schemas.FinalDecision.clamped) */
  clamped?: boolean | null;
  reasons?: string[] | null;
}

export interface ExecutionFacts {
  status: string;
  detail?: string;
}

export type Tone = "ok" | "warn" | "bad" | "info" | "muted";

export interface Verdict {
  /** what the desk does: BUY / SELL / HOLD, or NO TRADE when a buy or sell ended at 0% */
  headline: string;
  /** colour of the headline badge: buy/sell only for a trade that is (or may be) placed */
  headlineClass: "buy" | "sell" | "hold";
  /** approved / cut / rejected / awaiting approval / rejected by human / … */
  status: string;
  statusTone: Tone;
  /** why, when the status is not a plain approval */
  reason?: string;
  /** true when an order was (or would be, on approval) placed */
  trades: boolean;
}

const sized = (d: DecisionFacts) => d.action !== "hold" && (d.size_pct ?? 0) > 0;

/**
 * The verdict of a decision, given what happened after it: a human's approval or rejection and
 * the execute node's result. A BUY at 0% is not a buy: it reads "NO TRADE" with the reason.
 */
export function decisionVerdict(
  d: DecisionFacts,
  execution?: ExecutionFacts,
  opts: { awaitingApproval?: boolean; proposedSize?: number } = {},
): Verdict {
  const reasons = (d.reasons ?? []).filter(Boolean);
  const firstReason = reasons[0];
  const trades = sized(d) && d.approved !== false;
  const headline = d.action === "hold" ? "HOLD" : sized(d) ? d.action.toUpperCase() : "NO TRADE";
  const headlineClass = trades ? (d.action as "buy" | "sell") : "hold";
  const base = { headline, headlineClass, trades } as const;

  if (execution?.status === "rejected_by_human") {
    const note = execution.detail && !/^rejected by a human$/i.test(execution.detail) ? execution.detail : undefined;
    return { ...base, trades: false, headlineClass: "hold", status: "rejected by human", statusTone: "bad", reason: note ?? "You rejected the order: nothing was placed." };
  }
  if (opts.awaitingApproval) {
    return { ...base, status: "awaiting your approval", statusTone: "warn", reason: "Nothing is placed until you approve." };
  }
  if (d.action === "hold") {
    return { ...base, status: "no trade", statusTone: "muted", reason: firstReason ?? "The desk chose to hold." };
  }
  if (d.approved === false) {
    return { ...base, status: "rejected by risk checks", statusTone: "bad", reason: firstReason ?? "The risk checks refused the order." };
  }
  if (!sized(d)) {
    return {
      ...base,
      status: "cut to 0%: no trade",
      statusTone: "warn",
      reason: firstReason ?? `The desk proposed to ${d.action} but the size ended at 0%.`,
    };
  }
  const cut = d.clamped || (opts.proposedSize !== undefined && (d.size_pct ?? 0) < opts.proposedSize - 1e-9);
  let status = "approved";
  let statusTone: Tone = "ok";
  let reason: string | undefined;
  if (cut) {
    status = opts.proposedSize !== undefined ? `approved, cut from ${fmt(opts.proposedSize)}% to ${fmt(d.size_pct ?? 0)}%` : "approved, size cut";
    statusTone = "warn";
    reason = firstReason ?? "The risk limits reduced the size.";
  }
  if (execution && execution.status !== "filled") {
    const words: Record<string, string> = { skipped: "not executed", no_fill: "not filled", error: "execution failed" };
    return { ...base, trades: false, status: `${status} · ${words[execution.status] ?? execution.status.replace(/_/g, " ")}`, statusTone: "warn", reason: executionDetail(execution.detail) || reason };
  }
  return { ...base, status, statusTone, reason };
}

/** The execute node's details (graph/execute.py), for a trader. */
const DETAIL_WORDS: Record<string, string> = {
  "analysis only: no executor": "analysis only: execution was switched off",
  "nothing approved to trade": "nothing approved to trade",
  "executor returned no fill": "the broker did not fill the order",
};

export function executionDetail(detail: string | undefined): string | undefined {
  return detail ? (DETAIL_WORDS[detail] ?? detail) : undefined;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}
