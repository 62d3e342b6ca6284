"use client";

// The Trading floor: the firm at work. Pick a session or start one; the chosen session is
// addressed with a query parameter (`/floor/?session=…`): the static export has no dynamic routes.
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { Suspense } from "react";
import { SessionStatusBadge, speedWords } from "@/components/floor/labels";
import { SessionFloor } from "@/components/floor/SessionFloor";
import { StartSession } from "@/components/floor/StartSession";
import { Card, Loading, SourceBadge, Table, View } from "@/components/ui";
import { api } from "@/lib/api";
import { fmtMoney, fmtTime } from "@/lib/format";
import { useApi } from "@/lib/hooks";

export default function FloorPage() {
  return (
    <Suspense fallback={<Loading />}>
      <Floor />
    </Suspense>
  );
}

function Floor() {
  const router = useRouter();
  const id = useSearchParams().get("session");
  const sessions = useApi(() => api.sessions(), [id], true, 5000);
  const open = (sid: string) => router.push(`/floor/?session=${sid}`);

  return (
    <>
      <div className="page-head">
        <h1>Trading floor</h1>
        {(sessions.data?.length ?? 0) > 0 && (
          <div className="tools">
            <label className="field">
              Session
              <select value={id ?? ""} onChange={(e) => (e.target.value ? open(e.target.value) : router.push("/floor/"))} data-testid="session-picker">
                <option value="">— start a new one —</option>
                {sessions.data?.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name} · {s.symbols.join(", ")} · {s.status}
                  </option>
                ))}
              </select>
            </label>
          </div>
        )}
      </div>

      {id ? (
        <SessionFloor key={id} id={id} />
      ) : (
        <Card title="Start a session">
          <StartSession onStarted={open} />
        </Card>
      )}

      <Card title="Sessions">
        <View state={sessions} isEmpty={(l) => l.length === 0} empty="No session yet: start one above to watch the desk trade bar after bar.">
          {(list) => (
            <Table caption="Trading sessions" numeric={[5, 6]} head={["Session", "Symbols", "Clock", "Status", "Simulated now (UTC)", "Bars", "Equity"]} testId="sessions-table">
              {list.map((s) => (
                <tr key={s.id} aria-current={s.id === id ? "true" : undefined}>
                  <td>
                    <Link href={`/floor/?session=${s.id}`}>{s.name}</Link>
                  </td>
                  <td>
                    {s.symbols.join(", ")} · {s.interval}
                  </td>
                  <td>
                    {s.clock === "replay" ? `replay from ${fmtTime(s.replay_from)}, ${speedWords(s.speed, s.interval)}` : "live"} <SourceBadge source={s.data_source ?? undefined} />
                  </td>
                  <td>
                    <SessionStatusBadge status={s.status} />
                  </td>
                  <td>{fmtTime(s.now)}</td>
                  <td className="num">{s.bars_processed}</td>
                  <td className="num">{fmtMoney(s.equity)}</td>
                </tr>
              ))}
            </Table>
          )}
        </View>
      </Card>
    </>
  );
}
