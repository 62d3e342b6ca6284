"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { EVENT_TYPES, type RunEvent } from "./api-types";

export interface Loadable<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Fetch on mount and whenever `deps` change; stale responses are dropped. */
export function useApi<T>(load: () => Promise<T>, deps: unknown[], enabled = true): Loadable<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(enabled);
  const [nonce, setNonce] = useState(0);
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });

  useEffect(() => {
    if (!enabled) return;
    let live = true;
    // eslint-disable-next-line react-hooks/set-state-in-effect -- start of an async load
    setLoading(true);
    loadRef
      .current()
      .then((d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if (live) setError(e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- callers pass their own deps
  }, [...deps, nonce, enabled]);

  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
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
