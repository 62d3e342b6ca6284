"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense, useMemo, useState } from "react";
import { EXIT_REASONS } from "@/components/backtestView";
import { DrawdownChart, LinesChart, PriceChart, type PriceLevel, type TradeMark } from "@/components/charts";
import { EditPortfolioForm, NewPortfolioForm } from "@/components/PortfolioForms";
import { PortfolioSummary } from "@/components/PortfolioSummary";
import { SortTable, type Column } from "@/components/SortTable";
import { Card, Empty, ErrorBox, Loading, NotFound, Table, View } from "@/components/ui";
import { api, ApiError } from "@/lib/api";
import type { Position, Trade } from "@/lib/api-types";
import { DEFAULT_INTERVAL, INTERVALS } from "@/lib/constants";
import { fmtMoney, fmtNum, fmtTime, num, signClass } from "@/lib/format";
import { useApi } from "@/lib/hooks";

/** How often the portfolio's figures refresh (a dead API then shows within this time). */
const REFRESH_MS = 10_000;

export default function PortfolioPage() {
  return (
    <Suspense fallback={<Loading />}>
      <PortfolioScreen />
    </Suspense>
  );
}

function PortfolioScreen() {
  const router = useRouter();
  const requested = useSearchParams().get("id");
  const portfolios = useApi(() => api.portfolios(), [], true, REFRESH_MS);
  const list = portfolios.data ?? [];
  // An id that is not a whole number can name no portfolio: say so, never "no portfolio yet".
  const valid = requested === null || /^\d+$/.test(requested);
  const id = requested && valid ? Number(requested) : list[0]?.id;

  return (
    <>
      <div className="page-head">
        <h1>Portfolio</h1>
        {list.length > 1 && (
          <div className="tools">
            <label className="field">
              Portfolio
              <select value={id} onChange={(e) => router.push(`/portfolio/?id=${e.target.value}`)} aria-label="Portfolio">
                {list.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                    {p.kind === "synthetic" ? " · SYNTHETIC market" : ""}
                  </option>
                ))}
              </select>
            </label>
          </div>
        )}
      </div>
      <details className="card" data-testid="new-portfolio" open={portfolios.data?.length === 0}>
        <summary className="summary-title">New portfolio</summary>
        <NewPortfolioForm
          onCreated={(p) => {
            portfolios.reload();
            router.push(`/portfolio/?id=${p.id}`);
          }}
        />
      </details>
      {!valid ? (
        <NotFound what="Portfolio" id={requested ?? ""} back="/portfolio/" backLabel="Show the portfolios" />
      ) : requested !== null ? (
        <PortfolioDetail id={Number(requested)} />
      ) : portfolios.error && !portfolios.data ? (
        <ErrorBox error={portfolios.error} onRetry={portfolios.reload} />
      ) : !portfolios.data ? (
        <Loading />
      ) : id === undefined ? (
        <Empty>No portfolio yet. Open one above, or run an analysis with execution enabled to open the default one.</Empty>
      ) : (
        <PortfolioDetail id={id} />
      )}
    </>
  );
}

const TRADE_COLUMNS: Column<Trade>[] = [
  { key: "executed_at", label: "Time", sortValue: (t) => t.executed_at, render: (t) => fmtTime(t.executed_at) },
  { key: "symbol", label: "Symbol", sortValue: (t) => t.symbol, render: (t) => t.symbol },
  {
    key: "side",
    label: "Side",
    sortValue: (t) => t.side,
    render: (t) => <span className={`badge ${t.side}`}>{t.side.toUpperCase()}</span>,
  },
  {
    key: "realized_pnl",
    label: "Realised P&L",
    num: true,
    sortValue: (t) => (t.realized_pnl == null ? null : num(t.realized_pnl)),
    render: (t) => (t.realized_pnl == null ? <span className="muted" title="a buy realises nothing">—</span> : fmtMoney(t.realized_pnl)),
    className: (t) => signClass(t.realized_pnl),
  },
  {
    key: "reason",
    label: "Reason",
    sortValue: (t) => t.reason,
    render: (t) => (
      <span className={`badge ${t.reason === "stop_loss" ? "bad" : t.reason === "take_profit" ? "ok" : "muted"}`} data-testid="exit-reason">
        {EXIT_REASONS[t.reason] ?? t.reason.replace(/_/g, " ")}
      </span>
    ),
  },
  { key: "quantity", label: "Quantity", num: true, sortValue: (t) => num(t.quantity), render: (t) => fmtNum(t.quantity, 6) },
  { key: "price", label: "Price", num: true, sortValue: (t) => num(t.price), render: (t) => fmtMoney(t.price) },
  { key: "value", label: "Value", num: true, sortValue: (t) => num(t.price) * num(t.quantity), render: (t) => fmtMoney(num(t.price) * num(t.quantity)) },
  { key: "fee", label: "Fee", num: true, sortValue: (t) => num(t.fee), render: (t) => fmtMoney(t.fee, 4) },
  { key: "stop_loss", label: "Stop", num: true, render: (t) => fmtMoney(t.stop_loss) },
  { key: "take_profit", label: "Target", num: true, render: (t) => fmtMoney(t.take_profit) },
];

function PortfolioDetail({ id }: { id: number }) {
  const portfolio = useApi(() => api.portfolio(id), [id], true, REFRESH_MS);
  const positions = useApi(() => api.positions(id), [id], true, REFRESH_MS);
  const trades = useApi(() => api.trades(id), [id], true, REFRESH_MS);
  const equity = useApi(() => api.equity(id), [id], true, REFRESH_MS);
  const points = useMemo(() => (equity.data ?? []).map((p) => ({ time: p.at, value: num(p.equity) })), [equity.data]);
  const equityLines = useMemo(() => [{ name: "Equity", color: "#4fa3ff", points }], [points]);

  if (portfolio.error instanceof ApiError && portfolio.error.notFound) {
    return <NotFound what="Portfolio" id={String(id)} back="/portfolio/" backLabel="Show the portfolios" />;
  }

  return (
    <>
      <Card title={portfolio.data ? `${portfolio.data.name} · started with ${fmtMoney(portfolio.data.starting_cash)}` : "Summary"}>
        <View state={portfolio}>{(p) => <PortfolioSummary portfolio={p} />}</View>
      </Card>
      {portfolio.data && (
        <details className="card" data-testid="portfolio-limits">
          <summary className="summary-title">
            Limits and approval ·{" "}
            <span className="muted">
              {portfolio.data.require_approval ? "every order needs your approval" : "orders are placed without approval"}, max position {portfolio.data.risk.max_position_pct}%,
              exposure {portfolio.data.risk.max_total_exposure_pct}%, cash reserve {portfolio.data.risk.min_cash_reserve_pct}%
            </span>
          </summary>
          <EditPortfolioForm key={portfolio.data.id} portfolio={portfolio.data} onSaved={portfolio.reload} />
        </details>
      )}
      <div className="grid halves">
        <Card title="Equity over time">
          <View state={equity} isEmpty={(e) => e.length === 0} empty="No snapshots yet — equity is recorded after every fill.">
            {() => <LinesChart testId="equity-chart" lines={equityLines} label="Portfolio equity over time" />}
          </View>
        </Card>
        <Card title="Drawdown">
          <View state={equity} isEmpty={(e) => e.length === 0} empty="No snapshots yet.">
            {() => <DrawdownChart testId="drawdown-chart" points={points} height={316} />}
          </View>
        </Card>
      </div>
      <Card title="Open positions">
        <View state={positions} isEmpty={(p) => p.length === 0} empty="No open positions.">
          {(list) => (
            <Table caption="Open positions" numeric={[1, 2, 3, 4, 5, 6, 7]} head={["Symbol", "Unrealised P&L", "Value", "Quantity", "Avg entry", "Mark", "Stop", "Target"]} testId="positions-table">
              {list.map((p) => (
                <tr key={p.symbol}>
                  <td>{p.symbol}</td>
                  <td className={`num ${signClass(p.unrealized_pnl)}`}>{fmtMoney(p.unrealized_pnl)}</td>
                  <td className="num">{fmtMoney(p.market_value)}</td>
                  <td className="num">{fmtNum(p.quantity, 6)}</td>
                  <td className="num">{fmtMoney(p.avg_entry_price)}</td>
                  <td className="num" title={p.mark_source === "candle" ? "latest stored candle close" : "no candle: last fill price"}>
                    {fmtMoney(p.mark_price)}
                    {p.mark_source === "last_fill" && <span className="muted"> (last fill)</span>}
                  </td>
                  <td className="num">{fmtMoney(p.stop_loss)}</td>
                  <td className="num">{fmtMoney(p.take_profit)}</td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
      {trades.data && trades.data.length > 0 && <TradesChart trades={trades.data} positions={positions.data ?? []} />}
      <Card title="Trades">
        <View state={trades} isEmpty={(t) => t.length === 0} empty="No trades yet.">
          {(list) => (
            <SortTable
              caption="Trades of this portfolio"
              columns={TRADE_COLUMNS}
              rows={list}
              rowKey={(t) => t.id}
              initial={{ key: "executed_at", dir: "desc" }}
              testId="trades-table"
            />
          )}
        </View>
      </Card>
    </>
  );
}

/** A traded symbol's chart with every fill marked and the open position's stop and target. */
function TradesChart({ trades, positions }: { trades: Trade[]; positions: Position[] }) {
  const symbols = [...new Set(trades.map((t) => t.symbol))];
  const [symbol, setSymbol] = useState(symbols[0]);
  const [interval, setInterval] = useState<string>(DEFAULT_INTERVAL);
  const shown = symbols.includes(symbol) ? symbol : symbols[0];
  const candles = useApi(() => api.candles(shown, interval, 300), [shown, interval]);
  const marks = useMemo<TradeMark[]>(
    () =>
      trades
        .filter((t) => t.symbol === shown)
        .map((t) => ({
          time: t.executed_at,
          side: t.side as "buy" | "sell",
          price: num(t.price),
          text: t.side === "sell" && t.reason !== "signal" ? (EXIT_REASONS[t.reason] ?? t.reason) : undefined,
        })),
    [trades, shown],
  );
  const levels = useMemo<PriceLevel[]>(() => {
    const p = positions.find((x) => x.symbol === shown);
    if (!p) return [];
    return [
      { price: num(p.avg_entry_price), kind: "entry" as const, label: "avg entry" },
      ...(p.stop_loss != null ? [{ price: num(p.stop_loss), kind: "stop" as const }] : []),
      ...(p.take_profit != null ? [{ price: num(p.take_profit), kind: "target" as const }] : []),
    ];
  }, [positions, shown]);
  return (
    <Card
      title={`${shown} · ${interval} with this portfolio's trades`}
      testId="portfolio-price"
      actions={
        <>
          {symbols.length > 1 && (
            <select value={shown} onChange={(e) => setSymbol(e.target.value)} aria-label="Traded symbol">
              {symbols.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
          <select value={interval} onChange={(e) => setInterval(e.target.value)} aria-label="Chart interval">
            {INTERVALS.map((i) => (
              <option key={i}>{i}</option>
            ))}
          </select>
        </>
      }
    >
      <View state={candles} isEmpty={(c) => c.candles.length === 0} empty={`No ${shown} candles to draw.`}>
        {(c) => <PriceChart candles={c.candles} height={440} marks={marks} levels={levels} testId="portfolio-price-chart" />}
      </View>
    </Card>
  );
}
