import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run the host build of src/ (src/device.d.ts); the device's is tested through build/firmware.js.
  define: { PICOWS_DEVICE: 'false' },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real sockets and child processes: two cores, so keep it to two workers.
    maxWorkers: 2,
  },
});
