// Types for firmware/build.mjs (tests and `picows flash` import it).
export interface FirmwareBuildOptions {
  /** Baked-in defaults; Kaluma storage keys WS_URL / WIFI_SSID / WIFI_PASSWORD override them on the device. */
  url?: string;
  ssid?: string;
  password?: string;
  /** Default build/firmware.js; null builds in memory only. */
  outfile?: string | null;
  /** Default build/firmware.meta.json; null writes none. */
  metafile?: string | null;
  /** Shorten member names nothing outside the bundle sees (default true; see privateMemberNames). */
  mangle?: boolean;
  /** terser's second pass, without function inlining (default true). */
  squeeze?: boolean;
  /** 'layered': the reference build, the app over the layered stack (firmware/layered-client.ts), never flashed. */
  client?: 'layered';
}

export interface Metafile {
  inputs: { [path: string]: { bytes: number } };
  outputs: { [path: string]: { bytes: number; inputs: { [path: string]: { bytesInOutput: number } } } };
}

export interface FirmwareBuild {
  code: string;
  bytes: number;
  /** esbuild's output before terser: what the metafile's per-module bytes add up to. */
  esbuildBytes: number;
  outfile: string | null;
  metafile: Metafile;
  /** How many member names were mangled. */
  mangled: number;
}

export const KALUMA_BUILTINS: string[];
export const BUNDLE_BUDGET: number;
export const BUNDLE_LIMIT: number;
export const INTERNAL_TYPES: string[];
/** extraRoots: more entry files for the type check (the reference build adds firmware/layered-client.ts). */
export function privateMemberNames(extraRoots?: string[]): Promise<string[] | null>;
export function buildFirmware(options?: FirmwareBuildOptions): Promise<FirmwareBuild>;
export function bytesByModule(metafile: Metafile): [string, number][];
