"use client";

import { useRouter, useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { LinesChart } from "@/components/charts";
import { PortfolioSummary } from "@/components/PortfolioSummary";
import { Card, Empty, ErrorBox, Loading, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import { fmtMoney, fmtNum, fmtTime, num, signClass } from "@/lib/format";
import { useApi } from "@/lib/hooks";

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
  const portfolios = useApi(() => api.portfolios(), []);
  const list = portfolios.data ?? [];
  const id = requested ? Number(requested) : list[0]?.id;

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
      {portfolios.error ? (
        <ErrorBox error={portfolios.error} onRetry={portfolios.reload} />
      ) : !portfolios.data ? (
        <Loading />
      ) : id === undefined || Number.isNaN(id) ? (
        <Empty>No portfolio yet. Run an analysis with execution enabled to open the default one.</Empty>
      ) : (
        <PortfolioDetail id={id} />
      )}
    </>
  );
}

function PortfolioDetail({ id }: { id: number }) {
  const portfolio = useApi(() => api.portfolio(id), [id]);
  const positions = useApi(() => api.positions(id), [id]);
  const trades = useApi(() => api.trades(id), [id]);
  const equity = useApi(() => api.equity(id), [id]);

  return (
    <>
      <Card title={portfolio.data ? `${portfolio.data.name} · started with ${fmtMoney(portfolio.data.starting_cash)}` : "Summary"}>
        <View state={portfolio}>{(p) => <PortfolioSummary portfolio={p} />}</View>
      </Card>
      <Card title="Equity over time">
        <View state={equity} isEmpty={(e) => e.length === 0} empty="No snapshots yet — equity is recorded after every fill.">
          {(points) => (
            <LinesChart
              testId="equity-chart"
              lines={[{ name: "Equity", color: "#4fa3ff", points: points.map((p) => ({ time: p.at, value: num(p.equity) })) }]}
            />
          )}
        </View>
      </Card>
      <Card title="Open positions">
        <View state={positions} isEmpty={(p) => p.length === 0} empty="No open positions.">
          {(list) => (
            <Table head={["Symbol", "Quantity", "Avg entry", "Mark", "Value", "Unrealised P&L", "Stop", "Target"]} testId="positions-table">
              {list.map((p) => (
                <tr key={p.symbol}>
                  <td>{p.symbol}</td>
                  <td className="num">{fmtNum(p.quantity, 6)}</td>
                  <td className="num">{fmtMoney(p.avg_entry_price)}</td>
                  <td className="num" title={p.mark_source === "candle" ? "latest stored candle close" : "no candle: last fill price"}>
                    {fmtMoney(p.mark_price)}
                    {p.mark_source === "last_fill" && <span className="muted"> (last fill)</span>}
                  </td>
                  <td className="num">{fmtMoney(p.market_value)}</td>
                  <td className={`num ${signClass(p.unrealized_pnl)}`}>{fmtMoney(p.unrealized_pnl)}</td>
                  <td className="num">{fmtMoney(p.stop_loss)}</td>
                  <td className="num">{fmtMoney(p.take_profit)}</td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
      <Card title="Trades">
        <View state={trades} isEmpty={(t) => t.length === 0} empty="No trades yet.">
          {(list) => (
            <Table head={["Time", "Symbol", "Side", "Quantity", "Price", "Fee", "Reason"]} testId="trades-table">
              {list.map((t) => (
                <tr key={t.id}>
                  <td>{fmtTime(t.executed_at)}</td>
                  <td>{t.symbol}</td>
                  <td>
                    <span className={`badge ${t.side}`}>{t.side.toUpperCase()}</span>
                  </td>
                  <td className="num">{fmtNum(t.quantity, 6)}</td>
                  <td className="num">{fmtMoney(t.price)}</td>
                  <td className="num">{fmtMoney(t.fee, 4)}</td>
                  <td>{t.reason ?? "—"}</td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
    </>
  );
}
