// What a trader sees, case by case (issue #16): decisions stated exactly, exit reasons, the live
// pipeline, plain-language errors, not-found pages and the API-down state. The real backend
// serves the app; states it reaches only by chance are canned through page.route (lib/canned.mjs).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startBackend } from "./lib/backend.mjs";
import { ARTIFACTS, DESKTOP, launchBrowser, newPage, PHONE, screenshot } from "./lib/browser.mjs";
import { routeBacktest, routeRun, runDetail, runEvents } from "./lib/canned.mjs";

let backend;
let browser;

before(async () => {
  backend = await startBackend();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
});

/** Internals that must never reach a trader's screen. */
const LEAKS = [/[A-Z][a-zA-Z]+Error\b/, /\bcryptofirm (data|fetch)/, /--as-of/, /\d\d:\d\d:\d\d\.\d{3,}/, /Value error,/, /\bas_of\b/];

function assertPlain(text, where) {
  for (const leak of LEAKS) assert.doesNotMatch(text, leak, `${where} leaks ${leak}: "${text}"`);
}

describe("the UI tells the truth at a glance", { timeout: 240_000 }, () => {
  test("a BUY cut to 0% reads as NO TRADE, with the risk checks' reason and no approved badge", async () => {
    const { page, context, problems } = await newPage(browser, DESKTOP);
    const id = "canned-zero-buy";
    const decision = { action: "buy", size_pct: 0, approved: false, clamped: true, reasons: ["stale data: the latest bar opened 2024-03-01T12:00:00.123456+00:00, too old"] };
    await routeRun(page, id, runEvents(id, decision), runDetail(id, { decision, execution: { status: "skipped", detail: "nothing approved to trade" } }));
    await page.goto(`${backend.baseUrl}/analysis/?run=${id}`);
    const card = page.locator('[data-testid="decision-card"]');
    await card.waitFor();
    await page.locator('[data-testid="execution"]').waitFor();
    assert.equal(await card.locator('[data-testid="decision-action"]').textContent(), "NO TRADE");
    assert.equal(await card.locator(".badge.buy").count(), 0, "no green BUY badge for a 0% buy");
    const status = (await card.locator('[data-testid="decision-status"]').textContent()) ?? "";
    assert.match(status, /rejected by risk checks/);
    assert.equal(await card.locator(".badge", { hasText: /^approved$/ }).count(), 0);
    const text = (await card.textContent()) ?? "";
    assert.match(text, /proposed: BUY/);
    assert.match(text, /2024-03-01 12:00 UTC/, "times in a trader's format");
    assertPlain(text, "the decision card");
    // Zero cost is explained, not shown as a row of zeros.
    assert.equal(await page.locator('[data-testid="run-totals"]').textContent(), "rules engine: no model calls, no cost");
    await screenshot(page, "decision-zero-buy-1280");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("the pipeline diagram shows each node's state and reaches done on every node", async () => {
    const { page, context, problems } = await newPage(browser, DESKTOP);
    const id = "canned-hold";
    const decision = { action: "hold", size_pct: 0, approved: true, reasons: ["no edge"] };
    const events = runEvents(id, decision);
    // First only the start of the stream: the analysts are running, the rest is waiting.
    const partial = events.slice(0, 7);
    await routeRun(page, id, partial, runDetail(id, { status: "running" }));
    await page.goto(`${backend.baseUrl}/analysis/?run=${id}`);
    await page.locator('[data-testid="pipeline"]').waitFor();
    await page.waitForSelector('[data-testid="pipe-technical"][data-state="done"]');
    assert.equal(await page.getAttribute('[data-testid="pipe-prepare"]', "data-state"), "done");
    assert.equal(await page.getAttribute('[data-testid="pipe-tokenomics"]', "data-state"), "running");
    assert.equal(await page.getAttribute('[data-testid="pipe-trader"]', "data-state"), "waiting");
    assert.equal(await page.getAttribute('[data-testid="pipe-execute"]', "data-state"), "waiting");
    await screenshot(page, "pipeline-running-1280");
    await page.unroute(`**/api/analysis/runs/${id}/events`);
    await page.unroute(`**/api/analysis/runs/${id}`);
    await routeRun(page, id, events, runDetail(id, { decision, execution: { status: "skipped", detail: "nothing approved to trade" } }));
    await page.reload();
    await page.waitForSelector('[data-testid="pipe-execute"][data-state="done"]');
    const states = await page.$$eval('[data-testid="pipeline"] [data-state]', (els) => els.map((e) => [e.getAttribute("data-testid"), e.getAttribute("data-state")]));
    assert.equal(states.length, 9, "prepare, three analysts, researcher, trader, risk manager, risk gate, execute");
    for (const [node, state] of states) assert.equal(state, "done", `${node} is ${state}`);
    assert.match((await page.locator('[data-testid="pipe-trader"]').textContent()) ?? "", /no cost/);
    assert.equal(await page.locator('[data-testid="decision-action"]').textContent(), "HOLD");
    await screenshot(page, "pipeline-done-1280");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("on a phone the decision is scrolled into view when it arrives", async () => {
    const { page, context, problems } = await newPage(browser, PHONE);
    const id = "canned-phone";
    const decision = { action: "buy", size_pct: 5, approved: true, entry: 3000, stop_loss: 2900, take_profit: 3200, reasons: ["trend up"] };
    await routeRun(page, id, runEvents(id, decision), runDetail(id, { decision, execution: { status: "skipped", detail: "analysis only: no executor" } }));
    await page.goto(`${backend.baseUrl}/analysis/?run=${id}`);
    await page.locator('[data-testid="decision-card"]').waitFor();
    await page.waitForFunction(() => {
      const r = document.querySelector('[data-testid="decision-card"]')?.getBoundingClientRect();
      return r && r.top >= 0 && r.top < window.innerHeight / 2;
    });
    await page.screenshot({ path: `${ARTIFACTS}/decision-phone-viewport.png` });
    const status = (await page.locator('[data-testid="decision-status"]').textContent()) ?? "";
    assert.match(status, /approved, cut from 10% to 5% · not executed/, "the trader asked 10%, the risk checks cut it to 5%");
    assert.match((await page.locator('[data-testid="decision-reason"]').textContent()) ?? "", /execution was switched off/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page scrolls sideways at phone width by ${overflow}px`);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("a run that failed shows the reason in plain words", async () => {
    const { page, context } = await newPage(browser, DESKTOP);
    const id = "canned-failed";
    const message = "ReplayDataError: as_of: no stored ETHUSDT 1h candles at or before 2001-01-01T00:00:00.000001+00:00";
    const events = [
      { type: "run_started", run_id: id, at: "2024-01-01T00:00:00Z", kind: "analysis", symbol: "ETHUSDT", interval: "1h", model_cheap: "rules", model_strong: "rules", as_of: "2001-01-01T00:00:00Z", data_source: null },
      { type: "error", run_id: id, at: "2024-01-01T00:00:00Z", message, severity: "error", node: null },
      { type: "run_finished", run_id: id, at: "2024-01-01T00:00:00Z", status: "failed", cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 },
    ];
    await routeRun(page, id, events, runDetail(id, { status: "failed", error: message }));
    await page.goto(`${backend.baseUrl}/analysis/?run=${id}`);
    const alert = page.locator('[data-testid="run-card"] ~ [role="alert"], [role="alert"]').filter({ hasText: "no stored" }).first();
    await alert.waitFor();
    const text = (await alert.textContent()) ?? "";
    assert.match(text, /Replay at: no stored ETHUSDT 1h candles at or before 2001-01-01 00:00 UTC/);
    assertPlain(text, "the run error");
    assert.equal(await page.getAttribute('[data-testid="pipe-prepare"]', "data-state"), "waiting");
    await screenshot(page, "run-failed-plain-error");
    await context.close();
  });

  test("a replay before the stored history fails in plain words (real backend)", async () => {
    const { page, context } = await newPage(browser, DESKTOP);
    await page.goto(`${backend.baseUrl}/analysis/`);
    await page.waitForSelector('[data-testid="analysis-symbol"] option:text-is("BTCUSDT")', { state: "attached" });
    await page.fill('[data-testid="replay-at"]', "2016-01-01T00:00");
    await page.click('[data-testid="analyze-button"]');
    // Known up front: the API refuses the replay (422 naming as_of) and no run starts; the form
    // says so in plain words, under the form's own field name.
    const refusal = page.locator('.card [role="alert"]').first();
    await refusal.waitFor();
    const alerts = (await refusal.textContent()) ?? "";
    assert.match(alerts, /no stored BTCUSDT 1h history up to 2016-01-01 00:00 UTC/);
    assert.match(alerts, /Replay at/);
    assertPlain(alerts, "the replay error");
    assert.equal(new URL(page.url()).searchParams.has("run"), false, "no run was started");
    // A form error from the API (422) names the form's field, not the API's.
    const future = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 16);
    await page.evaluate(() => document.querySelector('[data-testid="replay-at"]')?.removeAttribute("max"));
    await page.fill('[data-testid="replay-at"]', future);
    await page.click('[data-testid="analyze-button"]');
    const formError = page.locator('.card [role="alert"]').first();
    await formError.waitFor();
    const formText = (await formError.textContent()) ?? "";
    assert.match(formText, /Replay at/);
    assertPlain(formText, "the form error");
    await screenshot(page, "analysis-plain-errors");
    await context.close();
  });

  test("backtest trades show exit reasons, sort by P&L, one buy & hold, not annualised", async () => {
    const { page, context, problems } = await newPage(browser, DESKTOP);
    const id = "canned-backtest";
    const result = await routeBacktest(page, id);
    await page.goto(`${backend.baseUrl}/backtest/?id=${id}`);
    const table = page.locator('[data-testid="backtest-trades"]');
    await table.waitFor();
    const reasons = await table.locator('[data-testid="exit-reason"]').allTextContents();
    assert.deepEqual(reasons, ["stop loss", "take profit", "desk signal", "still open at the end"]);
    const headers = await table.locator("th").allTextContents();
    assert.equal(headers.length, 10, `all ten columns: ${headers}`);
    assert.ok(headers.every((h) => h.trim().length > 0), "every header has text");
    // P&L colour-coded and sortable.
    assert.equal(await table.locator("tbody tr").first().locator("td.neg").count() > 0, true, "a loss is red");
    await table.locator('[data-testid="col-pnl"] button').click();
    const pnlDesc = await table.locator("tbody tr td:nth-child(3)").allTextContents();
    assert.deepEqual(pnlDesc, ["450.00", "80.00", "55.00", "-300.00"]);
    assert.equal(await table.locator('[data-testid="col-pnl"]').getAttribute("aria-sort"), "descending");
    await table.locator('[data-testid="col-pnl"] button').click();
    assert.equal((await table.locator("tbody tr td:nth-child(3)").first().textContent()), "-300.00");
    // One buy & hold: the chart's line is the report's baseline (same final equity as the table).
    const metrics = page.locator('[data-testid="metrics-table"]');
    assert.match((await metrics.locator("thead").textContent()) ?? "", /Rules engine\s*same as desk/);
    const finalRow = await metrics.locator('[data-testid="metric-final_equity"] td').allTextContents();
    assert.equal(finalRow[2], "10,475", "buy & hold final equity from the baseline");
    assert.equal(result.baselines.buy_and_hold.equity_curve.at(-1)[1], 10475, "the chart draws the same curve");
    assert.match((await page.locator(".legend").first().textContent()) ?? "", /Buy & hold \(same fees and slippage\)/);
    const cagr = await metrics.locator('[data-testid="metric-cagr"] td').allTextContents();
    assert.deepEqual(cagr.slice(1), ["not annualised", "not annualised", "not annualised"]);
    await page.locator('[data-testid="not-annualised-note"]').waitFor();
    await page.waitForSelector('[data-testid="backtest-drawdown-chart"] canvas');
    await page.waitForSelector('[data-testid="backtest-price-chart"] canvas');
    await page.waitForTimeout(400);
    await screenshot(page, "backtest-trades-1280");
    await page.setViewportSize(PHONE);
    await page.waitForTimeout(300);
    await screenshot(page, "backtest-trades-390");
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("unknown runs, portfolios and backtests get a not-found page", async () => {
    const { page, context } = await newPage(browser, DESKTOP);
    for (const [url, what] of [
      ["/analysis/?run=does-not-exist", /Analysis run not found/],
      ["/portfolio/?id=abc", /Portfolio not found/],
      ["/portfolio/?id=987654", /Portfolio not found/],
      ["/backtest/?id=does-not-exist", /Backtest not found/],
    ]) {
      await page.goto(`${backend.baseUrl}${url}`);
      const nf = page.locator('[data-testid="not-found"]');
      await nf.waitFor();
      assert.match((await nf.textContent()) ?? "", what, url);
      assert.equal(await page.getByText("waiting…").count(), 0, `${url}: no agents left waiting`);
      assert.equal(await page.getByText("No portfolio yet").count(), 0, `${url}: not "no portfolio yet"`);
    }
    await screenshot(page, "not-found-backtest");
    await context.close();
  });

  test("with the API down: the new interval's title without old data, stale figures greyed with their time", async () => {
    const { page, context } = await newPage(browser, DESKTOP);
    await page.goto(`${backend.baseUrl}/`);
    await page.waitForSelector('[data-testid="price-chart"] canvas');
    await page.waitForSelector('[data-testid="portfolio-summary"]');
    await page.route("**/api/**", (route) => route.abort("connectionrefused"));
    await page.selectOption('[data-testid="interval-select"]', "4h");
    const error = page.locator('[data-testid="chart-card"] [role="alert"]');
    await error.waitFor();
    assert.match((await error.textContent()) ?? "", /Cannot reach the API/);
    const title = (await page.locator('[data-testid="chart-card"] h2').textContent()) ?? "";
    assert.match(title, /· 4h/);
    assert.doesNotMatch(title, /last close/, "no close of the old interval under the new title");
    assert.equal(await page.locator('[data-testid="chart-card"] [data-testid="source-badge"], [data-testid="chart-card"] [data-testid="synthetic-badge"]').count(), 0);
    assert.ok(await page.locator('[data-testid="offline-banner"]').isVisible(), "one banner says the API is down");
    await screenshot(page, "dashboard-api-down");

    await page.unroute("**/api/**");
    await page.goto(`${backend.baseUrl}/portfolio/`);
    await page.waitForSelector('[data-testid="portfolio-summary"]');
    await page.route("**/api/**", (route) => route.abort("connectionrefused"));
    // The page refreshes every 10 s; going back online also triggers it. Force the refresh now.
    await page.evaluate(() => window.dispatchEvent(new Event("online")));
    const stale = page.locator('[data-testid="stale"]').first();
    await stale.waitFor({ timeout: 15_000 });
    const note = (await stale.locator(".stale-note").textContent()) ?? "";
    assert.match(note, /Not live · last updated \d\d:\d\d:\d\d/);
    assert.match((await page.locator('[data-testid="offline-banner"]').textContent()) ?? "", /Cannot reach the API/);
    assert.ok(await stale.locator('.stale [data-testid="portfolio-summary"]').isVisible(), "the old figures stay, greyed");
    await screenshot(page, "portfolio-api-down");
    await page.unroute("**/api/**");
    await stale.getByRole("button", { name: "Retry" }).click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="stale"]') || !document.querySelector('[data-testid="offline-banner"]'));
    await context.close();
  });

  test("Escape closes the phone menu and returns focus to its button", async () => {
    const { page, context } = await newPage(browser, PHONE);
    await page.goto(`${backend.baseUrl}/costs/`);
    const toggle = page.getByRole("button", { name: "Toggle navigation" });
    await toggle.click();
    assert.ok(await page.locator("nav.nav a", { hasText: "Backtest" }).isVisible());
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("nav.nav a", { hasText: "Backtest" }).isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Toggle navigation");
    await context.close();
  });
});
