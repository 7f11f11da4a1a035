/**
 * @db-safeguards/trpc: db-safeguards for tRPC v11 servers. The client helpers live in
 * `@db-safeguards/trpc/client`.
 */

export { addressGroup } from './server/address-group.js';
export type { AdmitCallsOptions, CallsAdmission } from './server/call-admission.js';
export {
  admitCalls,
  anyAdmitted,
  defaultMaxBatchSize,
  prechargeCalls,
  prechargedRefusal,
  procedurePolicies,
  requestCallPaths,
} from './server/call-admission.js';
export type { RequestAddressInfo, TrustProxy } from './server/client-ip.js';
export { clientIp, isProxyRule, isTrustedProxy } from './server/client-ip.js';
export type {
  EdgeAdmission,
  EdgeAdmissionOptions,
  EdgeDecision,
  EdgeRefusal,
  EdgeRequest,
  EdgeResponseTarget,
} from './server/edge-admission.js';
export { createEdgeAdmission, edgeRefusalResponse, sendEdgeRefusal } from './server/edge-admission.js';
export type {
  FormatterInput,
  SafeguardsErrorFormatterOptions,
  ShapeWithUserFriendly,
  UserFriendlyDataOptions,
} from './server/error-formatter.js';
export { safeguardsErrorFormatter, userFriendlyData } from './server/error-formatter.js';
export { toSafeguardError, toTRPCError, trpcCodeByErrorType, trpcCodeFor } from './server/error-mapping.js';
export type { ConnectionGuardOptions, RequestCheck } from './server/fetch-guard.js';
export { checkRequest, withConnectionMiddleware } from './server/fetch-guard.js';
export type { ProcedureSettings, SafeguardsMeta } from './server/procedure-settings.js';
export { resolveProcedureSettings } from './server/procedure-settings.js';
export { withSafeguardsContext } from './server/request-state.js';
export { safeguardsHeaders, safeguardsResponseMeta } from './server/response-meta.js';
export type { SafeguardsMiddlewareOptions, SafeguardsSource } from './server/safeguards-middleware.js';
export { createSafeguardsMiddleware, createSafeguardsPlugin } from './server/safeguards-middleware.js';
export type { UserFriendlyErrorData } from './user-friendly-data.js';
