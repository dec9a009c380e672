/**
 * picows' at-least-once wire protocol (the full text: ACK-PROTOCOL.md beside this file).
 *
 *   client → server   {"seq":N,"sid":"<boot id>","data":<JSON>}
 *   server → client   {"ack":N}     every seq ≤ N of this sid arrived (or is no longer wanted)
 *
 * seq starts at 1 for each sid and rises in send order; a resend after a reconnect
 * keeps its seq, so the server drops duplicates by remembering the highest seq per
 * sid. The sid is drawn at boot: a rebooted device starting again at seq 1 is a new
 * sid, never mistaken for duplicates, and no seq has to be written to flash per message.
 */

/** sids are restricted so they need no JSON escaping: letters, digits, `_ . : -`, 1–64 chars. */
export function isValidSid(sid: string): boolean {
  return /^[\w.:-]{1,64}$/.test(sid);
}

/** A fresh boot id: 10 base-36 characters (≈ 51 bits) from the injected RNG. */
export function newSid(random: () => number): string {
  let s = '';
  for (let i = 0; i < 10; i++) s += ((random() * 36) | 0).toString(36);
  return s;
}

/** The data frame. `dataJson` is JSON text (JSON.stringify of the app's value); `sid` must pass isValidSid. */
export function dataFrame(seq: number, sid: string, dataJson: string): string {
  return '{"seq":' + seq + ',"sid":"' + sid + '","data":' + dataJson + '}';
}

export function ackFrame(n: number): string {
  return '{"ack":' + n + '}';
}

/**
 * N when `text` is exactly an ack, `{"ack":N}` (JSON whitespace allowed, so any
 * server's JSON encoder will do), else -1. Hand-parsed: no allocation, and an app
 * message is told apart at its first few characters.
 */
export function parseAck(text: string): number {
  const n = text.length;
  let i = skip(text, 0);
  if (text.charCodeAt(i) !== 123 /* { */) return -1;
  i = skip(text, i + 1);
  if (!text.startsWith('"ack"', i)) return -1;
  i = skip(text, i + 5);
  if (text.charCodeAt(i) !== 58 /* : */) return -1;
  i = skip(text, i + 1);
  let v = 0;
  const start = i;
  for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) v = v * 10 + c - 48;
  if (i === start || i - start > 16) return -1;
  i = skip(text, i);
  if (text.charCodeAt(i) !== 125 /* } */) return -1;
  return skip(text, i + 1) === n ? v : -1;
}

function skip(t: string, i: number): number {
  for (let c = t.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = t.charCodeAt(++i));
  return i;
}

export interface DataFrame {
  seq: number;
  sid: string;
  data: unknown;
}

/** The server's side: a data frame, or null for anything else. */
export function parseData(text: string): DataFrame | null {
  let v: { seq?: unknown; sid?: unknown; data?: unknown };
  try {
    v = JSON.parse(text);
  } catch (e) {
    return null;
  }
  if (!v || typeof v !== 'object' || !('data' in v)) return null;
  const seq = v.seq;
  if (typeof seq !== 'number' || seq < 1 || Math.floor(seq) !== seq || typeof v.sid !== 'string' || !isValidSid(v.sid)) return null;
  return { seq, sid: v.sid, data: v.data };
}
