/**
 * Webhook notifications of approval requests (#11): endpoints managed through the admin API, an
 * outbox written with each request change, and a worker delivering it signed per Standard
 * Webhooks. Server layer: loads `standardwebhooks` (an optional peer) only when it sends.
 */
export { WebhookWorker, retryDelay, type WebhookWorkerDeps, type WebhookWorkerOptions } from './worker.js';
export { webhookRoutes, type WebhookRoutesOptions } from './routes.js';
export { displayUrl } from '../storage/webhooks.js';
export { addWebhook, listWebhooks, removeWebhook, testWebhook, webhookAttempts, type AddWebhookInput, type WebhookAddressee, type WebhookListing } from './endpoints.js';
export { checkWebhookUrl, renderBody, slackText } from './deliver.js';
