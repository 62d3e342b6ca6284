// Real screenshots of the desk in Agent Chat UI (the open-source LangGraph chat client) for the
// README: `langgraph dev` serving this repository's graph (rules engine, real stored Binance
// candles, offline), Agent Chat UI in front of it, Debian's chromium driven by playwright-core.
//
//   infra/screenshots/prepare-agent-chat-ui.sh /tmp/agent-chat-ui      # once: install + build it
//   AGENT_CHAT_UI_DIR=/tmp/agent-chat-ui make chat-screenshots          # or: node <this file>
//
// Not part of `make test`. Every step checks what the page shows and fails loudly (exit 1) when
// the desk's answer, the interrupt's Approve/Reject controls or the fill is not there: no
// screenshot of a broken page. The approval is given with the client's own Approve button.
//
// Environment: AGENT_CHAT_UI_DIR (required, a built checkout), CHROMIUM_PATH (/usr/bin/chromium),
// CHAT_DATA_DIR (the real candles, ../shared/data/real/daisybum__cryptoTradingBot),
// SCREENSHOTS_DIR (docs/img), DESK_PORT (2024, `langgraph dev`'s default), CHAT_UI_PORT (3000;
// another port is added to the server's CORS for this run).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { chromium } = createRequire(path.join(REPO, "web/package.json"))("playwright-core");
const PY_BIN = path.join(REPO, ".venv/bin");
const UI_DIR = process.env.AGENT_CHAT_UI_DIR;
const DATA_DIR = process.env.CHAT_DATA_DIR ?? path.join(REPO, "../shared/data/real/daisybum__cryptoTradingBot");
const OUT = process.env.SCREENSHOTS_DIR ?? path.join(REPO, "docs/img");
const UI_PORT = Number(process.env.CHAT_UI_PORT ?? 3000);
const DESK_PORT = Number(process.env.DESK_PORT ?? 2024);
const VIEWPORT = { width: 1280, height: 800 };
const GRAPH = "cryptofirm_desk";
const TURN_MS = 120_000; // one desk turn on a loaded 2-core machine

function fail(message) {
  console.error(`chat-screenshots: ${message}`);
  process.exit(1);
}

function need(condition, message) {
  if (!condition) fail(message);
}

/** Fails when `port` is taken (a screenshot shows the URL: no silent switch to another port). */
function ensureFree(port, variable) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.on("error", () => fail(`port ${port} is in use: set ${variable} to a free port`));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(port)));
  });
}

function run(cmd, args, env) {
  const out = spawnSync(cmd, args, { cwd: REPO, env, encoding: "utf8" });
  need(out.status === 0, `${path.basename(cmd)} ${args.join(" ")} failed:\n${out.stderr}${out.stdout}`);
}

/** A child process (its own process group) whose output is kept for the error message; the
 * group is stopped when this script exits. */
function start(name, cmd, args, options) {
  const proc = spawn(cmd, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  proc.stdout.on("data", (d) => log.push(d.toString()));
  proc.stderr.on("data", (d) => log.push(d.toString()));
  children.push(proc);
  return { name, proc, tail: () => log.join("").slice(-3000) };
}
const children = [];
process.on("exit", () => {
  for (const child of children) {
    try {
      if (child.exitCode === null) process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
});

async function waitFor(child, url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    need(child.proc.exitCode === null, `${child.name} exited (${child.proc.exitCode}):\n${child.tail()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  fail(`${child.name} did not answer ${url} in ${timeoutMs / 1000} s:\n${child.tail()}`);
}

async function api(base, route, body) {
  const res = await fetch(`${base}${route}`, {
    method: body ? "POST" : "GET",
    headers: { "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  if (!res.ok) fail(`${route} → ${res.status} ${await res.text()}`);
  return res.json();
}

/** The repository's CORS for the Agent Server, plus the chat client's origin when not :3000. */
function corsConfig(origin) {
  const cors = JSON.parse(readFileSync(path.join(REPO, "langgraph.json"), "utf8")).http.cors;
  if (!cors.allow_origins.includes(origin)) cors.allow_origins.push(origin);
  return JSON.stringify(cors);
}

async function startDesk() {
  const tmp = mkdtempSync(path.join(tmpdir(), "cryptofirm-chat-"));
  const origin = `http://localhost:${UI_PORT}`;
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite:///${tmp}/chat.db`,
    DATA_SOURCE: "store",
    LLM_PROVIDER: "rules",
    LANGSMITH_TRACING: "false",
    LANGGRAPH_CLI_NO_ANALYTICS: "1",
    CORS_CONFIG: corsConfig(origin),
  };
  run(path.join(PY_BIN, "cryptofirm"), ["migrate"], env);
  for (const name of ["ETH_USDT-1h", "BTC_USDT-1h"]) {
    const file = path.join(DATA_DIR, `${name}.feather`);
    need(existsSync(file), `${file} is missing (set CHAT_DATA_DIR)`);
    run(path.join(PY_BIN, "cryptofirm"), ["data", "import", file], env);
  }
  const port = await ensureFree(DESK_PORT, "DESK_PORT");
  const args = ["dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", String(port)];
  const server = start("langgraph dev", path.join(PY_BIN, "langgraph"), args, { cwd: REPO, env });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(server, `${base}/ok`, 180_000);
  return { base, tmp };
}

async function startChatUi() {
  need(UI_DIR, "AGENT_CHAT_UI_DIR is not set (see infra/screenshots/prepare-agent-chat-ui.sh)");
  need(existsSync(path.join(UI_DIR, ".next/BUILD_ID")), `${UI_DIR} is not built: run prepare-agent-chat-ui.sh`);
  await ensureFree(UI_PORT, "CHAT_UI_PORT");
  const next = path.join(UI_DIR, "node_modules/.bin/next");
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
  const ui = start("agent-chat-ui", next, ["start", "-p", String(UI_PORT), "-H", "127.0.0.1"], { cwd: UI_DIR, env });
  await waitFor(ui, `http://127.0.0.1:${UI_PORT}/`, 60_000);
  return `http://localhost:${UI_PORT}`;
}

/** Screenshot the viewport, then shrink it with pngquant (palette PNG, metadata stripped). */
async function shoot(page, name) {
  const file = path.join(OUT, `${name}.png`);
  const raw = path.join(OUT, `${name}.raw.png`);
  await page.screenshot({ path: raw });
  const q = spawnSync("pngquant", ["--quality=70-95", "--strip", "--force", "--output", file, raw]);
  need(q.status === 0, `pngquant failed on ${raw} (apt-get install pngquant): ${q.stderr}`);
  rmSync(raw);
  console.log(`wrote ${path.relative(REPO, file)}`);
}

/** Send a chat message and wait until the run is over and `expected` is on the page. */
async function say(page, text, expected) {
  await page.fill("textarea", text);
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Cancel" }).waitFor({ state: "detached", timeout: TURN_MS });
  await page.getByText(expected).last().waitFor({ timeout: TURN_MS });
  await page.waitForTimeout(800); // the stick-to-bottom scroll settles
}

/** Scroll the conversation (the chat's scrolling element) to its top. */
async function scrollToTop(page) {
  await page.evaluate(() => {
    const scrollers = [...document.querySelectorAll("div")].filter(
      (el) => el.scrollHeight > el.clientHeight + 10 && ["auto", "scroll"].includes(getComputedStyle(el).overflowY),
    );
    for (const el of scrollers) el.scrollTop = 0;
  });
  await page.waitForTimeout(500);
}

/** Scroll the conversation so that the last element with `text` starts just under the header. */
async function showFromTop(page, text) {
  await page.getByText(text).last().evaluate((el) => el.scrollIntoView({ block: "start" }));
  await page.evaluate(() => {
    for (const el of document.querySelectorAll("div")) {
      if (el.scrollHeight > el.clientHeight + 10 && ["auto", "scroll"].includes(getComputedStyle(el).overflowY)) {
        el.scrollTop -= 70; // clear of the client's header bar
      }
    }
  });
  await page.waitForTimeout(500);
}

/** Scroll the conversation to its end (the newest message, the interrupt card). */
async function scrollToBottom(page) {
  await page.evaluate(() => {
    const scrollers = [...document.querySelectorAll("div")].filter(
      (el) => el.scrollHeight > el.clientHeight + 10 && ["auto", "scroll"].includes(getComputedStyle(el).overflowY),
    );
    for (const el of scrollers) el.scrollTop = el.scrollHeight;
  });
  await page.waitForTimeout(500);
}

async function main() {
  need(existsSync(path.join(PY_BIN, "langgraph")), "run `make install` first (.venv/bin/langgraph)");
  need(spawnSync("pngquant", ["--version"]).status === 0, "pngquant is missing (apt-get install pngquant)");
  mkdirSync(OUT, { recursive: true });
  const [{ base, tmp }, uiUrl] = await Promise.all([startDesk(), startChatUi()]);

  // A paper portfolio that needs approval, with a data-age limit that accepts the stored
  // (2023-24) candles, and an assistant whose context trades on it: what Studio's
  // "Manage assistants" or the SDK sets up; Agent Chat UI takes its id as the assistant.
  const portfolio = await api(base, "/api/portfolios", {
    name: `chat-${Date.now()}`,
    starting_cash: "10000",
    require_approval: true,
    risk: { max_data_age_bars: 1_000_000 },
  });
  const assistant = await api(base, "/assistants", {
    graph_id: GRAPH,
    name: "desk with approval",
    context: { require_approval: true, portfolio_id: portfolio.id },
  });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const page = await (await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 })).newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(err.message));
  page.setDefaultTimeout(30_000);

  // 1. Connect: the deployment URL and the graph id, as a user types them.
  await page.goto(uiUrl);
  await page.fill("#apiUrl", base);
  await page.fill("#assistantId", GRAPH);
  await shoot(page, "chat-connect");
  await page.click("button[type=submit]");
  await page.locator("textarea").waitFor();

  // 2. First turn: the six agents' messages, then the desk's answer.
  await say(page, "analyze ETHUSDT 4h", /Decision: /);
  const chat = new URL(page.url()).searchParams.get("threadId");
  need(chat, "no threadId in the chat client's URL");
  const first = (await api(base, `/threads/${chat}/state`)).values;
  need(
    first.snapshot?.symbol === "ETHUSDT" && first.snapshot?.interval === "4h",
    `the turn analysed ${first.snapshot?.symbol} ${first.snapshot?.interval}, not ETHUSDT 4h`,
  );
  await shoot(page, "chat-answer");
  await scrollToTop(page);
  await shoot(page, "chat-agents");

  // 3. Second turn on the same thread: a question answered from the last decision.
  await say(page, "why?", /About the last decision on ETHUSDT 4h/);
  await showFromTop(page, /About the last decision on ETHUSDT 4h/);
  const humans = (await api(base, `/threads/${chat}/state`)).values.messages.filter((m) => m.type === "human");
  need(humans.length === 2, `the thread holds ${humans.length} user messages, not the two turns`);
  await shoot(page, "chat-why");

  // 4. Trading with approval: the run pauses before the order with LangChain 1.0's HITL request,
  // which the client draws as an Edit/Approve card and a Reject card.
  await page.goto(`${uiUrl}/?apiUrl=${encodeURIComponent(base)}&assistantId=${assistant.assistant_id}`);
  await say(page, "analyze and trade ETHUSDT 4h", "execute_order");
  const threadId = new URL(page.url()).searchParams.get("threadId");
  need(threadId, "no threadId in the chat client's URL");
  const thread = await api(base, `/threads/${threadId}`);
  need(thread.status === "interrupted", `thread ${threadId} is ${thread.status}, not interrupted`);
  const request = (await api(base, `/threads/${threadId}/state`)).interrupts?.[0]?.value;
  need(
    request?.action_requests?.[0]?.name === "execute_order" && request?.review_configs?.length === 1,
    `the interrupt is not a HITL request for execute_order: ${JSON.stringify(request)}`,
  );
  const approve = page.getByRole("button", { name: "Approve", exact: true });
  const reject = page.getByRole("button", { name: "Submit rejection" });
  need(await approve.isVisible(), "the chat client shows no Approve button for the interrupt");
  need(await reject.isVisible(), "the chat client shows no Reject card for the interrupt");
  const tradesBefore = (await api(base, `/api/portfolios/${portfolio.id}/trades`)).length;
  need(tradesBefore === 0, `the portfolio has ${tradesBefore} trades before the approval`);
  // The card (one text field per order arg, then Reject) is taller than the 800 px window: the
  // window is made as tall as the card needs for this one screenshot, then set back.
  const card = page.locator("div.rounded-2xl").filter({ hasText: "Mark as Resolved" }).last();
  const box = await card.boundingBox();
  need(box, "the interrupt card has no layout box");
  await page.setViewportSize({ width: VIEWPORT.width, height: Math.min(2400, Math.ceil(box.height + 420)) });
  await page.waitForTimeout(800);
  await scrollToBottom(page);
  await shoot(page, "chat-approval");
  await page.setViewportSize(VIEWPORT);
  await page.waitForTimeout(500);

  // 5. Approve IN the page: the client resumes the run with {"decisions": [{"type": "approve"}]}.
  await approve.click();
  await page.getByText(/Execution: filled/).last().waitFor({ timeout: TURN_MS });
  const state = await api(base, `/threads/${threadId}/state`);
  need(state.values.execution?.status === "filled", `approve did not fill: ${JSON.stringify(state.values.execution)}`);
  need(state.next.length === 0, `the thread still waits for ${state.next}`);
  const trades = await api(base, `/api/portfolios/${portfolio.id}/trades`);
  need(trades.length === 1, `approve made ${trades.length} trades, not exactly one`);
  await page.waitForTimeout(800);
  await shoot(page, "chat-filled");

  need(problems.length === 0, `page errors:\n${problems.join("\n")}`);
  await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => fail(err.stack ?? String(err)),
);
