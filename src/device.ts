/**
 * Whether this code runs from the device bundle. firmware/build.mjs defines
 * PICOWS_DEVICE, and esbuild inlines this constant wherever it is imported, so
 * `DEVICE ? a : b` keeps one branch only. The device build uses it to leave out
 * English text that only explains an error id (the id is then the message:
 * src/errors.ts): every byte of source is heap on a 180 KiB device. On Node it is
 * false and every message is there.
 */
declare const PICOWS_DEVICE: boolean | undefined;

export const DEVICE = !(typeof PICOWS_DEVICE === 'undefined' || !PICOWS_DEVICE);
