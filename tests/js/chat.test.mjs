// The desk behind `langgraph dev`, driven with the JS SDK the LangGraph chat clients use
// (@langchain/langgraph-sdk). Started by tests/graph/test_studio_chat.py, which passes the
// server URL, a paper portfolio and a pair the offline desk buys right now.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client } from "@langchain/langgraph-sdk";

const url = process.env.LANGGRAPH_URL; // stored candles: the conversation
const approvalUrl = process.env.APPROVAL_URL; // synthetic candles: a desk that buys now
const portfolioId = Number(process.env.PORTFOLIO_ID);
const buySymbol = process.env.BUY_SYMBOL;
const buyInterval = process.env.BUY_INTERVAL;
const DESK = "cryptofirm_desk";
const AGENTS = ["technical", "sentiment", "tokenomics", "researcher", "trader", "risk_manager"];
const ANALYSTS = new Set(["technical", "sentiment", "tokenomics"]);

assert.ok(url, "LANGGRAPH_URL is required");
const client = new Client({ apiUrl: url });
const approvals = new Client({ apiUrl: approvalUrl });
const user = (content) => ({ messages: [{ role: "user", content }] });
// This turn's call records only: each agent at most once, the decision chain present.
function oneTurn(calls) {
  const agents = calls.map((c) => c.agent);
  assert.equal(new Set(agents).size, agents.length, `repeated calls: ${agents}`);
  for (const a of ["researcher", "trader", "risk_manager"]) assert.ok(agents.includes(a));
}

async function trades() {
  const r = await fetch(`${approvalUrl}/api/portfolios/${portfolioId}/trades`);
  assert.equal(r.status, 200);
  return r.json();
}

test("a two-turn conversation, then a follow-up, each answered with the right pair", async () => {
  const { thread_id: thread } = await client.threads.create();

  // Turn 1, streamed as a chat client does: values + messages (tuples of message, metadata).
  const nodes = [];
  let values;
  for await (const part of client.runs.stream(thread, DESK, {
    input: user("analyze ETHUSDT 4h"),
    streamMode: ["values", "messages-tuple"],
  })) {
    if (part.event === "values") values = part.data;
    if (part.event === "messages") {
      const [message, metadata] = part.data;
      if (message.type === "AIMessageChunk") nodes.push(metadata.langgraph_node);
    }
  }
  assert.deepEqual([values.snapshot.symbol, values.snapshot.interval], ["ETHUSDT", "4h"]);
  // Token chunks (messages mode) from the agents, the three analysts interleaved.
  const streamedAgents = new Set(nodes.filter((n) => AGENTS.includes(n)));
  assert.ok(streamedAgents.size >= 3, `chunks from ${[...streamedAgents]}`);
  const analysts = nodes.filter((n) => ANALYSTS.has(n));
  const switches = analysts.slice(1).filter((n, i) => n !== analysts[i]).length;
  assert.ok(switches > 6, `analysts streamed one after another: ${analysts.slice(0, 30)}`);
  const first = values.messages.at(-1);
  assert.equal(first.name, "desk");
  assert.match(first.content, /ETHUSDT 4h/);
  oneTurn(values.calls);

  const second = await client.runs.wait(thread, DESK, { input: user("and BTCUSDT 1h?") });
  assert.deepEqual(
    [second.snapshot.symbol, second.snapshot.interval, second.snapshot.source],
    ["BTCUSDT", "1h", "store"],
  );
  assert.match(second.messages.at(-1).content, /BTCUSDT 1h/);
  assert.match(second.messages.at(-1).content, /stale data/);
  oneTurn(second.calls);

  const why = await client.runs.wait(thread, DESK, { input: user("why?") });
  const reply = why.messages.at(-1);
  assert.equal(reply.name, "desk");
  assert.match(reply.content, /BTCUSDT 1h/);
  assert.ok(reply.content.toLowerCase().includes(second.decision.action));
  const humans = why.messages.filter((m) => m.type === "human").map((m) => m.content);
  assert.deepEqual(humans, ["analyze ETHUSDT 4h", "and BTCUSDT 1h?", "why?"]);
});

// The pending approval: LangChain 1.0's HITLRequest (what Agent Chat UI draws buttons for).
async function pausedForApproval(thread) {
  const state = await approvals.threads.getState(thread);
  assert.deepEqual(state.next, ["execute"]);
  const interrupts = state.tasks.flatMap((t) => t.interrupts);
  assert.equal(interrupts.length, 1);
  const request = interrupts[0].value;
  assert.equal(request.action_requests.length, 1);
  assert.equal(request.action_requests[0].name, "execute_order");
  assert.deepEqual(request.review_configs, [
    { action_name: "execute_order", allowed_decisions: ["approve", "edit", "reject"] },
  ]);
  return request.action_requests[0];
}

// An edit as Agent Chat UI sends it: every arg back, the edited one as text.
const edit = (args, sizePct) => ({
  decisions: [
    { type: "edit", edited_action: { name: "execute_order", args: { ...args, size_pct: String(sizePct) } } },
  ],
});

const OUTCOME = {
  approve: "fills once",
  reject: "fills nothing",
  edit: "larger refused, smaller fills once",
};
for (const response of ["approve", "reject", "edit"]) {
  test(`approval interrupts; ${response} ${OUTCOME[response]}`, async () => {
    const context = { portfolio_id: portfolioId, require_approval: true };
    const { thread_id: thread } = await approvals.threads.create();
    const before = (await trades()).length;
    await approvals.runs.wait(thread, DESK, {
      input: user(`analyze and trade ${buySymbol} ${buyInterval}`),
      context,
    });
    const action = await pausedForApproval(thread);
    assert.equal(action.args.symbol, buySymbol);
    assert.equal(action.args.side, "buy");
    assert.equal((await trades()).length, before);

    const resume = (answer) => approvals.runs.wait(thread, DESK, { command: { resume: answer }, context });
    let done;
    if (response === "edit") {
      await resume(edit(action.args, action.args.size_pct * 2));
      const again = await pausedForApproval(thread);
      assert.match(again.description, /not applied.*at most the approved/s);
      assert.equal((await trades()).length, before);
      done = await resume(edit(action.args, Math.round(action.args.size_pct * 50) / 100));
    } else if (response === "approve") {
      done = await resume({ decisions: [{ type: "approve" }] });
    } else {
      done = await resume({ decisions: [{ type: "reject", message: "not today" }] });
    }
    const after = (await trades()).length;
    const answer = done.messages.at(-1).content;
    if (response === "reject") {
      assert.equal(done.execution.status, "rejected_by_human");
      assert.equal(after, before);
      assert.match(answer, /rejected by a human: not today/);
    } else {
      assert.equal(done.execution.status, "filled");
      assert.equal(after, before + 1);
    }
    if (response === "edit") assert.match(answer, /A human cut the size to/);
    // A resume with nothing pending is refused (HTTP 409), and trades nothing.
    await assert.rejects(
      approvals.runs.wait(thread, DESK, { command: { resume: { decisions: [{ type: "approve" }] } } }),
      /409|command\.resume/,
    );
    assert.equal((await trades()).length, after);
  });
}
