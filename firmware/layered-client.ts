/**
 * The reference build's client: `buildFirmware({ client: 'layered' })` bundles the app
 * with the layered stack (ResilientClient over Connection, the sans-I/O Protocol and
 * ClientHandshake, over board/kaluma/transport.ts) in place of the size-first
 * board/kaluma/device-client.ts. It is never flashed: test/device-client-diff.test.ts
 * runs both bundles on the same emulated board and requires the same behaviour.
 */
export { ResilientClient as DeviceClient } from '../src/resilience/resilient-client';
export { kalumaRuntime } from './../board/kaluma/runtime';
