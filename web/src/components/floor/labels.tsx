// Words and badges of the Trading floor: session status, clock, speed, decision status.
import { INTERVAL_SECONDS } from "@/lib/source";
import type { SessionDecisionRow, SessionView } from "@/lib/session-types";
import { fmtTime } from "@/lib/format";

const STATUS: Record<string, { tone: string; words: string }> = {
  pending: { tone: "info", words: "starting" },
  running: { tone: "info", words: "running" },
  paused: { tone: "warn", words: "paused" },
  stopping: { tone: "warn", words: "stopping" },
  stopped: { tone: "muted", words: "stopped" },
  completed: { tone: "ok", words: "completed" },
  failed: { tone: "bad", words: "failed" },
};

export const TERMINAL = new Set(["stopped", "completed", "failed"]);

export function SessionStatusBadge({ status }: { status: string }) {
  const s = STATUS[status] ?? { tone: "bad", words: status.replace(/_/g, " ") };
  return (
    <span className={`badge ${s.tone}`} data-testid="session-status" data-status={status}>
      {s.words}
    </span>
  );
}

/** Bars per wall second of a replay speed (simulated seconds per second) on an interval. */
export function barsPerSecond(speed: number, interval: string): number {
  return speed / (INTERVAL_SECONDS[interval] ?? 3600);
}

export function speedWords(speed: number | null | undefined, interval: string): string {
  if (!speed) return "as fast as possible";
  const bps = barsPerSecond(speed, interval);
  if (bps >= 1) return `${Number(bps.toFixed(2))} bar${bps === 1 ? "" : "s"}/s`;
  return `1 bar every ${Number((1 / bps).toFixed(1))} s`;
}

/** Replay vs live, in words a trader cannot misread. */
export function ClockBadge({ session }: { session: SessionView }) {
  if (session.clock === "replay") {
    return (
      <span className="badge info wrap" data-testid="clock-badge" title="A simulated clock stepping through stored history: the firm trades as if it were that day.">
        REPLAY CLOCK · from {fmtTime(session.replay_from)} UTC · {speedWords(session.speed, session.interval)}
      </span>
    );
  }
  return (
    <span className="badge warn wrap" data-testid="clock-badge" title="Wall time: each bar close fetches the new candle and the desk decides.">
      LIVE CLOCK · wall time
    </span>
  );
}

const DECISION_STATUS: Record<SessionDecisionRow["status"], { tone: string; words: string }> = {
  decided: { tone: "info", words: "to fill at next open" },
  filled: { tone: "ok", words: "filled" },
  skipped: { tone: "muted", words: "not executed" },
  awaiting_approval: { tone: "warn", words: "awaiting your approval" },
  expired: { tone: "muted", words: "approval expired" },
  rejected: { tone: "bad", words: "rejected by you" },
};

export function DecisionStatusBadge({ status, action }: { status: SessionDecisionRow["status"]; action: string }) {
  if (action === "hold" && status !== "awaiting_approval") {
    return <span className="badge muted">no trade</span>;
  }
  const s = DECISION_STATUS[status] ?? { tone: "muted", words: String(status).replace(/_/g, " ") };
  return (
    <span className={`badge ${s.tone}`} data-testid="decision-row-status" data-status={status}>
      {s.words}
    </span>
  );
}
