/** The webhooks' pure parts: retry schedule, Slack text (escaped), URLs fit for listings. */
import { describe, expect, it } from 'vitest';
import { displayUrl, renderBody, retryDelay, slackText } from '../src/webhooks/index.js';

describe('retryDelay', () => {
  it('doubles from the base, is capped, and keeps at least half of each step as jitter allows', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, 60_000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000, 60_000, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelay(40, 1000, 60_000, () => 1)).toBe(60_000);
    expect(retryDelay(1_000_000, 1000, 60_000, () => 0.5)).toBe(45_000);
  });
});

describe('Slack bodies', () => {
  const event = {
    type: 'request.created',
    timestamp: '2026-12-03T00:00:00.000Z',
    data: { id: 'dr_x', who: 'group:ops', what: 'deploy <web> & db', approvalUrl: 'https://t.example/approve/requests/dr_x', requester: { verified: true, label: 'bot', subject: null }, reason: 'ship it' },
  };
  it('escape &, < and > so a requester cannot forge a link or a mention', () => {
    expect(slackText(event)).toBe('Approval needed from group:ops: deploy &lt;web&gt; &amp; db\nAsked by bot (verified): "ship it"\nReview it: <https://t.example/approve/requests/dr_x|dr_x>');
    expect(slackText({ ...event, data: { ...event.data, reason: '<!channel> <https://evil.example|click>' } })).not.toMatch(/<!channel>|<https:\/\/evil/);
  });
  it('say who decided, and why a denial', () => {
    const denied = { ...event, type: 'request.denied', data: { ...event.data, decision: { by: 'alice', reason: 'freeze' } } };
    expect(slackText(denied)).toBe('Denied by alice: deploy &lt;web&gt; &amp; db (freeze) (<https://t.example/approve/requests/dr_x|dr_x>)');
    expect(JSON.parse(renderBody('slack', denied))).toEqual({ text: slackText(denied) });
    expect(JSON.parse(renderBody('standard', denied))).toEqual(denied);
  });
});

describe('displayUrl', () => {
  it('cuts what may be a credential: token-like path segments, the query, user info', () => {
    expect(displayUrl('https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnopqrstuvwx')).toBe('https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcd…');
    expect(displayUrl('https://bots.example.com/tessera?key=secret')).toBe('https://bots.example.com/tessera?…');
    expect(displayUrl('not a url')).toBe('(invalid URL)');
  });
});
