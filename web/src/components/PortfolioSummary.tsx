import type { Portfolio } from "@/lib/api-types";
import { fmtMoney, fmtPct, fmtTime, signClass } from "@/lib/format";
import { Stat } from "./ui";

export function PortfolioSummary({ portfolio }: { portfolio: Portfolio }) {
  const ccy = portfolio.base_currency;
  return (
    <>
    {portfolio.valued_at && (
      <p className="muted" data-testid="valued-at">
        Valued on its replay session&apos;s clock: prices closed by {fmtTime(portfolio.valued_at)} UTC
        (never later ones).
      </p>
    )}
    <div className="stats" data-testid="portfolio-summary">
      <Stat label={`Equity (${ccy})`} value={fmtMoney(portfolio.equity)} />
      <Stat label="Cash" value={fmtMoney(portfolio.cash)} />
      <Stat label="Positions value" value={fmtMoney(portfolio.positions_value)} />
      <Stat label="Return" value={fmtPct(portfolio.return_pct)} tone={signClass(portfolio.return_pct)} />
      <Stat label="Realised P&L" value={fmtMoney(portfolio.realized_pnl)} tone={signClass(portfolio.realized_pnl)} />
      <Stat label="Unrealised P&L" value={fmtMoney(portfolio.unrealized_pnl)} tone={signClass(portfolio.unrealized_pnl)} />
      <Stat label="Fees paid" value={fmtMoney(portfolio.fees_paid)} />
    </div>
    </>
  );
}
