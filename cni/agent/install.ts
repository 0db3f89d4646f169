// Puts our plugin into the node's CNI chain and keeps it there: the executable into the CNI bin
// dir, our entry last in the primary conflist (written atomically, so a runtime never reads half a
// file), re-inserted when another tool rewrites the file, taken out again on uninstall.
import { chmodSync, copyFileSync, existsSync, linkSync, readdirSync, readFileSync, mkdirSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../lib/log/logger.ts';
import { hasPlugin, insertPlugin, primaryConfigFile, removePlugin } from './conflist.ts';

export interface InstallerOptions {
  netDir: string;
  binDir: string;
  /** Our conflist entry; its `type` is also the executable's name. */
  entry: Record<string, unknown> & { type: string };
  /** The executable's content (a launcher script). */
  executable: string;
  /**
   * Files the executable runs, copied into `<binDir>/<type>.d/` under these names (e.g. the node
   * binary and the plugin bundle: on a real node nothing of the agent's container is visible).
   */
  payload?: Record<string, string>;
  log: Logger;
  /** Called after each re-insertion caused by someone else's rewrite. */
  onReinstall?: () => void;
}

function writeAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = join(path, '..', `.${path.split('/').pop()}.tmp-${process.pid}`);
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/**
 * Puts `src` at `dest` (mode kept) unless an identical file is there: a hard link when both are on
 * one filesystem, else a copy; always through a rename, so a runtime starting the plugin meanwhile
 * sees the old file or the new one.
 */
export function placeFile(src: string, dest: string): void {
  const from = statSync(src);
  if (existsSync(dest)) {
    const to = statSync(dest);
    if (to.ino === from.ino && to.dev === from.dev) return;
    if (to.size === from.size && readFileSync(dest).equals(readFileSync(src))) return;
  }
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.${basename(dest)}.tmp-${process.pid}`);
  rmSync(tmp, { force: true });
  try {
    linkSync(src, tmp);
  } catch {
    copyFileSync(src, tmp);
    chmodSync(tmp, from.mode & 0o777);
  }
  renameSync(tmp, dest);
}

export class PluginInstaller {
  private readonly o: InstallerOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(o: InstallerOptions) {
    this.o = o;
  }

  get executablePath(): string {
    return join(this.o.binDir, this.o.entry.type);
  }

  /** The conflist our entry goes into, or why there is none. */
  primaryFile(): string | undefined {
    const name = existsSync(this.o.netDir) ? primaryConfigFile(readdirSync(this.o.netDir).filter((n) => !n.startsWith('.'))) : undefined;
    return name ? join(this.o.netDir, name) : undefined;
  }

  /** Where the payload goes: `<binDir>/<type>.d`. */
  get payloadDir(): string {
    return join(this.o.binDir, `${this.o.entry.type}.d`);
  }

  /** Installs the payload, the executable and our conflist entry; returns whether the conflist changed. */
  install(): boolean {
    for (const [name, src] of Object.entries(this.o.payload ?? {})) placeFile(src, join(this.payloadDir, name));
    writeAtomic(this.executablePath, this.o.executable, 0o755);
    return this.ensureEntry();
  }

  private ensureEntry(): boolean {
    const file = this.primaryFile();
    if (!file) {
      this.o.log.warn({ netDir: this.o.netDir }, 'no primary CNI config yet; the plugin is inserted once one appears');
      return false;
    }
    const r = insertPlugin(readFileSync(file, 'utf8'), this.o.entry, file);
    if (!r.ok) throw new Error(r.error);
    if (r.changed) {
      writeAtomic(file, r.text);
      this.o.log.info({ file }, 'plugin inserted into the CNI chain');
    }
    return r.changed;
  }

  /** Re-inserts our entry whenever the config dir changes and the primary file lacks it. */
  watch(): void {
    this.watcher = watch(this.o.netDir, () => {
      // Coalesce bursts (write + rename) into one check.
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.recheck(), 100);
    });
    this.watcher.on('error', (err) => this.o.log.warn({ err: err.message }, 'watching the CNI config dir failed'));
  }

  private recheck(): void {
    const file = this.primaryFile();
    if (!file) return;
    try {
      if (hasPlugin(readFileSync(file, 'utf8'), this.o.entry.type)) return;
      if (this.ensureEntry()) {
        this.o.log.warn({ file }, 'the CNI config was rewritten without our plugin; re-inserted it');
        this.o.onReinstall?.();
      }
    } catch (err) {
      this.o.log.error({ file, err: (err as Error).message }, 'cannot re-insert the plugin into the CNI config');
    }
  }

  /** Removes our entry and the executable; the primary config stays otherwise untouched. */
  uninstall(): void {
    this.stopWatching();
    const file = this.primaryFile();
    if (file) {
      const r = removePlugin(readFileSync(file, 'utf8'), this.o.entry.type, file);
      if (r.ok && r.changed) writeAtomic(file, r.text);
    }
    rmSync(this.executablePath, { force: true });
    if (this.o.payload) rmSync(this.payloadDir, { recursive: true, force: true });
    this.o.log.info({ file }, 'plugin removed from the CNI chain');
  }

  stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
  }
}
