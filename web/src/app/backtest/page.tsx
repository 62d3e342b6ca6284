"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useCallback, useEffect, useState } from "react";
import { BacktestDetail } from "./BacktestDetail";
import { Card, ErrorBox, Loading, ModelBadge, Stat, StatusBadge, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import type { BacktestEstimate, BacktestRequest, Interval } from "@/lib/api-types";
import { DEFAULT_INTERVAL, DEFAULT_SYMBOL, INTERVALS } from "@/lib/constants";
import { fmtNum, fmtTime, fmtUsd, toUnixSeconds } from "@/lib/format";
import { useApi } from "@/lib/hooks";

export default function BacktestPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Backtests />
    </Suspense>
  );
}

function Backtests() {
  const id = useSearchParams().get("id");
  // The list updates live; the open run's row shows the same live progress as its detail.
  const runs = useApi(() => api.backtests(), [id], true, 3000);
  const router = useRouter();
  const [live, setLive] = useState<{ id: string; fraction: number }>();
  const onProgress = useCallback((fraction: number) => id && setLive({ id, fraction }), [id]);
  return (
    <>
      <div className="page-head">
        <h1>Backtest</h1>
        {id && (
          <button className="btn" onClick={() => router.push("/backtest/")}>
            New backtest
          </button>
        )}
      </div>
      {id ? <BacktestDetail id={id} key={id} onFinished={runs.reload} onProgress={onProgress} /> : <BacktestForm />}
      <Card title="Backtest runs">
        <View state={runs} isEmpty={(r) => r.length === 0} empty="No backtests yet.">
          {(list) => (
            <Table head={["Created", "Symbol", "Status", "Progress", "Model"]} testId="backtests-table">
              {list.slice(0, 20).map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={`/backtest/?id=${r.id}`} onClick={(e) => (e.preventDefault(), router.push(`/backtest/?id=${r.id}`))}>
                      {fmtTime(r.created_at)}
                    </a>
                  </td>
                  <td>
                    {r.symbol} · {r.interval}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td className="num" data-testid="list-progress">
                    {fmtNum((r.status === "completed" ? 1 : live?.id === r.id ? Math.max(live.fraction, r.progress ?? 0) : (r.progress ?? 0)) * 100, 0)}%
                  </td>
                  <td>
                    <ModelBadge model={r.model} />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
    </>
  );
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

function BacktestForm() {
  const router = useRouter();
  const symbols = useApi(() => api.symbols(), []);
  const [symbol, setSymbol] = useState(DEFAULT_SYMBOL);
  const [interval, setInterval] = useState(DEFAULT_INTERVAL);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [every, setEvery] = useState(4);
  const [estimate, setEstimate] = useState<BacktestEstimate>();
  const [estimateFor, setEstimateFor] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  // Default range: the last two weeks of the data the store actually has.
  const latest = useApi(() => api.candles(symbol, interval, 1), [symbol, interval]);
  useEffect(() => {
    const last = latest.data?.candles.at(-1);
    if (!last || from || to) return;
    const end = new Date(toUnixSeconds(last.time) * 1000);
    // eslint-disable-next-line react-hooks/set-state-in-effect -- seed the form once from data
    setTo(isoDay(end));
    setFrom(isoDay(new Date(end.getTime() - 14 * 86_400_000)));
  }, [latest.data, from, to]);

  const body: BacktestRequest = {
    symbol,
    interval: interval as Interval,
    start: from ? `${from}T00:00:00Z` : "",
    end: to ? `${to}T00:00:00Z` : "",
    every,
  };
  const key = JSON.stringify(body);
  const estimateFresh = estimate !== undefined && estimateFor === key;
  const formError = !from || !to ? "Pick a date range." : from >= to ? "“From” must be before “To”." : every < 1 ? "Every must be ≥ 1." : "";

  async function run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (e) {
      setError(e as Error);
      return undefined;
    } finally {
      setBusy(false);
    }
  }

  const doEstimate = async () => {
    const est = await run(() => api.estimateBacktest(body));
    if (est) {
      setEstimate(est);
      setEstimateFor(key);
    }
  };
  const doStart = async () => {
    const created = await run(() => api.startBacktest(body));
    if (created) router.push(`/backtest/?id=${created.run_id}`);
  };
  const overCap = estimate && estimate.within_cap === false;

  return (
    <Card title="New backtest" testId="backtest-form">
      <div className="form-row">
        <label className="field">
          Symbol
          <select value={symbol} onChange={(e) => setSymbol(e.target.value)} aria-label="Symbol">
            {(symbols.data?.length ? symbols.data : [symbol]).map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Interval
          <select value={interval} onChange={(e) => setInterval(e.target.value)} aria-label="Interval">
            {INTERVALS.map((i) => (
              <option key={i}>{i}</option>
            ))}
          </select>
        </label>
        <label className="field">
          From
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} aria-label="From" data-testid="bt-from" />
        </label>
        <label className="field">
          To
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} aria-label="To" data-testid="bt-to" />
        </label>
        <label className="field">
          Decide every N bars
          <input
            type="number"
            min={1}
            value={every}
            onChange={(e) => setEvery(Math.max(0, Math.floor(Number(e.target.value))))}
            aria-label="Every N bars"
            data-testid="bt-every"
          />
        </label>
        <button className="btn" disabled={busy || !!formError} onClick={doEstimate} data-testid="estimate-button">
          Estimate cost
        </button>
        <button className="btn primary" disabled={busy || !!formError || !estimateFresh || overCap} onClick={doStart} data-testid="start-backtest">
          Start backtest
        </button>
      </div>
      {formError && (from || to) && <p className="muted">{formError}</p>}
      {estimate && (
        <div className="stats" style={{ marginTop: 12 }} data-testid="estimate">
          <Stat label="Decision points" value={fmtNum(estimate.decision_points, 0)} />
          <Stat label="LLM calls" value={estimate.metered ? fmtNum(estimate.llm_calls, 0) : "0 (offline)"} />
          <Stat label="Tokens" value={fmtNum(estimate.prompt_tokens + estimate.completion_tokens, 0)} />
          <Stat label="Estimated cost" value={fmtUsd(estimate.usd)} tone={overCap ? "neg" : ""} />
          <Stat label="Cost cap" value={fmtUsd(estimate.cap_usd)} />
          <Stat
            label="Models"
            value={
              <span className="card-actions">
                <ModelBadge model={estimate.model_cheap} />
                {estimate.model_strong !== estimate.model_cheap && <ModelBadge model={estimate.model_strong} />}
              </span>
            }
          />
        </div>
      )}
      {estimate && !estimateFresh && <p className="muted">Parameters changed — estimate again before starting.</p>}
      {overCap && <ErrorBox error="The estimate is above the cost cap; narrow the range or decide less often." />}
      {error && <ErrorBox error={error} />}
    </Card>
  );
}
