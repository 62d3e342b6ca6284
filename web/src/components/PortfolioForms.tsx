"use client";

// Portfolio management: open a paper portfolio (name, starting cash, market, approval policy,
// risk limits) and change an existing one's approval policy and limits.
import { useState } from "react";
import { api } from "@/lib/api";
import type { PortfolioInfo, RiskLimits } from "@/lib/api-types";
import { ErrorBox } from "./ui";

/** The limits a portfolio can set, with the form's words and the API's bounds. */
const LIMITS: { key: keyof RiskLimits; label: string; min: number; max: number; step: number; help: string }[] = [
  { key: "max_position_pct", label: "Max position %", min: 0.01, max: 100, step: 0.01, help: "largest single position, % of equity" },
  { key: "max_total_exposure_pct", label: "Max total exposure %", min: 0.01, max: 100, step: 0.01, help: "all positions together, % of equity" },
  { key: "min_cash_reserve_pct", label: "Cash reserve %", min: 0, max: 99.99, step: 0.01, help: "cash that must stay uninvested, % of equity" },
  { key: "max_stop_distance_pct", label: "Max stop distance %", min: 0.01, max: 50, step: 0.01, help: "stop-loss at most this far below entry" },
  { key: "max_daily_loss_pct", label: "Max daily loss %", min: 0.01, max: 100, step: 0.01, help: "circuit breaker: loss since UTC midnight" },
  { key: "max_drawdown_pct", label: "Max drawdown %", min: 0.01, max: 100, step: 0.01, help: "circuit breaker: drop from peak equity" },
  { key: "max_data_age_bars", label: "Max data age (bars)", min: 1, max: 1_000_000, step: 1, help: "refuse to trade on a bar older than this" },
];

export const DEFAULT_LIMITS: RiskLimits = {
  max_position_pct: 10,
  max_total_exposure_pct: 50,
  min_cash_reserve_pct: 20,
  max_stop_distance_pct: 5,
  max_daily_loss_pct: 3,
  max_drawdown_pct: 15,
  max_data_age_bars: 2,
};

type LimitInputs = Record<keyof RiskLimits, string>;

const toInputs = (r: RiskLimits): LimitInputs =>
  Object.fromEntries(LIMITS.map(({ key }) => [key, String(r[key] ?? DEFAULT_LIMITS[key])])) as LimitInputs;

/** The limits as JSON numbers (the API refuses strings); an empty or non-number field is named. */
function parseLimits(inputs: LimitInputs): RiskLimits | string {
  const out: Partial<RiskLimits> = {};
  for (const { key, label } of LIMITS) {
    const v = Number(inputs[key]);
    if (inputs[key].trim() === "" || !Number.isFinite(v)) return `${label}: enter a number`;
    out[key] = v;
  }
  return out as RiskLimits;
}

function LimitFields({ values, onChange, idPrefix }: { values: LimitInputs; onChange: (v: LimitInputs) => void; idPrefix: string }) {
  return (
    <fieldset className="limits">
      <legend>Risk limits</legend>
      <div className="form-row">
        {LIMITS.map(({ key, label, min, max, step, help }) => (
          <label key={key} className="field" title={help}>
            {label}
            <input
              type="number"
              inputMode="decimal"
              min={min}
              max={max}
              step={step}
              value={values[key]}
              onChange={(e) => onChange({ ...values, [key]: e.target.value })}
              data-testid={`${idPrefix}-${key}`}
            />
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** Open a paper portfolio. */
export function NewPortfolioForm({ onCreated }: { onCreated: (p: PortfolioInfo) => void }) {
  const [name, setName] = useState("");
  const [cash, setCash] = useState("10000");
  const [kind, setKind] = useState<"real" | "synthetic">("real");
  const [approval, setApproval] = useState(false);
  const [limits, setLimits] = useState<LimitInputs>(toInputs(DEFAULT_LIMITS));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | string>();

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const risk = parseLimits(limits);
    if (typeof risk === "string") return setError(risk);
    if (!name.trim()) return setError("Name: give the portfolio a name");
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await api.createPortfolio({ name: name.trim(), starting_cash: cash, kind, require_approval: approval, risk }));
      setName("");
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate className="stack" data-testid="new-portfolio-form" aria-label="New portfolio">
      <div className="form-row">
        <label className="field">
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required data-testid="np-name" />
        </label>
        <label className="field">
          Starting cash (USDT)
          <input type="number" inputMode="decimal" min={1} step="any" value={cash} onChange={(e) => setCash(e.target.value)} required data-testid="np-cash" />
        </label>
        <label className="field" title="The market its fills come from: a real portfolio never takes a synthetic price, a synthetic one trades generated candles only.">
          Market
          <select value={kind} onChange={(e) => setKind(e.target.value as "real" | "synthetic")} data-testid="np-kind">
            <option value="real">real market data</option>
            <option value="synthetic">synthetic (generated) data</option>
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} data-testid="np-approval" /> Require my approval for every order
        </label>
      </div>
      <LimitFields values={limits} onChange={setLimits} idPrefix="np" />
      <div className="form-row">
        <button className="btn primary" type="submit" disabled={busy} data-testid="np-create">
          {busy ? "Creating…" : "Create portfolio"}
        </button>
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** Change a portfolio's approval policy and risk limits (they apply to its next orders). */
export function EditPortfolioForm({ portfolio, onSaved }: { portfolio: PortfolioInfo; onSaved: (p: PortfolioInfo) => void }) {
  const [approval, setApproval] = useState(portfolio.require_approval);
  const [limits, setLimits] = useState<LimitInputs>(toInputs(portfolio.risk));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | string>();
  const [saved, setSaved] = useState(false);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const risk = parseLimits(limits);
    if (typeof risk === "string") return setError(risk);
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      onSaved(await api.updatePortfolio(portfolio.id, { require_approval: approval, risk }));
      setSaved(true);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate className="stack" data-testid="edit-portfolio-form" aria-label={`Limits and approval of ${portfolio.name}`}>
      <div className="form-row">
        <label className="check">
          <input type="checkbox" checked={approval} onChange={(e) => setApproval(e.target.checked)} data-testid="ep-approval" /> Require my approval for every order
        </label>
        <span className="muted">
          Market: <b>{portfolio.kind === "synthetic" ? "synthetic (generated) data" : "real market data"}</b>
        </span>
      </div>
      <LimitFields values={limits} onChange={setLimits} idPrefix="ep" />
      <div className="form-row">
        <button className="btn primary" type="submit" disabled={busy} data-testid="ep-save">
          {busy ? "Saving…" : "Save limits"}
        </button>
        {saved && (
          <span className="badge ok" role="status" data-testid="ep-saved">
            saved
          </span>
        )}
      </div>
      {error && <ErrorBox error={error} />}
    </form>
  );
}
