/**
 * `picows echo <url>`: connect, send every text or binary message back verbatim
 * (what the Autobahn TestSuite's fuzzing server expects of a client under test),
 * and report how the connection ended.
 */
import type { CloseEvent } from '../../src/client/events';
import type { CorePreference } from '../../src/core/loader';
import { WebSocket } from './websocket';

export interface EchoOptions {
  maxMessage?: number;
  /** Validator flags (CFG_* in src/core/types.ts), e.g. CFG_ACCEPT_NON_MINIMAL for a server known to break that MUST. */
  validatorFlags?: number;
  core?: CorePreference;
  protocols?: string[];
  headers?: { [name: string]: string };
  /** Close after this many ms (0 = wait for the server). */
  durationMs?: number;
}

export interface EchoResult {
  code: number;
  reason: string;
  wasClean: boolean;
  cause: string;
  errorId: string | null;
  errorMessage: string | null;
  messages: number;
}

/** Echoes until the connection ends; resolves with how it ended. */
export function runEcho(url: string, options: EchoOptions = {}): Promise<EchoResult> {
  return new Promise((resolve) => {
    let messages = 0;
    const ws = new WebSocket(url, options.protocols, {
      maxMessage: options.maxMessage === undefined ? 16 * 1024 * 1024 : options.maxMessage,
      core: options.core,
      headers: options.headers,
      validatorFlags: options.validatorFlags,
    });
    ws.binaryType = 'uint8array';
    let timer: ReturnType<typeof setTimeout> | undefined;
    ws.onopen = () => {
      if (options.durationMs) timer = setTimeout(() => ws.close(1000, 'done'), options.durationMs);
    };
    ws.onmessage = (ev) => {
      messages++;
      ws.send(ev.data as string | Uint8Array);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: ev.code,
        reason: ev.reason,
        wasClean: ev.wasClean,
        cause: ev.cause,
        errorId: ev.error ? ev.error.id : null,
        errorMessage: ev.error ? ev.error.message : null,
        messages,
      });
    };
  });
}

export function formatEchoResult(r: EchoResult): string {
  let s = `closed: code=${r.code} reason=${JSON.stringify(r.reason)} wasClean=${r.wasClean} cause=${r.cause} messages=${r.messages}`;
  if (r.errorId) s += `\nerror: ${r.errorId}: ${r.errorMessage}`;
  return s + '\n';
}
