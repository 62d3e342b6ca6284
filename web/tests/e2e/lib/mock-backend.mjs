// TEMPORARY dev aid until the real API lands: a tiny stand-in for /api plus a static file server
// for web/out. Selected only with E2E_BACKEND=mock; the default e2e run uses the real backend.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { WEB_DIR, freePort } from "./backend.mjs";

const OUT = path.join(WEB_DIR, "out");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".txt": "text/plain", ".ico": "image/x-icon", ".json": "application/json" };

function candles(n = 400) {
  const out = [];
  let price = 30000;
  const t0 = Date.UTC(2023, 5, 1) / 1000;
  const ema = { 20: null, 50: null, 200: null };
  let e12 = null, e26 = null, sig = null, gain = 0, loss = 0;
  const closes = [];
  for (let i = 0; i < n; i++) {
    const open = price;
    price = Math.max(1000, price * (1 + Math.sin(i / 17) * 0.004 + (((i * 7919) % 13) - 6) / 1500));
    const close = price;
    const c = { time: new Date((t0 + i * 3600) * 1000).toISOString(), open, close, high: Math.max(open, close) * 1.002, low: Math.min(open, close) * 0.998, volume: 100 };
    closes.push(close);
    for (const p of [20, 50, 200]) ema[p] = ema[p] === null ? close : ema[p] + (2 / (p + 1)) * (close - ema[p]);
    e12 = e12 === null ? close : e12 + (2 / 13) * (close - e12);
    e26 = e26 === null ? close : e26 + (2 / 27) * (close - e26);
    const macd = e12 - e26;
    sig = sig === null ? macd : sig + 0.2 * (macd - sig);
    const d = close - open;
    gain = gain * 13 / 14 + Math.max(d, 0) / 14;
    loss = loss * 13 / 14 + Math.max(-d, 0) / 14;
    if (i >= 20) {
      const w = closes.slice(-20), m = w.reduce((a, b) => a + b) / 20;
      const sd = Math.sqrt(w.reduce((a, b) => a + (b - m) ** 2, 0) / 20);
      Object.assign(c, { bb_middle: m, bb_upper: m + 2 * sd, bb_lower: m - 2 * sd });
    }
    if (i >= 200) Object.assign(c, { ema_20: ema[20], ema_50: ema[50], ema_200: ema[200], rsi_14: 100 - 100 / (1 + gain / (loss || 1e-9)), macd, macd_signal: sig, macd_hist: macd - sig });
    out.push(c);
  }
  return out;
}

const state = { runs: [], trades: [], events: new Map() };

function analysisEvents(runId, symbol, interval) {
  const ev = [{ type: "run_started", kind: "analysis", symbol, interval, model_cheap: "rules", model_strong: "rules", data_source: "synthetic" }];
  const words = (node) => `The ${node} view: EMA alignment is constructive, RSI sits mid-range and MACD is turning up. `.split(/(?<= )/);
  const analysts = ["technical", "sentiment", "tokenomics"];
  for (const n of analysts) ev.push({ type: "node_started", node: n });
  const streams = analysts.map(words);
  for (let i = 0; i < Math.max(...streams.map((s) => s.length)); i++)
    analysts.forEach((n, k) => streams[k][i] && ev.push({ type: "token", node: n, message_id: `m-${n}`, text: streams[k][i] }));
  for (const n of analysts) ev.push({ type: "agent_output", node: n, model: "rules", output: { signal: "bullish", score: 0.4, confidence: 0.6, key_points: ["trend up"], summary: `${n} is bullish` }, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, fallback: false });
  for (const n of ["researcher", "trader", "risk_manager"]) {
    ev.push({ type: "node_started", node: n });
    for (const w of words(n)) ev.push({ type: "token", node: n, message_id: `m-${n}`, text: w });
    ev.push({ type: "agent_output", node: n, model: "rules", output: n === "trader" ? { action: "buy", size_pct: 10, stop_loss: 29000, take_profit: 33000, rationale: "trend" } : { direction: "long", conviction: 0.6, summary: "go long" }, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, fallback: false });
  }
  ev.push({ type: "decision", action: "buy", size_pct: 10, entry: 30000, stop_loss: 29000, take_profit: 33000, approved: true, reasons: ["trend and momentum agree"], awaiting_approval: false });
  const trade = { id: state.trades.length + 1, symbol, side: "buy", quantity: "0.0333", price: "30015", fee: "1.0", reason: "signal", executed_at: new Date().toISOString() };
  state.trades.push(trade);
  ev.push({ type: "trade", portfolio_id: 1, trade_id: trade.id, symbol, side: "buy", quantity: 0.0333, price: 30015, fee: 1 });
  ev.push({ type: "run_finished", status: "completed", cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 });
  return ev.map((e) => ({ run_id: runId, at: new Date().toISOString(), ...e }));
}

function backtestEvents(runId) {
  const ev = [{ type: "run_started", kind: "backtest", symbol: "BTCUSDT", interval: "1h", model_cheap: "rules", model_strong: "rules", data_source: "synthetic" }];
  for (let i = 1; i <= 10; i++) ev.push({ type: "progress", done: i * 12, total: 120, equity: 10000 + i * 10 });
  ev.push({ type: "run_finished", status: "completed", cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 });
  return ev.map((e) => ({ run_id: runId, at: new Date().toISOString(), ...e }));
}

async function sse(req, res, runId) {
  const events = state.events.get(runId);
  if (!events) return json(res, 404, { detail: "run not found" });
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
  const from = Number(req.headers["last-event-id"] ?? 0);
  for (let i = from; i < events.length; i++) {
    res.write(`event: ${events[i].type}\nid: ${i + 1}\ndata: ${JSON.stringify(events[i])}\n\n`);
    await new Promise((r) => setTimeout(r, events[i].type === "token" ? 8 : 60));
  }
  res.end();
}

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  let s = "";
  for await (const c of req) s += c;
  return s ? JSON.parse(s) : {};
}

async function handleApi(req, res, url) {
  const p = url.pathname.replace(/^\/api/, "");
  const now = new Date().toISOString();
  if (p === "/health") return json(res, 200, { status: "ok" });
  if (p === "/market/symbols") return json(res, 200, ["BTCUSDT", "ETHUSDT"]);
  if (p === "/market/candles") return json(res, 200, { symbol: url.searchParams.get("symbol"), interval: url.searchParams.get("interval"), source: "synthetic", candles: candles(Number(url.searchParams.get("limit") ?? 400) < 5 ? 5 : 400) });
  if (p === "/portfolios") return json(res, 200, [{ id: 1, name: "default", starting_cash: "10000" }]);
  if (p === "/portfolios/1") return json(res, 200, { id: 1, name: "default", base_currency: "USDT", starting_cash: "10000", cash: "9000", equity: "10012.5", positions_value: "1012.5", realized_pnl: "0", unrealized_pnl: "12.5", fees_paid: "1" });
  if (p === "/portfolios/1/positions") return json(res, 200, state.trades.length ? [{ symbol: "BTCUSDT", quantity: "0.0333", avg_entry_price: "30015", mark_price: "30400", market_value: "1012.3", unrealized_pnl: "12.8", stop_loss: "29000", take_profit: "33000" }] : []);
  if (p === "/portfolios/1/trades") return json(res, 200, state.trades);
  if (p === "/portfolios/1/equity") return json(res, 200, [{ at: "2023-06-01T00:00:00Z", equity: "10000" }, { at: "2023-06-02T00:00:00Z", equity: "9990" }, { at: now, equity: "10012.5" }]);
  if (p === "/analysis/runs" && req.method === "POST") {
    const b = await readBody(req);
    const id = crypto.randomUUID();
    state.events.set(id, analysisEvents(id, b.symbol, b.interval));
    state.runs.unshift({ id, kind: "analysis", status: "completed", symbol: b.symbol, interval: b.interval, model: "rules", created_at: now, result: { decision: { action: "buy" } } });
    return json(res, 201, { run_id: id });
  }
  if (p === "/analysis/runs") return json(res, 200, state.runs.filter((r) => r.kind === "analysis"));
  let m = p.match(/^\/(analysis\/runs|backtests)\/([^/]+)\/events$/);
  if (m) return sse(req, res, m[2]);
  if (p === "/backtests/estimate") return json(res, 200, { decisions: 60, llm_calls: 360, tokens: 540000, cost_usd: 0, cap_usd: 5, within_cap: true, model: "rules" });
  if (p === "/backtests" && req.method === "POST") {
    const id = crypto.randomUUID();
    state.events.set(id, backtestEvents(id));
    state.runs.unshift({ id, kind: "backtest", status: "completed", symbol: "BTCUSDT", interval: "1h", model: "rules", data_source: "synthetic", progress: 1, created_at: now, params: { start: "2023-06-01", end: "2023-06-06" } });
    return json(res, 201, { run_id: id });
  }
  if (p === "/backtests") return json(res, 200, state.runs.filter((r) => r.kind === "backtest"));
  m = p.match(/^\/backtests\/([^/]+)(\/result)?$/);
  if (m && !m[2]) return json(res, 200, state.runs.find((r) => r.id === m[1]) ?? {});
  if (m && m[2]) {
    const eq = candles(120).map((c, i) => ({ at: c.time, equity: 10000 + Math.sin(i / 9) * 80 + i, buy_and_hold: 10000 * (c.close / 30000) }));
    return json(res, 200, { run_id: m[1], partial: false, metrics: { total_return: 0.012, sharpe: 1.3, max_drawdown: 0.021, trades: 4, win_rate: 0.5 }, baselines: { buy_and_hold: { total_return: 0.02, sharpe: 0.9, max_drawdown: 0.05 }, sma_cross: { total_return: -0.01, sharpe: -0.2, max_drawdown: 0.03 } }, decision_spread: { buy: 10, sell: 6, hold: 44 }, equity_curve: eq, trades: [{ entry_time: "2023-06-01T04:00:00Z", exit_time: "2023-06-02T04:00:00Z", entry_price: 30000, exit_price: 30300, pnl: 9.4, exit_reason: "signal" }], warnings: [] });
  }
  if (p === "/agents/budget") return json(res, 200, { run: { spent_usd: "0", limit_usd: "0.5", spent_tokens: 0, limit_tokens: 200000 }, day: { spent_usd: "0.12", limit_usd: "5", spent_tokens: 12000, limit_tokens: 2000000 } });
  if (p === "/agents/usage") return json(res, 200, [{ key: url.searchParams.get("group_by") === "model" ? "rules" : "2023-06-01", calls: 6, prompt_tokens: 0, completion_tokens: 0, cost_usd: "0" }]);
  if (p === "/agents/logs") return json(res, 200, [{ id: 1, agent: "technical", model: "rules", prompt_tokens: 0, completion_tokens: 0, cost_usd: "0", latency_ms: 1, ok: true, created_at: now }]);
  return json(res, 404, { detail: `no mock for ${p}` });
}

async function serveStatic(res, pathname) {
  let file = path.join(OUT, decodeURIComponent(pathname));
  if (!file.startsWith(OUT)) return json(res, 400, { detail: "bad path" });
  try {
    if ((await stat(file)).isDirectory()) file = path.join(file, "index.html");
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(await readFile(file));
  } catch {
    res.writeHead(404, { "Content-Type": "text/html" });
    res.end(await readFile(path.join(OUT, "404.html")));
  }
}

export async function startMockBackend() {
  const port = await freePort();
  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    if (url.pathname.startsWith("/api/")) handleApi(req, res, url).catch((e) => json(res, 500, { detail: String(e) }));
    else serveStatic(res, url.pathname);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { baseUrl: `http://127.0.0.1:${port}`, logs: [], stop: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}
