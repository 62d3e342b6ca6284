"use client";

// A small component set: cards, states, badges, tables. No UI library, no runtime downloads.
import Link from "next/link";
import { useSyncExternalStore, type ReactNode } from "react";
import { ApiError, connection, OFFLINE_MESSAGE, plainText } from "@/lib/api";
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
  const message = plainText(typeof error === "string" ? error : error.message);
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

/** Wall-clock time of a load, for "last updated …" (local time: it is when *you* saw it). */
export function fmtClock(ms: number | undefined): string {
  return ms === undefined ? "—" : new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
}

/** Earlier data kept on screen while a refresh fails: greyed, with the time it is from. */
export function Stale({
  error,
  updatedAt,
  onRetry,
  children,
}: {
  error: Error;
  updatedAt: number | undefined;
  onRetry?: () => void;
  children: ReactNode;
}) {
  const offline = error instanceof ApiError && error.offline;
  return (
    <div className="stale-wrap" data-testid="stale">
      <div className="stale-note" role="status">
        <span>
          {offline ? "Not live" : `⚠ ${plainText(error.message)}`} · last updated <b>{fmtClock(updatedAt)}</b>
        </span>
        {onRetry && (
          <button className="btn small" onClick={onRetry}>
            Retry
          </button>
        )}
      </div>
      <div className="stale">{children}</div>
    </div>
  );
}

/** One banner for the whole page while the API does not answer (lib/api.ts tracks it). */
export function OfflineBanner() {
  const since = useSyncExternalStore(connection.subscribe, connection.offlineSince, () => null);
  if (since === null) return null;
  return (
    <div className="offline-banner" role="alert" data-testid="offline-banner">
      ⚠ {OFFLINE_MESSAGE} Since {fmtClock(since)}; greyed figures are the last ones received and may be out of date.
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
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void; updatedAt?: number; stale?: boolean };
  empty?: ReactNode;
  isEmpty?: (d: T) => boolean;
  children: (data: T) => ReactNode;
}) {
  if (state.error && state.data !== undefined) {
    return (
      <Stale error={state.error} updatedAt={state.updatedAt} onRetry={state.reload}>
        {isEmpty?.(state.data) ? <Empty>{empty ?? "Nothing here yet."}</Empty> : children(state.data)}
      </Stale>
    );
  }
  if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading />;
  if (isEmpty?.(state.data)) return <Empty>{empty ?? "Nothing here yet."}</Empty>;
  return <>{children(state.data)}</>;
}

/** A proper "no such thing" page for an unknown run, portfolio or backtest id. */
export function NotFound({ what, id, back, backLabel }: { what: string; id: string; back: string; backLabel: string }) {
  return (
    <section className="card not-found" data-testid="not-found" role="alert">
      <h2>{what} not found</h2>
      <p>
        There is no {what.toLowerCase()} with the id <code className="mono">{id}</code>. It may have been deleted, or the link is mistyped.
      </p>
      <Link href={back} className="btn">
        {backLabel}
      </Link>
    </section>
  );
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

const STATUS_TONES: Record<string, string> = {
  completed: "ok",
  running: "info",
  pending: "info",
  queued: "info",
  paused: "warn",
  degraded: "warn",
  cancelled: "muted",
};

const STATUS_WORDS: Record<string, string> = {
  paused: "awaiting approval",
  budget_exceeded: "budget exceeded",
};

/** Any run status, known or new (`degraded`…): unknown ones read as a warning-free "bad". */
export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const tone = STATUS_TONES[status] ?? "bad";
  return (
    <span className={`badge ${tone}`} data-testid="status-badge" data-status={status} title={title}>
      {STATUS_WORDS[status] ?? status.replace(/_/g, " ")}
    </span>
  );
}

/** Flags an agent's output may carry (`fallback`, `cached`, `repaired`…): each one a badge. */
export function Flags({ flags }: { flags: string[] }) {
  const tone: Record<string, string> = { fallback: "bad", repaired: "warn", cached: "info" };
  const words: Record<string, string> = {
    fallback: "fallback: the model's answer was unusable, a safe default was used",
    repaired: "repaired: the model's answer needed fixing to be read",
    cached: "cached: a stored answer to the same prompt, no new model call",
  };
  return (
    <>
      {flags.map((f) => (
        <span key={f} className={`badge ${tone[f] ?? "muted"}`} title={words[f]} data-testid={`flag-${f}`}>
          {f}
        </span>
      ))}
    </>
  );
}

export function Stat({ label, value, tone }: { label: string; value: ReactNode; tone?: string }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className={`stat-value ${tone ?? ""}`}>{value}</div>
    </div>
  );
}

export function Table({
  head,
  children,
  testId,
  caption,
  numeric = [],
}: {
  head: ReactNode[];
  children: ReactNode;
  testId?: string;
  caption?: string;
  /** indexes of the columns holding numbers: their headers align right like their cells */
  numeric?: number[];
}) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={caption ?? (testId ?? "table").replace(/-/g, " ")}>
      <table data-testid={testId}>
        {caption && <caption className="sr-only">{caption}</caption>}
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} className={numeric.includes(i) ? "num" : undefined}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function ProgressBar({ value, label, name }: { value: number; label?: string; name: string }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={name}
      aria-valuetext={label ?? `${pct.toFixed(0)}%`}
      aria-valuenow={Math.round(pct)}
      aria-valuemin={0}
      aria-valuemax={100}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-label">{label ?? `${pct.toFixed(0)}%`}</span>
    </div>
  );
}
