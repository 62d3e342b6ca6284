"use client";

import { Card, ModelBadge, Stat, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import type { BudgetStatus, UsageRow } from "@/lib/api-types";
import { fmtNum, fmtTime, fmtUsd, num } from "@/lib/format";
import { useApi } from "@/lib/hooks";

function BudgetMeter({ label, b }: { label: string; b: BudgetStatus }) {
  const usd = num(b.spent_usd) / Math.max(1e-12, num(b.limit_usd));
  const tok = b.spent_tokens / Math.max(1, b.limit_tokens);
  return (
    <div className="stat" data-testid="budget-day">
      <div className="stat-label">{label} budget</div>
      {b.exceeded && <span className="badge bad">{b.reason ?? "exceeded"}</span>}
      <div className="stat-value">
        {fmtUsd(b.spent_usd)} <span className="muted">/ {fmtUsd(b.limit_usd)}</span>
      </div>
      <div
        className="budget-bar"
        role="progressbar"
        aria-label={`${label} budget used`}
        aria-valuenow={Math.round(Math.min(1, usd) * 100)}
        aria-valuemin={0}
        aria-valuemax={100}
        title={`${(usd * 100).toFixed(1)}% of USD budget`}
      >
        <div className={usd >= 1 ? "over" : ""} style={{ width: `${Math.min(1, usd) * 100}%` }} />
      </div>
      <div className="muted" style={{ marginTop: 6, fontSize: 12 }}>
        {fmtNum(b.spent_tokens, 0)} / {fmtNum(b.limit_tokens, 0)} tokens ({(tok * 100).toFixed(1)}%)
      </div>
    </div>
  );
}

function UsageTable({ rows, keyLabel, withModelBadge }: { rows: UsageRow[]; keyLabel: string; withModelBadge?: boolean }) {
  const max = Math.max(...rows.map((r) => num(r.cost_usd)), 0);
  return (
    <Table caption={`Model usage per ${keyLabel.toLowerCase()}`} numeric={[1, 2, 3, 4]} head={[keyLabel, "Calls", "Prompt tokens", "Completion tokens", "Cost", "Share of cost"]}>
      {rows.map((r) => (
        <tr key={r.key}>
          <td>{withModelBadge ? <ModelBadge model={r.key} /> : r.key.replace(/_/g, " ")}</td>
          <td className="num">{fmtNum(r.calls, 0)}</td>
          <td className="num">{fmtNum(r.prompt_tokens, 0)}</td>
          <td className="num">{fmtNum(r.completion_tokens, 0)}</td>
          <td className="num">{fmtUsd(r.cost_usd)}</td>
          <td style={{ width: "25%" }}>
            <div className="budget-bar" role="img" aria-label={`${max > 0 ? ((num(r.cost_usd) / max) * 100).toFixed(0) : 0}% of the largest`}>
              <div style={{ width: `${max > 0 ? (num(r.cost_usd) / max) * 100 : 0}%` }} />
            </div>
          </td>
        </tr>
      ))}
    </Table>
  );
}

export default function CostsPage() {
  const budget = useApi(() => api.budget(), []);
  const byDay = useApi(() => api.usage("day"), []);
  const byAgent = useApi(() => api.usage("agent"), []);
  const byModel = useApi(() => api.usage("model"), []);
  const logs = useApi(() => api.logs(15), []);
  const total = (byDay.data ?? []).reduce(
    (t, r) => ({ calls: t.calls + r.calls, tokens: t.tokens + r.prompt_tokens + r.completion_tokens, cost: t.cost + num(r.cost_usd) }),
    { calls: 0, tokens: 0, cost: 0 },
  );
  const empty = "No model calls recorded yet.";
  // The offline rules engine "calls" no model: its calls are counted, and cost nothing.
  const rulesOnly = (byModel.data ?? []).length > 0 && (byModel.data ?? []).every((r) => r.key.startsWith("rules"));
  return (
    <>
      <div className="page-head">
        <h1>Costs</h1>
      </div>
      {rulesOnly && total.cost === 0 && (
        <div className="note" role="note" data-testid="zero-cost-note">
          <b>Rules engine: no model calls, no cost.</b> Every decision so far was made by the offline rules engine, in code: the calls below are its
          decisions, counted so runs can be compared, with no tokens and no spend. Costs appear here once a model provider is configured.
        </div>
      )}
      <Card title="Budget">
        <View state={budget}>
          {(b) => (
            <div className="stats">
              <BudgetMeter label={`today (${b.day})`} b={b} />
              <Stat label="Per-run limit" value={`${fmtUsd(b.run_limit_usd)} · ${fmtNum(b.run_limit_tokens, 0)} tok`} />
              {byDay.data && (
                <>
                  <Stat label="All-time calls" value={fmtNum(total.calls, 0)} />
                  <Stat label="All-time tokens" value={fmtNum(total.tokens, 0)} />
                  <Stat label="All-time spend" value={fmtUsd(total.cost)} />
                </>
              )}
            </div>
          )}
        </View>
      </Card>
      <Card title="Spend per day">
        <View state={byDay} isEmpty={(r) => r.length === 0} empty={empty}>
          {(rows) => <UsageTable rows={rows} keyLabel="Day" />}
        </View>
      </Card>
      <div className="grid halves">
        <Card title="Per agent">
          <View state={byAgent} isEmpty={(r) => r.length === 0} empty={empty}>
            {(rows) => <UsageTable rows={rows} keyLabel="Agent" />}
          </View>
        </Card>
        <Card title="Per model">
          <View state={byModel} isEmpty={(r) => r.length === 0} empty={empty}>
            {(rows) => <UsageTable rows={rows} keyLabel="Model" withModelBadge />}
          </View>
        </Card>
      </div>
      <Card title="Recent calls">
        <View state={logs} isEmpty={(r) => r.length === 0} empty={empty}>
          {(rows) => (
            <Table caption="Recent model calls" numeric={[3, 4, 5]} head={["Time", "Agent", "Model", "Tokens", "Cost", "Latency", "Status"]}>
              {rows.map((l) => (
                <tr key={l.id}>
                  <td>{fmtTime(l.created_at)}</td>
                  <td>{l.agent.replace(/_/g, " ")}</td>
                  <td>
                    <ModelBadge model={l.model} />
                  </td>
                  <td className="num">{fmtNum(l.prompt_tokens + l.completion_tokens, 0)}</td>
                  <td className="num">{fmtUsd(l.cost_usd)}</td>
                  <td className="num">{fmtNum(l.latency_ms, 0)} ms</td>
                  <td>{l.ok ? (l.cached ? <span className="badge info">cached</span> : <span className="badge ok">ok</span>) : <span className="badge bad">failed</span>}</td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
    </>
  );
}
