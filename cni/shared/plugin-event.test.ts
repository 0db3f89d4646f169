import { describe, expect, it } from 'vitest';
import { failureText, validateCmdAddAnswer, validateCmdAddEvent } from './plugin-event.ts';
import { CMD_ADD_EVENT } from './test-fixtures.ts';

const event = CMD_ADD_EVENT;

describe('CmdAddEvent validation (the agent checks what the plugin sends)', () => {
  it('accepts a full event', () => {
    expect(validateCmdAddEvent(event)).toEqual({ ok: true, value: event });
  });

  it('defaults the optional ids to empty', () => {
    const { podUid: _u, infraContainerId: _i, ...rest } = event;
    expect(validateCmdAddEvent(rest)).toEqual({ ok: true, value: { ...rest, podUid: '', infraContainerId: '' } });
  });

  it.each([
    { v: null, errors: ['event: must be a JSON object'] },
    { v: [], errors: ['event: must be a JSON object'] },
    { v: { ...event, netns: '' }, errors: ['event.netns: must be a non-empty string'] },
    { v: { ...event, podName: 3 }, errors: ['event.podName: must be a non-empty string'] },
    { v: { ...event, podUid: 3 }, errors: ['event.podUid: must be a string'] },
    { v: { ...event, ips: '10.0.0.1' }, errors: ['event.ips: must be a list of IP addresses'] },
    { v: { ...event, ips: ['10.0.0.1', ''] }, errors: ['event.ips[1]: must be a non-empty string'] },
    { v: { ips: [] }, errors: ['containerId', 'netns', 'ifName', 'podName', 'podNamespace'].map((k) => `event.${k}: must be a non-empty string`) },
  ])('rejects $v', ({ v, errors }) => {
    expect(validateCmdAddEvent(v)).toEqual({ ok: false, errors });
  });
});

describe('CmdAddAnswer validation (the plugin checks what the agent answers)', () => {
  it.each([
    { v: { captured: true }, value: { captured: true } },
    { v: { captured: true, extra: 1 }, value: { captured: true } },
    { v: { captured: false, reason: 'opted out' }, value: { captured: false, reason: 'opted out' } },
    { v: { captured: false }, value: { captured: false, reason: '' } },
  ])('accepts $v', ({ v, value }) => {
    expect(validateCmdAddAnswer(v)).toEqual({ ok: true, value });
  });

  it.each([
    { v: 'yes', error: 'answer: must be a JSON object' },
    { v: {}, error: 'answer.captured: must be true or false' },
    { v: { captured: 'true' }, error: 'answer.captured: must be true or false' },
    { v: { captured: false, reason: 1 }, error: 'answer.reason: must be a string' },
  ])('rejects $v', ({ v, error }) => {
    expect(validateCmdAddAnswer(v)).toEqual({ ok: false, errors: [error] });
  });

  it.each([
    { body: '{"error":"ztunnel down"}', text: 'ztunnel down' },
    { body: '{"message":"x"}', text: '{"message":"x"}' },
    { body: '  plain text\n', text: 'plain text' },
    { body: '', text: '(empty body)' },
    { body: 'x'.repeat(600), text: `${'x'.repeat(500)}…` },
  ])('failure text of $body', ({ body, text }) => {
    expect(failureText(body)).toBe(text);
  });
});
