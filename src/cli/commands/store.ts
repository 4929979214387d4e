/** `probescale store DIR`: the code versions in a scale-out store, and `--prune` to delete all but the current one. */
import type { Command } from 'commander';
import { listArg } from '../parse.js';

export function register(program: Command): void {
  program
    .command('store')
    .description('list the code versions in a scale-out result store (--store) with their entries and size; --prune deletes the others')
    .argument('<dir>', 'the store folder (a run\'s --store, default OUT/.store)')
    .option('--prune', 'delete every code version except the current sources\' (and --keep)')
    .option('--keep <codes>', 'with --prune: also keep these code versions (comma-separated, as listed)', listArg)
    .action(async (dir: string, o: { prune?: boolean; keep?: string }) => {
      const { storeVersions, pruneStore } = await import('../../distribute/store.js');
      const { codeVersion } = await import('../../distribute/version.js');
      const current = codeVersion();
      const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
      if (o.prune) {
        const r = pruneStore(dir, new Set([current, ...(o.keep ? o.keep.split(',').map((c) => c.trim()) : [])]), 'the store folder');
        console.log(`pruned ${r.removed.length} folder(s), ${mb(r.bytes)}${r.removed.length ? `: ${r.removed.join(', ')}` : ''}`);
      }
      const versions = storeVersions(dir, 'the store folder');
      if (!versions.length) console.log(`${dir}: no entries`);
      for (const v of versions) {
        const entries = Object.entries(v.entries).map(([k, n]) => `${k} ${n}`).join(', ');
        console.log(`${v.code}${v.code === current ? ' (current sources)' : v.code === 'flat' ? ' (written before entries were kept per code version; removed by --prune)' : ''}: ${entries}; ${mb(v.bytes)}`);
      }
    });
}
