"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { EVENT_TYPES, type RunEvent } from "./api-types";

export interface Loadable<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
  /** When `data` was last loaded (ms since epoch): shown when a refresh fails. */
  updatedAt: number | undefined;
  /** `data` is from an earlier, successful load and the latest one failed. */
  stale: boolean;
}

/**
 * Fetch on mount and whenever `deps` change; stale responses are dropped. Data of other deps is
 * never shown for the new ones (switching interval clears the old candles), but a failed refresh
 * of the same deps keeps the last data, marked `stale` with its time. `refreshMs` polls, so
 * lists update live and a dead API shows up without a click. `keepPrevious` shows the last
 * data while the next deps load.
 */
export function useApi<T>(load: () => Promise<T>, deps: unknown[], enabled = true, refreshMs?: number, keepPrevious = false): Loadable<T> {
  const [loaded, setLoaded] = useState<{ key: string; data: T; at: number }>();
  const [failed, setFailed] = useState<{ key: string; error: Error }>();
  const [loading, setLoading] = useState(enabled);
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });
  const key = JSON.stringify(deps);

  useEffect(() => {
    if (!enabled) return;
    let live = true;
    // eslint-disable-next-line react-hooks/set-state-in-effect -- start of an async load
    setLoading(true);
    loadRef
      .current()
      .then((d) => {
        if (!live) return;
        setLoaded({ key, data: d, at: Date.now() });
        setFailed(undefined);
      })
      .catch((e: unknown) => {
        if (live) setFailed({ key, error: e instanceof Error ? e : new Error(String(e)) });
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
  }, [key, nonce, enabled]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);

  useEffect(() => {
    if (!enabled || !refreshMs) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState === "visible") reload();
    }, refreshMs);
    window.addEventListener("online", reload);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("online", reload);
    };
  }, [enabled, refreshMs, reload]);

  // Only what was loaded for these deps: never the old interval's candles under the new title —
  // unless the caller asks to keep the previous data while the next loads (a view that moves
  // on with a clock: the same chart one bar later, not a spinner every bar).
  const data = loaded?.key === key || (keepPrevious && loaded) ? loaded?.data : undefined;
  const error = failed?.key === key ? failed.error : undefined;
  return { data, error, loading, reload, updatedAt: data === undefined ? undefined : loaded?.at, stale: error !== undefined && data !== undefined };
}

export type StreamState = "idle" | "connecting" | "open" | "closed" | "error";

/**
 * Subscribe to a run's SSE stream. The browser's EventSource resends Last-Event-ID when it
 * reconnects, so a dropped connection resumes where it stopped; events are also de-duplicated by
 * seq here because a fresh subscription (after approve/reject) replays the run from the start.
 */
export function useRunEvents(url: string | null, generation = 0) {
  const [events, setEvents] = useState<RunEvent[]>([]);
  // Callers key the component by run, so a new run mounts a fresh hook with empty state.
  const [state, setState] = useState<StreamState>(url ? "connecting" : "idle");
  const seen = useRef<Set<number>>(new Set());

  useEffect(() => {
    if (!url) return;
    const source = new EventSource(url);
    let buffer: RunEvent[] = [];
    let frame: number | null = null;
    // Tokens arrive by the hundred: render at most once per animation frame.
    const flush = () => {
      frame = null;
      const batch = buffer;
      buffer = [];
      if (batch.length) setEvents((prev) => prev.concat(batch));
    };
    const onEvent = (e: MessageEvent<string>) => {
      const seq = e.lastEventId ? Number(e.lastEventId) : Number.NaN;
      if (Number.isFinite(seq)) {
        if (seen.current.has(seq)) return;
        seen.current.add(seq);
      }
      let parsed: RunEvent;
      try {
        parsed = { ...(JSON.parse(e.data) as RunEvent), seq };
      } catch {
        return;
      }
      buffer.push(parsed);
      if (frame === null) frame = requestAnimationFrame(flush);
      if (parsed.type === "run_finished" && parsed.status !== "paused") {
        source.close();
        flush();
        setState("closed");
      }
    };
    for (const t of EVENT_TYPES) source.addEventListener(t, onEvent as EventListener);
    source.onopen = () => setState("open");
    source.onerror = () => {
      // CONNECTING means the browser is retrying with Last-Event-ID; CLOSED means it gave up.
      setState(source.readyState === EventSource.CLOSED ? "error" : "connecting");
    };
    return () => {
      source.close();
      if (frame !== null) cancelAnimationFrame(frame);
      flush();
    };
  }, [url, generation]);

  return { events, state };
}

/** Statuses after which a stream has nothing more to say (a paused run or session goes on). */
const FINAL = new Set(["completed", "failed", "cancelled", "stopped", "degraded", "budget_exceeded"]);

/**
 * Subscribe to a long-lived SSE stream (a trading session) and fold its events into a state as
 * they arrive, instead of keeping every event: a session streams thousands of tokens. Batched
 * per animation frame; de-duplicated by seq, so a fresh subscription (`generation`) that replays
 * the stream from the start leaves the state as it was.
 */
export function useFoldedEvents<E extends { type: string; seq?: number }, S>(
  url: string | null,
  types: readonly string[],
  fold: (state: S, batch: E[]) => S,
  init: () => S,
  generation = 0,
): { state: S; stream: StreamState } {
  const [state, setState] = useState<S>(init);
  const [stream, setStream] = useState<StreamState>(url ? "connecting" : "idle");
  const seen = useRef<Set<number>>(new Set());
  const foldRef = useRef(fold);
  useEffect(() => {
    foldRef.current = fold;
  });
  const typesKey = types.join(",");

  useEffect(() => {
    if (!url) return;
    const source = new EventSource(url);
    let buffer: E[] = [];
    let frame: number | null = null;
    const flush = () => {
      frame = null;
      const batch = buffer;
      buffer = [];
      if (batch.length) setState((prev) => foldRef.current(prev, batch));
    };
    const onEvent = (e: MessageEvent<string>) => {
      const seq = e.lastEventId ? Number(e.lastEventId) : Number.NaN;
      if (Number.isFinite(seq)) {
        if (seen.current.has(seq)) return;
        seen.current.add(seq);
      }
      let parsed: E;
      try {
        parsed = { ...(JSON.parse(e.data) as E), seq };
      } catch {
        return;
      }
      buffer.push(parsed);
      if (frame === null) frame = requestAnimationFrame(flush);
      const status = (parsed as { status?: unknown }).status;
      if (parsed.type === "run_finished" && typeof status === "string" && FINAL.has(status)) {
        source.close();
        flush();
        setStream("closed");
      }
    };
    for (const t of typesKey.split(",")) source.addEventListener(t, onEvent as EventListener);
    source.onopen = () => setStream("open");
    source.onerror = () => setStream(source.readyState === EventSource.CLOSED ? "error" : "connecting");
    return () => {
      source.close();
      if (frame !== null) cancelAnimationFrame(frame);
      flush();
    };
  }, [url, generation, typesKey]);

  return { state, stream };
}

/** `value`, changing at most once every `ms` (the latest value wins): for costly redraws. */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    const wait = Math.max(0, last.current + ms - Date.now());
    const timer = window.setTimeout(() => {
      last.current = Date.now();
      setShown(value);
    }, wait);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return shown;
}
