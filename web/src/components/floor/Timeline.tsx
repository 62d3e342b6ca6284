"use client";

// The decisions timeline (one row per symbol and bar, newest first) and the orders waiting for
// the user's approval, with Approve / Reject.
import { useMemo, useState } from "react";
import { plainText } from "@/lib/api";
import { fmtMoney, fmtNum, fmtTime } from "@/lib/format";
import type { PendingApproval, SessionDecisionRow } from "@/lib/session-types";
import { Card, Empty, ErrorBox, Table } from "../ui";
import { DecisionStatusBadge } from "./labels";
import { decisionKey } from "./sessionFold";

const PAGE = 40;
/** Approvals listed at once (the oldest first: they expire first). */
const MAX_APPROVALS = 8;

/**
 * The decisions of the session: the API's rows, with the ones streamed since the last fetch
 * (a row fetched later wins: its status may have moved on, e.g. awaiting approval → filled).
 */
export function mergeDecisions(rows: SessionDecisionRow[], streamed: SessionDecisionRow[]): SessionDecisionRow[] {
  const byKey = new Map<string, SessionDecisionRow>();
  for (const d of streamed) byKey.set(decisionKey(d), d);
  for (const d of rows) byKey.set(decisionKey(d), d);
  return [...byKey.values()].sort((a, b) => Date.parse(b.bar_time) - Date.parse(a.bar_time) || a.symbol.localeCompare(b.symbol));
}

export function DecisionsTimeline({ decisions, total }: { decisions: SessionDecisionRow[]; total: number }) {
  const [hideHolds, setHideHolds] = useState(false);
  const [limit, setLimit] = useState(PAGE);
  const listed = useMemo(() => (hideHolds ? decisions.filter((d) => d.action !== "hold") : decisions), [decisions, hideHolds]);
  const shown = listed.slice(0, limit);
  const count = Math.max(total, decisions.length);
  return (
    <Card
      title={`Decisions (${count}${count > decisions.length ? `, latest ${decisions.length} here` : ""})`}
      testId="decisions-timeline"
      actions={
        <label className="check small">
          <input type="checkbox" checked={hideHolds} onChange={(e) => setHideHolds(e.target.checked)} data-testid="hide-holds" /> Hide holds
        </label>
      }
    >
      {shown.length === 0 ? (
        <Empty>{decisions.length ? "Only holds so far." : "No decision yet: the desk decides at each bar close."}</Empty>
      ) : (
        <Table caption="Decisions of this session, newest first" numeric={[3, 4, 5]} head={["Bar (UTC)", "Symbol", "Action", "Size", "Stop", "Target", "What happened", "Why"]} testId="decisions-table">
          {shown.map((d) => (
            <tr key={decisionKey(d)} data-action={d.action} data-status={d.status}>
              <td>{fmtTime(d.bar_time)}</td>
              <td>{d.symbol}</td>
              <td>
                <span className={`badge ${d.action}`}>{d.action.toUpperCase()}</span>
              </td>
              <td className="num">{d.action === "hold" ? "—" : `${fmtNum(d.size_pct, 2)}%`}</td>
              <td className="num">{fmtMoney(d.stop_loss)}</td>
              <td className="num">{fmtMoney(d.take_profit)}</td>
              <td>
                <DecisionStatusBadge status={d.status} action={d.action} />
              </td>
              <td className="why" title={(d.reasons ?? []).map(plainText).join("\n")}>
                {plainText(d.detail ?? d.reasons?.[0] ?? "")}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {listed.length > shown.length && (
        <button className="btn small more" onClick={() => setLimit((l) => l + PAGE)} data-testid="more-decisions">
          Show {Math.min(PAGE, listed.length - shown.length)} more
        </button>
      )}
    </Card>
  );
}

export function Approvals({
  pending,
  onAnswer,
  error,
  busy,
}: {
  pending: PendingApproval[];
  onAnswer: (p: PendingApproval, approved: boolean) => void;
  error?: Error;
  busy: boolean;
}) {
  return (
    <Card title={`Waiting for your approval (${pending.length})`} testId="approvals">
      {pending.length === 0 ? (
        <Empty>No order is waiting for approval.</Empty>
      ) : (
        pending.slice(0, MAX_APPROVALS).map((p) => {
          const what = `${p.action.toUpperCase()} ${p.symbol} ${fmtNum(p.size_pct, 2)}% (bar ${fmtTime(p.bar_time)} UTC)`;
          return (
            <div key={`${p.symbol}|${p.bar_time}`} className="approval-row" data-testid="approval-row" data-symbol={p.symbol} data-bar={p.bar_time}>
              <span className="grow">
                <span className={`badge ${p.action}`}>{p.action.toUpperCase()}</span> <b>{p.symbol}</b> · size <b>{fmtNum(p.size_pct, 2)}%</b> · decided at the
                close of the {fmtTime(p.bar_time)} UTC bar · skipped if unanswered after the {fmtTime(p.expires_after_bar)} UTC bar
              </span>
              <button className="btn ok" disabled={busy} onClick={() => onAnswer(p, true)} aria-label={`Approve ${what}`} data-testid="approve-order">
                Approve
              </button>
              <button className="btn danger" disabled={busy} onClick={() => onAnswer(p, false)} aria-label={`Reject ${what}`} data-testid="reject-order">
                Reject
              </button>
            </div>
          );
        })
      )}
      {pending.length > MAX_APPROVALS && (
        <p className="muted small-note" data-testid="more-approvals">
          and {pending.length - MAX_APPROVALS} more waiting: each is skipped when its timeout passes.
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </Card>
  );
}
