/**
 * PICOWS_DEVICE: true in the device bundle, false everywhere else. Every build defines
 * it (firmware/build.mjs true; board/node/build.mjs and vitest.config.ts false), the way
 * `__DEV__` works in other libraries, and esbuild replaces it while it parses each file,
 * so `if (PICOWS_DEVICE) ... else ...` and `PICOWS_DEVICE ? a : b` keep one branch only.
 * (An imported constant would not do: esbuild inlines one only after that pass, and
 * both branches would stay in the bundle.)
 *
 * What the device build leaves out: English text that only explains an error id (the
 * id is then the message, src/errors.ts), and the host-only options listed in
 * firmware/README.md, "The device profile", which throw NOT_ON_DEVICE there. Every
 * byte of source is heap on a 180 KiB device.
 */
declare const PICOWS_DEVICE: boolean;
