"use client";

import { useEffect, useRef } from "react";
import type { DecisionEvent } from "@/lib/api-types";
import { plainText } from "@/lib/api";
import { fmtMoney, fmtNum } from "@/lib/format";
import { decisionVerdict, executionDetail, type ExecutionFacts } from "./decision";
import { Card } from "./ui";

/**
 * The desk's decision, stated exactly: what it does, at what size, and what became of it
 * (approved, cut, rejected by the risk checks or by you, awaiting approval, not executed) with
 * the reason. On a phone it scrolls itself into view when it arrives: it would otherwise sit
 * far below the Analyze button.
 */
export function DecisionCard({
  decision,
  execution,
  awaitingApproval,
  proposedSize,
  children,
}: {
  decision: DecisionEvent;
  execution?: ExecutionFacts;
  awaitingApproval: boolean;
  proposedSize?: number;
  children?: React.ReactNode;
}) {
  const v = decisionVerdict(decision, execution, { awaitingApproval, proposedSize });
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (window.matchMedia("(max-width: 720px)").matches) ref.current?.scrollIntoView({ behavior: "smooth", block: "start" });
  }, []);
  const reasons = (decision.reasons ?? []).map(plainText);
  return (
    <div ref={ref} className="decision-anchor">
      <Card title="Decision" className="decision-card" testId="decision-card">
        <div className="decision-main">
          <span className={`badge ${v.headlineClass}`} style={{ fontSize: 14 }} data-testid="decision-action">
            {v.headline}
          </span>
          {decision.action !== "hold" && (
            <span>
              size <b data-testid="decision-size">{fmtNum(decision.size_pct, 2)}%</b>
              {v.headline === "NO TRADE" && <span className="muted"> (proposed: {decision.action.toUpperCase()})</span>}
            </span>
          )}
          {v.trades && decision.entry != null && (
            <span>
              entry <b>{fmtMoney(decision.entry)}</b>
            </span>
          )}
          {v.trades && decision.stop_loss != null && (
            <span>
              stop <b>{fmtMoney(decision.stop_loss)}</b>
            </span>
          )}
          {v.trades && decision.take_profit != null && (
            <span>
              target <b>{fmtMoney(decision.take_profit)}</b>
            </span>
          )}
          <span className={`badge ${v.statusTone}`} data-testid="decision-status">
            {v.status}
          </span>
        </div>
        {v.reason && (
          <p className="decision-reason" data-testid="decision-reason">
            {plainText(v.reason)}
          </p>
        )}
        {reasons.length > 0 && (
          <details className="reasons" open={reasons.length <= 3}>
            <summary>Reasons ({reasons.length})</summary>
            <ul className="points">
              {reasons.map((r, i) => (
                <li key={i}>{r}</li>
              ))}
            </ul>
          </details>
        )}
        {execution && (
          <div className="kv" data-testid="execution">
            <span>
              execution <b>{execution.status.replace(/_/g, " ")}</b>
            </span>
            {execution.detail && executionDetail(execution.detail) !== v.reason && <span>{executionDetail(execution.detail)}</span>}
          </div>
        )}
        {children}
      </Card>
    </div>
  );
}
