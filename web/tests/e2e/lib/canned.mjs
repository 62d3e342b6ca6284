// Canned API answers for states a real backend reaches only by chance (a 0% BUY, a failed
// replay with an exception's text) or not at all in a test (trades exiting on stop and target):
// served through Playwright's routing, they test what the page *shows* for exactly that input.

const AT = "2024-03-01T12:00:00.123456+00:00";

/** An SSE body: one `id/event/data` block per event, as api/sse.py writes them. */
export function sseBody(events) {
  return events.map((e, i) => `id: ${i + 1}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
}

const output = (run_id, node, extra = {}) => ({
  type: "agent_output",
  run_id,
  at: AT,
  node,
  model: "rules",
  prompt_tokens: 0,
  completion_tokens: 0,
  cost_usd: 0,
  latency_ms: 1,
  fallback: false,
  output: { summary: `${node} looked at the market.` },
  ...extra,
});

/** A whole rules-engine run on ETHUSDT 1h that ends in `decision`, then `finished`. */
export function runEvents(run_id, decision, { finished = "completed", extra = [] } = {}) {
  const nodes = ["prepare", "technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager", "risk_gate", "execute"];
  const events = [
    { type: "run_started", run_id, at: AT, kind: "analysis", symbol: "ETHUSDT", interval: "1h", model_cheap: "rules", model_strong: "rules", as_of: null, data_source: "store" },
  ];
  for (const node of nodes.slice(0, 5)) events.push({ type: "node_started", run_id, at: AT, node });
  for (const node of ["technical", "sentiment", "tokenomics", "researcher"]) events.push(output(run_id, node));
  events.push({ type: "node_started", run_id, at: AT, node: "trader" });
  events.push(output(run_id, "trader", { output: { action: decision.action, size_pct: 10, rationale: "momentum" } }));
  events.push({ type: "node_started", run_id, at: AT, node: "risk_manager" });
  events.push(output(run_id, "risk_manager", { output: { verdict: "approve" } }));
  events.push({ type: "node_started", run_id, at: AT, node: "risk_gate" });
  events.push({ type: "decision", run_id, at: AT, awaiting_approval: false, entry: null, stop_loss: null, take_profit: null, reasons: [], ...decision });
  events.push(...extra.map((e) => ({ run_id, at: AT, ...e })));
  events.push({ type: "node_started", run_id, at: AT, node: "execute" });
  events.push({ type: "run_finished", run_id, at: AT, status: finished, cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 });
  return events;
}

export function runDetail(run_id, { status = "completed", decision, execution, error = null } = {}) {
  return {
    id: run_id,
    kind: "analysis",
    status,
    symbol: "ETHUSDT",
    interval: "1h",
    model: "rules",
    params: {},
    progress: 1,
    created_at: AT,
    started_at: AT,
    finished_at: AT,
    as_of: null,
    data_source: "store",
    portfolio_id: null,
    error,
    last_event_seq: 30,
    result: { decision: decision ?? null, execution: execution ?? null },
  };
}

/** Route one canned analysis run (its row and its event stream) on a page. */
export async function routeRun(page, run_id, events, detail) {
  await page.route(`**/api/analysis/runs/${run_id}/events`, (route) =>
    route.fulfill({ status: 200, headers: { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" }, body: sseBody(events) }),
  );
  await page.route(`**/api/analysis/runs/${run_id}`, (route) =>
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(detail) }),
  );
}

const trade = (entry, exit, pnl, exit_reason) => ({
  symbol: "BTCUSDT",
  entry_time: entry,
  exit_time: exit,
  entry_price: 60000,
  exit_price: 60000 + pnl,
  quantity: 1,
  pnl,
  fees: 12,
  return_pct: pnl / 600,
  exit_reason,
});

/** A finished backtest whose trades exit on stop, target, signal and the end of the window. */
export async function routeBacktest(page, run_id) {
  const start = "2024-02-01T00:00:00+00:00";
  const end = "2024-02-05T00:00:00+00:00";
  const curve = Array.from({ length: 96 }, (_, i) => [new Date(Date.parse(start) + i * 3_600_000).toISOString(), 10000 + Math.sin(i / 6) * 300 + i * 3]);
  const bh = curve.map(([t], i) => [t, 10000 + i * 5]);
  const metrics = (final) => ({ start, end, bars: 96, starting_equity: 10000, final_equity: final, total_return: final / 10000 - 1, annualised: false, cagr: null, volatility: 0.4, sharpe: 1.2, sortino: 1.5, max_drawdown: 0.05, max_drawdown_bars: 12, longest_drawdown_bars: 20, calmar: null, trades: 4, win_rate: 0.5, profit_factor: 1.4, expectancy: 20, exposure_pct: 40, fees_paid: 48 });
  const result = {
    run_id,
    partial: false,
    metrics: metrics(10285),
    baselines: {
      buy_and_hold: { name: "buy_and_hold", metrics: metrics(10475), note: "buys with all the cash at the first bar's close and sells at the last bar's close, paying the same fees and slippage as the desk", equity_curve: bh },
      rules: { name: "rules", metrics: metrics(10285), note: "the same run as the desk: the desk itself ran on the rules engine", same_as_desk: true },
    },
    decision_spread: { buy: 4, sell: 3, hold: 40 },
    equity_curve: curve,
    trades: [
      trade("2024-02-01T04:00:00+00:00", "2024-02-01T09:00:00+00:00", -300, "stop_loss"),
      trade("2024-02-02T04:00:00+00:00", "2024-02-02T10:00:00+00:00", 450, "take_profit"),
      trade("2024-02-03T01:00:00+00:00", "2024-02-03T07:00:00+00:00", 80, "signal"),
      trade("2024-02-04T12:00:00+00:00", "2024-02-04T23:00:00+00:00", 55, "end"),
    ],
    warnings: [],
    created_at: end,
  };
  const run = { ...runDetail(run_id), kind: "backtest", symbol: "BTCUSDT", params: { start, end }, result: null };
  await page.route(`**/api/backtests/${run_id}`, (r) => r.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(run) }));
  await page.route(`**/api/backtests/${run_id}/result`, (r) => r.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(result) }));
  await page.route(`**/api/backtests/${run_id}/events`, (r) =>
    r.fulfill({
      status: 200,
      headers: { "Content-Type": "text/event-stream" },
      body: sseBody([{ type: "run_finished", run_id, at: end, status: "completed", cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 }]),
    }),
  );
  return result;
}
