import type { Portfolio } from "@/lib/api-types";
import { fmtMoney, fmtPct, num, signClass } from "@/lib/format";
import { Stat } from "./ui";

/** Return on starting cash when the API doesn't send one. */
function returnPct(p: Portfolio): number {
  if (p.return_pct !== undefined) return num(p.return_pct);
  return ((num(p.equity) - num(p.starting_cash)) / num(p.starting_cash)) * 100;
}

export function PortfolioSummary({ portfolio }: { portfolio: Portfolio }) {
  const ccy = portfolio.base_currency ?? "USDT";
  return (
    <div className="stats" data-testid="portfolio-summary">
      <Stat label={`Equity (${ccy})`} value={fmtMoney(portfolio.equity)} />
      <Stat label="Cash" value={fmtMoney(portfolio.cash)} />
      <Stat label="Positions value" value={fmtMoney(portfolio.positions_value)} />
      <Stat label="Return" value={fmtPct(returnPct(portfolio))} tone={signClass(returnPct(portfolio))} />
      <Stat label="Realised P&L" value={fmtMoney(portfolio.realized_pnl)} tone={signClass(portfolio.realized_pnl)} />
      <Stat label="Unrealised P&L" value={fmtMoney(portfolio.unrealized_pnl)} tone={signClass(portfolio.unrealized_pnl)} />
      <Stat label="Fees paid" value={fmtMoney(portfolio.fees_paid)} />
    </div>
  );
}
