/**
 * The Wi-Fi access point as the simulator sees it: up or down, with optional
 * credentials. Several boards may share one radio (one AP, one outage). The board
 * reacts to changes; Kaluma itself notices nothing (kaluma.md §3: no link monitor,
 * `disconnected` fires only on an explicit disconnect()).
 */
export interface RadioOptions {
  up?: boolean;
  /** When set, wifi.connect() with another SSID fails (after its 30 s block). */
  ssid?: string;
  /** When set (with ssid), a wrong password fails the join too. */
  password?: string;
}

export class Radio {
  readonly ssid: string | undefined;
  readonly password: string | undefined;
  private isUp: boolean;
  private readonly listeners = new Set<(up: boolean) => void>();

  constructor(options: RadioOptions = {}) {
    this.isUp = options.up !== false;
    this.ssid = options.ssid;
    this.password = options.password;
  }

  get up(): boolean {
    return this.isUp;
  }

  setUp(up: boolean): void {
    if (up === this.isUp) return;
    this.isUp = up;
    for (const fn of [...this.listeners]) fn(up);
  }

  /** Whether a join with these credentials would associate (radio up, SSID and password match). */
  accepts(ssid: string, password: string | null | undefined): boolean {
    if (!this.isUp) return false;
    if (this.ssid !== undefined && ssid !== this.ssid) return false;
    if (this.ssid !== undefined && this.password !== undefined && (password ?? '') !== this.password) return false;
    return true;
  }

  subscribe(fn: (up: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
