// A small component set: cards, states, badges, tables. No UI library, no runtime downloads.
import type { ReactNode } from "react";
import { fmtTime } from "@/lib/format";

export function Card({
  title,
  actions,
  children,
  className,
  testId,
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  return (
    <section className={`card ${className ?? ""}`} data-testid={testId}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="state loading" role="status">
      <span className="spinner" aria-hidden /> {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

export function ErrorBox({ error, onRetry }: { error: Error | string; onRetry?: () => void }) {
  const message = typeof error === "string" ? error : error.message;
  return (
    <div className="state error" role="alert">
      <span>⚠ {message}</span>
      {onRetry && (
        <button className="btn small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Loading / error / empty handling in one place for a fetched value. */
export function View<T>({
  state,
  empty,
  isEmpty,
  children,
}: {
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  empty?: ReactNode;
  isEmpty?: (d: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  if (isEmpty?.(state.data)) return <Empty>{empty ?? "Nothing here yet."}</Empty>;
  return <>{children(state.data)}</>;
}

export function SourceBadge({ source }: { source: string | null | undefined }) {
  if (!source) return null;
  const synthetic = source.includes("synthetic");
  return (
    <span
      className={`badge ${synthetic ? "warn" : "muted"}`}
      data-testid={synthetic ? "synthetic-badge" : "source-badge"}
      title={synthetic ? "Generated data, not real market prices" : `Data source: ${source}`}
    >
      {source === "synthetic" ? "SYNTHETIC DATA" : synthetic ? source.toUpperCase() : source}
    </span>
  );
}

/** Marks a run that replayed the desk at a past bar (it never trades), wherever runs are listed. */
export function ReplayBadge({ asOf }: { asOf: string | null | undefined }) {
  if (!asOf) return null;
  return (
    <span className="badge info" data-testid="run-replay-badge" title={`replay of the bar at ${fmtTime(asOf)} UTC: never trades`}>
      replay · {fmtTime(asOf)}
    </span>
  );
}

export function ModelBadge({ model }: { model: string | null | undefined }) {
  if (!model) return null;
  const rules = model === "rules" || model.startsWith("rules");
  return (
    <span
      className={`badge ${rules ? "info" : "muted"}`}
      data-testid={rules ? "rules-badge" : "model-badge"}
      title={rules ? "Offline rules engine, no LLM calls" : `Model: ${model}`}
    >
      {rules ? "RULES ENGINE" : model}
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const tone =
    status === "completed"
      ? "ok"
      : status === "running" || status === "pending"
        ? "info"
        : status === "paused"
          ? "warn"
          : "bad";
  return <span className={`badge ${tone}`}>{status.replace("_", " ")}</span>;
}

export function Stat({ label, value, tone }: { label: string; value: ReactNode; tone?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className={`stat-value ${tone ?? ""}`}>{value}</div>
    </div>
  );
}

export function Table({ head, children, testId }: { head: ReactNode[]; children: ReactNode; testId?: string }) {
  return (
    <div className="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function ProgressBar({ value, label }: { value: number; label?: string }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div className="progress" role="progressbar" aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-label">{label ?? `${pct.toFixed(0)}%`}</span>
    </div>
  );
}
