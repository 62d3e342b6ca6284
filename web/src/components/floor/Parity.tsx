"use client";

// A replay session against the backtest of the same symbols, bars, costs and model: identical
// decisions, fills and equity, or every difference named.
import { useState } from "react";
import { api } from "@/lib/api";
import { fmtMoney, fmtTime } from "@/lib/format";
import type { ParityReport } from "@/lib/session-types";
import { Card, ErrorBox, Loading, Table } from "../ui";

export function Parity({ sessionId }: { sessionId: string }) {
  const [report, setReport] = useState<ParityReport>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);

  async function compare() {
    setBusy(true);
    setError(undefined);
    try {
      setReport(await api.sessionParity(sessionId));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }

  const differences = report?.differences ?? [];
  return (
    <Card
      title="Parity with the backtest"
      testId="parity"
      actions={
        <button className="btn small" onClick={compare} disabled={busy} data-testid="parity-button">
          {report ? "Compare again" : "Compare with the backtest"}
        </button>
      }
    >
      {busy && <Loading label="Running the backtest of the same bars…" />}
      {error && <ErrorBox error={error} />}
      {!report && !busy && !error && <p className="muted small-note">Runs the backtest of the same symbols, bars, costs and model, and names any difference in decisions, fills and equity.</p>}
      {report && (
        <>
          <p data-testid="parity-verdict">
            <span className={`badge ${report.identical ? "ok" : "bad"}`}>{report.identical ? "identical" : `${differences.length} differences`}</span>{" "}
            {report.bars} bars · {report.decisions_compared} decisions · {report.fills_compared} fills · {report.equity_points_compared} equity points compared · final
            equity {fmtMoney(report.session_final_equity)} (session) vs {fmtMoney(report.backtest_final_equity)} (backtest)
          </p>
          {differences.length > 0 && (
            <Table caption="Differences between the session and the backtest" head={["What", "Symbol", "At (UTC)", "Session", "Backtest"]} testId="parity-diffs">
              {differences.slice(0, 50).map((d, i) => (
                <tr key={i}>
                  <td>{d.what}</td>
                  <td>{d.symbol ?? "—"}</td>
                  <td>{fmtTime(d.at)}</td>
                  <td>{d.session}</td>
                  <td>{d.backtest}</td>
                </tr>
              ))}
            </Table>
          )}
        </>
      )}
    </Card>
  );
}
