// Trading-session types: aliases of the schemas generated from the backend's OpenAPI document
// (sessions/schemas.py, api/routes/sessions.py, graph/events.py → web/openapi.json →
// `npm run gen:api` → openapi.d.ts), like lib/api-types.ts.
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type SessionView = Schemas["SessionView"];
export type SessionStatus = SessionView["status"];
export type ClockKind = SessionView["clock"];
export type ApprovalPolicy = SessionView["approval"];
/** The server fills in the defaults (approval auto, costs, every bar…): the form sends the rest. */
export type SessionSpec = Pick<Schemas["SessionSpec"], "symbols"> & Partial<Schemas["SessionSpec"]>;
export type LimitMaxima = Schemas["LimitMaxima"];
export type PendingApproval = Schemas["PendingApproval"];
export type SymbolState = Schemas["SymbolState"];
export type SessionDecisionRow = Schemas["SessionDecisionRow"];
/** One point of `GET /api/sessions/{id}/equity`: bar open time, equity at that bar's close. */
export type SessionEquityPoint = Schemas["SessionEquityPoint"];
export type SessionCreated = Schemas["SessionStarted"];
export type ApprovalAnswer = Omit<Schemas["ApprovalAnswer"], "note"> & Partial<Pick<Schemas["ApprovalAnswer"], "note">>;
export type ParityDiff = Schemas["ParityDiff"];
/** `GET /api/sessions/{id}/parity`: the session against the backtest of the same bars. */
export type ParityReport = Schemas["ParityReport"];
/** `PATCH /api/portfolios/{id}`: the approval policy and risk limits of a portfolio. */
export type PortfolioPatch = Schemas["PortfolioUpdate"];

// ---- session events (graph/events.py); `seq` is the SSE id, added client-side ---------------

type WithSeq<T> = T & { seq?: number };
export type SessionTickEvent = WithSeq<Schemas["SessionTick"]>;
export type SessionDecisionEvent = WithSeq<Schemas["SessionDecision"]>;
export type SessionStateEvent = WithSeq<Schemas["SessionState"]>;
