/**
 * The device profile (firmware/README.md, "The device profile"): what the device build
 * (PICOWS_DEVICE, src/device.d.ts) leaves out, tested on each module as that build
 * compiles it. Each host-only option throws NOT_ON_DEVICE there; everything else gives
 * the host's answers. The outbox's share is in outbox.test.ts; the whole bundle runs in
 * firmware-sandbox.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { PicowsError } from '../src/errors';
import { deviceModule } from './helpers/device-module';

type PolicyModule = typeof import('../src/resilience/policy');
type HandshakeModule = typeof import('../src/handshake/client-handshake');
type ErrorsModule = typeof import('../src/errors');
type DeviceClientModule = typeof import('../board/kaluma/device-client');

const notOnDevice = expect.objectContaining({ id: 'NOT_ON_DEVICE' });

describe('the device profile', () => {
  it('Policy: overrides, classes and decide throw NOT_ON_DEVICE; the default table gives the host answers', async () => {
    const device = await deviceModule<PolicyModule>('src/resilience/policy.ts');
    const host = await import('../src/resilience/policy');
    expect(() => new device.Policy({ overrides: { PONG_TIMEOUT: 'rejected' } })).toThrow(notOnDevice);
    expect(() => new device.Policy({ classes: { transient: { harder: 2 } } })).toThrow(notOnDevice);
    expect(() => new device.Policy({ decide: (_e, d) => d })).toThrow(notOnDevice);
    const endings = [
      { cause: 'pong-timeout' as const, code: 1006, error: new PicowsError('PONG_TIMEOUT') },
      { cause: 'protocol-error' as const, code: 1002, error: new PicowsError('RESERVED_OPCODE', { offset: 3 }) },
      { cause: 'handshake-rejected' as const, code: 1006, error: new PicowsError('HANDSHAKE_STATUS', { status: 503, retryAfter: 7 }) },
      { cause: 'handshake-rejected' as const, code: 1006, error: new PicowsError('HANDSHAKE_STATUS', { status: 401 }) },
      { cause: 'peer-closed' as const, code: 1013, error: null },
      { cause: 'local-close' as const, code: 1000, error: null },
    ];
    const d = new device.Policy({ now: () => 5 });
    const h = new host.Policy({ now: () => 5 });
    // Six broken-peer endings in a row trip the breaker on both.
    for (let round = 0; round < 6; round++) for (const e of endings) expect(d.decide(e)).toEqual(h.decide(e));
    expect(d.diagnostics()).toEqual(h.diagnostics());
    expect(d.diagnostics().length).toBeGreaterThan(0);
  });

  it('the shipped bundle runs the device client; the reference build has the layered stack without the WHATWG layer', async () => {
    const { buildFirmware, bytesByModule } = await import('../firmware/build.mjs');
    const shipped = await buildFirmware({ outfile: null, metafile: null });
    const inShipped = bytesByModule(shipped.metafile).map(([p]: [string, number]) => p);
    expect(inShipped).toContain('board/kaluma/device-client.ts');
    for (const layer of ['src/resilience/resilient-client.ts', 'src/client/connection.ts', 'src/protocol/protocol.ts', 'src/handshake/client-handshake.ts', 'src/client/websocket.ts']) {
      expect(inShipped).not.toContain(layer);
    }
    const ref = await buildFirmware({ outfile: null, metafile: null, client: 'layered' });
    const inRef = bytesByModule(ref.metafile).map(([p]: [string, number]) => p);
    expect(inRef).toContain('src/client/connection.ts');
    expect(inRef).toContain('src/resilience/resilient-client.ts');
    expect(inRef).not.toContain('board/kaluma/device-client.ts');
    expect(inRef).not.toContain('src/client/websocket.ts');
    expect(ref.code).not.toContain('addEventListener');
  });

  it('the device client refuses the same host-only options, and an outbox that could never evict', async () => {
    const { DeviceClient } = await deviceModule<DeviceClientModule>('board/kaluma/device-client.ts');
    const rt = { net: {} as never, random32: () => 0x12345678 };
    const make = (o: object) => new DeviceClient('ws://pico.local/', rt, o);
    for (const policy of [{ overrides: {} }, { classes: {} }, { decide: () => null }]) {
      expect(() => make({ policy })).toThrow(notOnDevice);
    }
    expect(() => make({ outbox: { overflow: 'drop-newest' } })).toThrow(notOnDevice);
    for (const maxCount of [-1, 0.5, Infinity]) expect(() => make({ outbox: { maxCount } })).toThrow(RangeError);
    const c = make({});
    for (const push of [{ key: 'k' }, { ttlMs: 1000 }, { session: true }, { overflow: 'drop-newest' }]) {
      expect(() => c.send('x', push)).toThrow(notOnDevice);
    }
    // What the device does take: a plain send is queued, and counted.
    expect(c.send('{"t":1}')).toBe('queued');
    expect(c.stats.queued).toBe(1);
    expect(c.state).toBe('idle');
  });

  it('ClientHandshake: Retry-After in seconds is read, an HTTP-date is left to the policy (undefined)', async () => {
    const { ClientHandshake } = await deviceModule<HandshakeModule>('src/handshake/client-handshake.ts');
    const status = (lines: string[]) => {
      const hs = new ClientHandshake({ url: { hostHeader: 'pico', path: '/' }, key: new Uint8Array(16) });
      const text = lines.join('\r\n') + '\r\n\r\n';
      const bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
      expect(hs.receive(bytes)).toBe(bytes.length);
      expect(hs.error && hs.error.id).toBe('HANDSHAKE_STATUS');
      return hs.error!.detail!;
    };
    expect(status(['HTTP/1.1 503 Busy', 'Retry-After: 7']).retryAfter).toBe(7);
    const dated = status(['HTTP/1.1 503 Busy', 'Date: Wed, 21 Oct 2015 07:28:00 GMT', 'Retry-After: Wed, 21 Oct 2015 07:30:00 GMT']);
    expect(dated.retryAfter).toBeUndefined();
    // The raw value is still there for whoever reads the headers.
    expect((dated.headers as { [k: string]: string })['retry-after']).toBe('Wed, 21 Oct 2015 07:30:00 GMT');
  });

  it('errors: no table on the device; every id keeps its close code, and its message is the id', async () => {
    const device = await deviceModule<ErrorsModule>('src/errors.ts');
    const host = await import('../src/errors');
    expect(Object.keys(device.ERRORS)).toEqual([]);
    const ids = Object.keys(host.ERRORS);
    expect(ids.length).toBeGreaterThan(30);
    for (const id of ids) {
      const e = new device.PicowsError(id, { x: 1 });
      expect([e.id, e.message, e.closeCode, e.detail]).toEqual([id, id, host.ERRORS[id].closeCode, { x: 1 }]);
      expect(device.closeCodeOf(id)).toBe(host.closeCodeOf(id));
    }
    // An unknown id, as on the host: an internal error.
    expect(new device.PicowsError('NO_SUCH_ID').closeCode).toBe(1011);
    expect(new host.PicowsError('NO_SUCH_ID').closeCode).toBe(1011);
    expect(new device.PicowsError('NOT_ON_DEVICE').closeCode).toBe(1006);
    // Names an object inherits are not ids.
    for (const id of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect([device.closeCodeOf(id), host.closeCodeOf(id)]).toEqual([1011, 1011]);
    }
    expect(new PicowsError('NOT_ON_DEVICE').message).toContain('device build');
  });
});
