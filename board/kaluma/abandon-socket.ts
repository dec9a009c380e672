import type { KalumaSocket } from './kaluma';

/**
 * Lets go of a Kaluma socket for good: no listener of ours hears it again, and it is
 * destroyed on a later turn, since destroying inside one of the socket's own callbacks
 * has crashed Kaluma (kaluma.md §8). The caller drops its reference too: socket numbers
 * are reused, and a stale object would write into the next connection.
 */
export function abandonSocket(s: KalumaSocket): void {
  try {
    s.removeAllListeners();
    setTimeout(() => {
      try {
        s.destroy();
      } catch (e) {
        // already gone
      }
    }, 0);
  } catch (e) {
    // a dead socket
  }
}
