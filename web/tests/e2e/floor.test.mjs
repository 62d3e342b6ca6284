// End-to-end: portfolio management and the Trading floor (issue #15) on the real backend (rules
// engine, temp SQLite, embedded worker) in real headless Chromium. A replay session on the
// stored BTC and ETH history with approval `require`: the page shows it running, the order
// waiting for approval is approved in the page, the fill lands on the chart and the equity moves.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBackend } from "./lib/backend.mjs";
import { axeViolations } from "./lib/axe.mjs";
import { canvasColourCount, DESKTOP, launchBrowser, newPage, PHONE, screenshot } from "./lib/browser.mjs";
import { sseBody } from "./lib/canned.mjs";

let backend;
let browser;
/** The portfolio the management scenario opens; the session trades into it. */
let portfolio = null;

before(async () => {
  backend = await startBackend();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

async function api(path, init) {
  const res = await fetch(`${backend.baseUrl}/api${path}`, init);
  assert.ok(res.ok, `${path} → ${res.status}: ${await res.clone().text()}`);
  return res.json();
}

/** The market the demo stored: a synthetic store needs a synthetic portfolio. */
async function storedMarket() {
  const rows = (await api("/market/symbols")).filter((s) => s.interval === "1h" && ["BTCUSDT", "ETHUSDT"].includes(s.symbol));
  assert.equal(rows.length, 2, "the demo stores BTCUSDT and ETHUSDT 1h");
  return rows.every((r) => r.sources.includes("synthetic")) ? "synthetic" : "real";
}

async function noSidewaysScroll(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page scrolls sideways by ${overflow}px`);
}

/** The text of a locator, once it is there. */
const text = async (locator) => ((await locator.textContent()) ?? "").trim();

describe("portfolio management and the Trading floor", { timeout: 420_000 }, () => {
  test("a portfolio is opened with cash, market, approval policy and limits, then its limits are changed", async () => {
    const kind = await storedMarket();
    const { page, context, problems } = await newPage(browser, DESKTOP);
    await page.goto(`${backend.baseUrl}/portfolio/`);
    const form = page.locator('[data-testid="new-portfolio"]');
    if (!(await form.getAttribute("open"))) await form.locator("summary").click();
    const name = `floor-e2e-${Date.now()}`;
    await page.fill('[data-testid="np-name"]', name);
    await page.fill('[data-testid="np-cash"]', "25000");
    await page.selectOption('[data-testid="np-kind"]', kind);
    await page.check('[data-testid="np-approval"]');
    await page.fill('[data-testid="np-max_position_pct"]', "20");
    await page.fill('[data-testid="np-max_total_exposure_pct"]', "60");
    await page.fill('[data-testid="np-min_cash_reserve_pct"]', "10");
    await screenshot(page, "portfolio-new-form");
    await page.click('[data-testid="np-create"]');
    await page.waitForURL((u) => u.searchParams.has("id"));
    const id = Number(new URL(page.url()).searchParams.get("id"));
    await page.getByText(`${name} · started with 25,000.00`).waitFor();
    let stored = await api(`/portfolios/${id}`);
    assert.equal(stored.require_approval, true);
    assert.equal(stored.kind, kind);
    assert.equal(Number(stored.starting_cash), 25000);
    assert.equal(stored.risk.max_position_pct, 20);
    assert.equal(stored.risk.max_total_exposure_pct, 60);
    assert.equal(stored.risk.min_cash_reserve_pct, 10);

    // Change a limit: PATCH /api/portfolios/{id}; the summary line follows.
    const limits = page.locator('[data-testid="portfolio-limits"]');
    await limits.locator("summary").click();
    await page.fill('[data-testid="ep-max_position_pct"]', "25");
    await page.click('[data-testid="ep-save"]');
    await page.locator('[data-testid="ep-saved"]').waitFor();
    await limits.locator("summary", { hasText: "max position 25%" }).waitFor();
    stored = await api(`/portfolios/${id}`);
    assert.equal(stored.risk.max_position_pct, 25);
    assert.equal(stored.risk.max_total_exposure_pct, 60, "a limit not changed keeps its value");
    assert.equal(stored.require_approval, true);
    // An out-of-bounds limit is refused in the form's words, and nothing changes.
    await page.fill('[data-testid="ep-max_position_pct"]', "250");
    await page.click('[data-testid="ep-save"]');
    const refusal = limits.locator('[role="alert"]');
    await refusal.waitFor();
    assert.match(await text(refusal), /Max position %/);
    assert.equal((await api(`/portfolios/${id}`)).risk.max_position_pct, 25);
    await screenshot(page, "portfolio-limits-1280");
    for (const v of await axeViolations(page)) assert.fail(`axe on the portfolio page: ${v}`);
    // The refused PATCH (422) is the one expected console error.
    assert.deepEqual(problems.filter((p) => !p.includes("status of 422")), []);
    portfolio = { id, kind };
    await context.close();
  });

  test("the Trading floor runs a replay session: approval handled in the page, fills on the chart, equity moving", async () => {
    assert.ok(portfolio, "the portfolio scenario ran");
    const { page, context, problems } = await newPage(browser, DESKTOP);
    await page.goto(`${backend.baseUrl}/`);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Trading floor" }).click();
    await page.waitForURL((u) => u.pathname === "/floor/");
    await page.locator('[data-testid="start-session-form"]').waitFor();
    for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
      await page.waitForSelector(`[data-testid="ss-symbol-${symbol}"]`);
      await page.check(`[data-testid="ss-symbol-${symbol}"]`);
    }
    await page.selectOption('[data-testid="ss-interval"]', "1h");
    assert.equal(await page.inputValue('[data-testid="ss-clock"]'), "replay");
    assert.ok(await page.inputValue('[data-testid="ss-replay-from"]'), "a replay start inside the stored history is offered");
    await page.selectOption('[data-testid="ss-speed"]', "2"); // 2 bars a second
    await page.waitForSelector(`[data-testid="ss-portfolio"] option[value="${portfolio.id}"]`, { state: "attached" });
    await page.selectOption('[data-testid="ss-portfolio"]', String(portfolio.id));
    assert.equal(await page.inputValue('[data-testid="ss-approval"]'), "require", "the portfolio's approval policy is the default");
    await page.fill('[data-testid="ss-timeout"]', "5000"); // never expires during the test
    await page.check('[data-testid="ss-rules"]');
    await page.fill('[data-testid="ss-name"]', "e2e floor");
    // A replay before the stored history is refused, in the form's words, and nothing starts.
    const offered = await page.inputValue('[data-testid="ss-replay-from"]');
    await page.fill('[data-testid="ss-replay-from"]', "2015-01-01T00:00");
    await page.click('[data-testid="ss-start"]');
    const refusal = page.locator('[data-testid="start-session-form"] [role="alert"]');
    await refusal.waitFor();
    assert.match(await text(refusal), /^⚠ Replay from: /);
    assert.doesNotMatch(await text(refusal), /[A-Z][a-zA-Z]+Error\b|replay_from/);
    assert.equal(new URL(page.url()).searchParams.has("session"), false);
    await page.fill('[data-testid="ss-replay-from"]', offered);
    await screenshot(page, "floor-start-form");
    await page.click('[data-testid="ss-start"]');
    await page.waitForURL((u) => u.searchParams.has("session"));
    const sessionId = new URL(page.url()).searchParams.get("session");

    // What the session is, at a glance.
    const header = page.locator('[data-testid="session-header"]');
    await header.waitFor();
    assert.match(await text(header.locator('[data-testid="clock-badge"]')), /^REPLAY CLOCK · from \d{4}-\d\d-\d\d \d\d:\d\d UTC · 2 bars\/s$/);
    assert.match(await text(header.locator('[data-testid="approval-policy"]')), /required/);
    await header.locator('[data-testid="market-kind"]').waitFor();
    assert.equal(await text(header.locator('[data-testid="market-kind"]')), portfolio.kind === "synthetic" ? "SYNTHETIC MARKET" : "real market");
    await page.waitForSelector('[data-testid="session-status"][data-status="running"]', { timeout: 60_000 });
    // The simulated clock advances.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="bars-processed"]')?.textContent) > 0, null, { timeout: 60_000 });
    const now1 = await text(page.locator('[data-testid="session-now"]'));
    await page.waitForFunction((n) => document.querySelector('[data-testid="session-now"]')?.textContent !== n, now1, { timeout: 30_000 });

    // Each symbol's reasoning streams in as the desk decides.
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="symbol-reasoning"] [data-testid="reason-text"]')].some((n) => (n.textContent ?? "").trim().length > 20),
      null,
      { timeout: 60_000 },
    );
    assert.ok((await page.locator('[data-testid="decisions-table"] tbody tr').count()) > 0, "decisions listed");

    // An order waits for approval; nothing of it is filled before it is approved.
    const row = page.locator('[data-testid="approval-row"]').first();
    await row.waitFor({ timeout: 180_000 });
    const symbol = await row.getAttribute("data-symbol");
    assert.ok(symbol === "BTCUSDT" || symbol === "ETHUSDT");
    await screenshot(page, "floor-awaiting-approval");
    const tradesBefore = (await api(`/portfolios/${portfolio.id}/trades`)).length;
    const equityBefore = await text(page.locator('[data-testid="session-equity"]'));
    const bar = await row.getAttribute("data-bar");
    await row.locator('[data-testid="approve-order"]').click();
    // Answered: it leaves the list, and the API has it approved (no longer awaiting).
    await page.locator(`[data-testid="approval-row"][data-symbol="${symbol}"][data-bar="${bar}"]`).waitFor({ state: "detached", timeout: 30_000 });
    const answered = (await api(`/sessions/${sessionId}/decisions?symbol=${symbol}`)).find((d) => Date.parse(d.bar_time) === Date.parse(bar));
    assert.ok(answered && answered.status !== "awaiting_approval" && answered.approved, `the approved decision: ${JSON.stringify(answered)}`);
    // It fills at the next bar's open: a BUY marker on that symbol's chart, a row marked filled.
    const chart = page.locator(`[data-testid="floor-chart-${symbol}"]`);
    await page.waitForFunction(
      (sel) => /[1-9]\d* trades marked/.test(document.querySelector(sel)?.getAttribute("aria-label") ?? ""),
      `[data-testid="floor-chart-${symbol}"]`,
      { timeout: 60_000 },
    );
    assert.ok((await api(`/portfolios/${portfolio.id}/trades`)).length > tradesBefore, "the approved order filled in the ledger");
    await page.waitForSelector(`[data-testid="decisions-table"] tr[data-status="filled"]`, { timeout: 30_000 });
    const fills = (await api(`/portfolios/${portfolio.id}/trades`)).filter((t) => t.run_id === sessionId);
    assert.ok(fills.some((t) => t.side === "buy" && t.symbol === symbol), "the session's buy is in the ledger");

    // Equity moves: the fill's fee at once, then the position's marks bar after bar (or its exit).
    await page.waitForFunction((e) => document.querySelector('[data-testid="session-equity"]')?.textContent?.trim() !== e, equityBefore, { timeout: 60_000 });
    const values = (await api(`/sessions/${sessionId}/equity`)).map((p) => p.equity);
    assert.ok(new Set(values).size > 1, "the equity curve moves");
    await page.waitForSelector('[data-testid="session-equity-chart"] canvas');
    await page.waitForTimeout(600);
    assert.ok((await canvasColourCount(page, '[data-testid="session-equity-chart"]')) > 5, "equity chart drawn");
    assert.ok((await canvasColourCount(page, `[data-testid="floor-chart-${symbol}"]`)) > 20, "price chart drawn");
    const view = await api(`/sessions/${sessionId}`);
    assert.ok(view.trades >= 1 && view.bars_processed > 1, `session view: ${JSON.stringify(view).slice(0, 300)}`);
    await chart.scrollIntoViewIfNeeded();
    await screenshot(page, "floor-1280");

    // Pause stops the clock, Resume continues it.
    await page.click('[data-testid="pause-session"]');
    await page.waitForSelector('[data-testid="session-status"][data-status="paused"]', { timeout: 30_000 });
    await page.waitForTimeout(1500);
    const pausedAt = (await api(`/sessions/${sessionId}`)).bars_processed;
    await page.waitForTimeout(2500);
    assert.equal((await api(`/sessions/${sessionId}`)).bars_processed, pausedAt, "a paused session processes no bar");
    await page.click('[data-testid="resume-session"]');
    await page.waitForSelector('[data-testid="session-status"][data-status="running"]', { timeout: 30_000 });
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="bars-processed"]')?.textContent) > n, pausedAt, { timeout: 60_000 });

    // Phone width: everything stacks, nothing scrolls sideways; axe clean at both widths.
    for (const v of await axeViolations(page)) assert.fail(`axe on the floor at 1280 px: ${v}`);
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(500);
    await noSidewaysScroll(page);
    await screenshot(page, "floor-390");
    for (const v of await axeViolations(page)) assert.fail(`axe on the floor at 390 px: ${v}`);
    await page.setViewportSize(DESKTOP);

    // Stop ends it for good; the list says so.
    await page.click('[data-testid="stop-session"]');
    await page.waitForSelector('[data-testid="session-status"][data-status="stopped"]', { timeout: 60_000 });
    await page
      .locator('[data-testid="sessions-table"] tr', { has: page.locator(`a[href="/floor/?session=${sessionId}"]`) })
      .locator('[data-status="stopped"]')
      .waitFor({ timeout: 15_000 });
    // The refused start (422) is the one expected console error.
    assert.deepEqual(problems.filter((p) => !p.includes("status of 422")), []);
    await context.close();
  });

  test("a running session's stream: reasoning per symbol, decisions, ticks, fills and an approval answered", async () => {
    const pid = (
      await api("/portfolios", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: `canned-run-${Date.now()}`, starting_cash: "10000" }) })
    ).id;
    const { page, context, problems } = await newPage(browser, DESKTOP);
    const id = "canned-running";
    const h = (n) => new Date(Date.parse("2023-06-01T00:00:00Z") + n * 3_600_000).toISOString();
    const pending = { symbol: "ETHUSDT", bar_time: h(11), action: "buy", size_pct: 8, expires_after_bar: h(14) };
    const view = {
      id, name: "canned replay", status: "running", clock: "replay", symbols: ["BTCUSDT", "ETHUSDT"], interval: "1h", portfolio_id: pid,
      approval: "require", approval_timeout_bars: 3, replay_from: h(0), until: null, speed: 3600, data_source: "store", now: h(12), next_bar: h(12),
      bars_processed: 12, decisions: 24, trades: 1, equity: 10012.5, starting_cash: 10000, drawdown_pct: 0.4, doing: "deciding the 2023-06-01 11:00 bar",
      error: null, limits: {}, maxima: { max_position_pct: 9.9, max_total_exposure_pct: 9.9, min_cash_pct: 90, max_drawdown_pct: 0.4, max_daily_loss_pct: 0.1 },
      symbols_state: [{ symbol: "BTCUSDT", last_bar: h(11), last_close: 27100, last_action: "hold", position_qty: 0.036, stop_loss: 26500, take_profit: 28200 }],
      pending_approvals: [pending], created_at: h(0), updated_at: h(0),
    };
    const ev = (type, extra) => ({ type, run_id: id, at: "2026-01-01T00:00:00Z", ...extra });
    const events = [
      ev("session_state", { status: "running", doing: "deciding" }),
      ...Array.from({ length: 12 }, (_, i) => ev("session_tick", { bar_time: h(i), equity: 10000 + i * 1.5 - (i === 5 ? 40 : 0), cash: 9000, drawdown_pct: 0, exposure_pct: 9.9, bars_processed: i + 1 })),
      ev("token", { node: "technical", message_id: "m1", text: "BTC momentum is flat; ", symbol: "BTCUSDT" }),
      ev("token", { node: "technical", message_id: "m2", text: "ETH breaks out above the band; ", symbol: "ETHUSDT" }),
      ev("token", { node: "technical", message_id: "m1", text: "RSI 51, no edge for BTC.", symbol: "BTCUSDT" }),
      ev("agent_output", { node: "trader", model: "rules", symbol: "BTCUSDT", output: { action: "hold", size_pct: 0, rationale: "no edge" } }),
      ev("session_decision", { symbol: "BTCUSDT", bar_time: h(11), action: "hold", approved: true, size_pct: 0, status: "decided", reasons: ["no edge"] }),
      ev("token", { node: "trader", message_id: "m3", text: "ETH: buy 8% with a stop under the breakout.", symbol: "ETHUSDT" }),
      ev("session_decision", { symbol: "ETHUSDT", bar_time: h(11), action: "buy", approved: true, size_pct: 8, stop_loss: 1800, take_profit: 1950, status: "awaiting_approval", reasons: ["breakout"] }),
    ];
    const rows = [{ symbol: "BTCUSDT", bar_time: h(3), action: "buy", approved: true, size_pct: 10, stop_loss: 26500, take_profit: 28200, status: "filled", detail: null, trade_id: 1, reasons: ["trend"] }];
    const trades = [{ id: 1, run_id: id, client_order_id: `session:${id}:BTCUSDT:x`, symbol: "BTCUSDT", side: "buy", quantity: "0.036", price: "27000", fee: "0.97", slippage_bps: "5", reason: "signal", stop_loss: "26500", take_profit: "28200", executed_at: h(4), realized_pnl: null }];
    const positions = [{ symbol: "BTCUSDT", quantity: "0.036", avg_entry_price: "27000", mark_price: "64000", market_value: "2304", cost_basis: "972", unrealized_pnl: "1332", unrealized_pnl_pct: "137", stop_loss: "26500", take_profit: "28200", mark_source: "candle" }];
    const answers = [];
    const json = (body) => (route) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
    await page.route(`**/api/sessions/${id}`, json(view));
    await page.route(`**/api/sessions/${id}/decisions?**`, json(rows));
    await page.route(`**/api/sessions/${id}/equity`, json([]));
    await page.route(`**/api/portfolios/${pid}/trades`, json(trades));
    await page.route(`**/api/portfolios/${pid}/positions`, json(positions));
    await page.route(`**/api/sessions/${id}/approvals`, (route) => {
      answers.push(JSON.parse(route.request().postData() ?? "null"));
      view.pending_approvals = [];
      return json({ ...rows[0], symbol: "ETHUSDT", bar_time: h(11), status: "decided", size_pct: 8 })(route);
    });
    await page.route(`**/api/sessions/${id}/events`, (route) =>
      route.fulfill({ status: 200, headers: { "Content-Type": "text/event-stream" }, body: `retry: 60000\n\n${sseBody(events)}` }),
    );
    await page.goto(`${backend.baseUrl}/floor/?session=${id}`);
    // Each symbol's reasoning under its own chart, never mixed.
    const btc = page.locator('[data-testid="symbol-BTCUSDT"] [data-testid="symbol-reasoning"]');
    const eth = page.locator('[data-testid="symbol-ETHUSDT"] [data-testid="symbol-reasoning"]');
    await eth.getByText("ETH: buy 8%").waitFor();
    assert.match(await text(btc), /BTC momentum is flat; RSI 51, no edge for BTC\./);
    assert.doesNotMatch(await text(btc), /ETH/);
    assert.doesNotMatch(await text(eth), /BTC/);
    assert.match(await text(btc), /bar 2023-06-01 11:00 UTC: HOLD/);
    // The clock is the close of the last processed bar (12 bars from 00:00: 12:00).
    assert.equal(await text(page.locator('[data-testid="session-now"]')), "2023-06-01 12:00");
    assert.equal(await text(page.locator('[data-testid="session-equity"]')), "10,016.50");
    // Decisions: the fetched row and the streamed ones, newest first.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="decisions-table"] tbody tr').length === 3);
    const times = await page.locator('[data-testid="decisions-table"] tbody tr td:first-child').allTextContents();
    assert.deepEqual(times, ["2023-06-01 11:00", "2023-06-01 11:00", "2023-06-01 03:00"]);
    assert.equal(await page.locator('[data-testid="decisions-table"] tr[data-status="awaiting_approval"][data-action="buy"]').count(), 1);
    // The position is marked at the session's clock (its last close), not at the newest stored candle.
    const position = page.locator('[data-testid="session-positions-table"] tbody tr').first();
    await position.waitFor();
    assert.match(await text(position), /^BTCUSDT\s*0\.036\s*27,000\.00\s*27,100\.00\s*3\.60\s*26,500\.00\s*28,200\.00$/);
    // The fill on the BTC chart, and the open position's stop and target.
    await page.waitForFunction(() => /1 trades marked/.test(document.querySelector('[data-testid="floor-chart-BTCUSDT"]')?.getAttribute("aria-label") ?? ""));
    await page.locator('[data-testid="drawdown-chart"], [data-testid="session-drawdown-chart"]').first().waitFor();
    // The approval: answered in the page with the decision's symbol and bar.
    const row = page.locator('[data-testid="approval-row"][data-symbol="ETHUSDT"]');
    await row.waitFor();
    await screenshot(page, "floor-canned-running");
    await row.getByRole("button", { name: /^Approve BUY ETHUSDT 8% \(bar 2023-06-01 11:00 UTC\)$/ }).click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="approval-row"]'));
    assert.deepEqual(answers, [{ symbol: "ETHUSDT", bar_time: h(11), approved: true }]);
    for (const v of await axeViolations(page)) assert.fail(`axe on the canned floor: ${v}`);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("a failed live session says why, and is labelled LIVE with its data source", async () => {
    const pid = (
      await api("/portfolios", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: `canned-${Date.now()}`, starting_cash: "25000" }) })
    ).id;
    const { page, context, problems } = await newPage(browser, DESKTOP);
    const id = "canned-failed-live";
    const at = "2024-03-01T12:00:00+00:00";
    const view = {
      id,
      name: "live watch",
      status: "failed",
      clock: "live",
      symbols: ["BTCUSDT"],
      interval: "1h",
      portfolio_id: pid,
      approval: "auto",
      approval_timeout_bars: 3,
      data_source: "binance",
      now: at,
      next_bar: "2024-03-01T13:00:00+00:00",
      bars_processed: 4,
      decisions: 4,
      trades: 0,
      equity: 25000,
      starting_cash: 25000,
      drawdown_pct: 0,
      doing: null,
      error: "ConnectionError: Binance did not answer for BTCUSDT 1h at 2024-03-01T13:00:05.123456+00:00",
      limits: {},
      maxima: { max_position_pct: 0, max_total_exposure_pct: 0, min_cash_pct: 100, max_drawdown_pct: 0, max_daily_loss_pct: 0 },
      symbols_state: [],
      pending_approvals: [],
      created_at: at,
      updated_at: at,
    };
    const json = (body) => (route) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
    await page.route(`**/api/sessions/${id}`, json(view));
    await page.route(`**/api/sessions/${id}/decisions?**`, json([]));
    await page.route(`**/api/sessions/${id}/equity`, json([{ at, equity: 25000 }]));
    await page.route(`**/api/sessions/${id}/events`, (route) =>
      route.fulfill({
        status: 200,
        headers: { "Content-Type": "text/event-stream" },
        body: sseBody([{ type: "run_finished", run_id: id, at, status: "failed", reason: view.error, cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 }]),
      }),
    );
    await page.goto(`${backend.baseUrl}/floor/?session=${id}`);
    const header = page.locator('[data-testid="session-header"]');
    await header.waitFor();
    assert.equal(await text(header.locator('[data-testid="session-status"]')), "failed");
    assert.match(await text(header.locator('[data-testid="clock-badge"]')), /^LIVE CLOCK/);
    assert.equal(await text(header.locator('[data-testid="source-badge"]')), "binance");
    const alert = header.locator('[role="alert"]');
    await alert.waitFor();
    const message = await text(alert);
    assert.match(message, /The session failed: Binance did not answer for BTCUSDT 1h at 2024-03-01 13:00 UTC/);
    assert.doesNotMatch(message, /ConnectionError|\.123456/);
    assert.equal(await header.locator('[data-testid="pause-session"], [data-testid="stop-session"]').count(), 0, "no controls on an ended session");
    assert.match(await text(page.getByText("Last bar close (UTC)").locator("..")), /2024-03-01 12:00/);
    await screenshot(page, "floor-failed-live");
    // The unknown session id: a not-found page, not an endless spinner.
    await page.goto(`${backend.baseUrl}/floor/?session=no-such-session`);
    await page.locator('[data-testid="not-found"]').waitFor();
    assert.deepEqual(problems.filter((p) => !p.includes("status of 404")), []);
    await context.close();
  });
});
