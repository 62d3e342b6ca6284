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
      <div className="budget-bar" title={`${(usd * 100).toFixed(1)}% of USD budget`}>
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
    <Table head={[keyLabel, "Calls", "Prompt tok", "Completion tok", "Cost", ""]}>
      {rows.map((r) => (
        <tr key={r.key}>
          <td>{withModelBadge ? <ModelBadge model={r.key} /> : r.key}</td>
          <td className="num">{fmtNum(r.calls, 0)}</td>
          <td className="num">{fmtNum(r.prompt_tokens, 0)}</td>
          <td className="num">{fmtNum(r.completion_tokens, 0)}</td>
          <td className="num">{fmtUsd(r.cost_usd)}</td>
          <td style={{ width: "25%" }}>
            <div className="budget-bar">
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
  return (
    <>
      <div className="page-head">
        <h1>Costs</h1>
      </div>
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
            <Table head={["Time", "Agent", "Model", "Tokens", "Cost", "Latency", "Status"]}>
              {rows.map((l) => (
                <tr key={l.id}>
                  <td>{fmtTime(l.created_at)}</td>
                  <td>{l.agent}</td>
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
