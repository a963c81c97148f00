/**
 * `tessera/mcp`: Tessera-protected MCP tools over the official TypeScript SDK
 * (`@modelcontextprotocol/sdk`, an optional peer dependency; this is the only module that
 * imports it).
 *
 *   server side   protectMcp({ verifier, server, tools, approvals })   a hono app
 *   client side   tesseraFetch({ token, onApprovalUrl })               for StreamableHTTPClientTransport
 *                 delegate(token, { tools, resources, ttl, uses })     offline narrowing
 */
export {
  APPROVAL_HEADER,
  MCP_ERRORS,
  argumentResource,
  protectMcp,
  resourceContext,
  stringArgument,
  type ProtectMcpOptions,
  type ToolArguments,
  type ToolPolicy,
} from './server.js';
export { canonicalJson, callHash, mcpCall, type ApprovalOptions, type ApprovalPolicy, type Challenge } from './approval.js';
export { delegate, tesseraFetch, type DelegateOptions, type McpFetch, type TesseraFetchOptions } from './client.js';
