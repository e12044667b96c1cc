/**
 * knip preprocessor: drops the findings knip.jsonc accepts by file and symbol
 * (`preprocessorOptions.allowed`: `{ [issueType]: string[] of files | { [file]: symbols[] } }`),
 * which knip's own configuration can only do for whole files. An accepted finding that knip no
 * longer reports is an error: the acceptance has outlived its reason and must go.
 */
export default function dropAllowedFindings(data) {
  // knip hands the options over as JSON text.
  const options = typeof data.preprocessorOptions === 'string' ? JSON.parse(data.preprocessorOptions || '{}') : {};
  const allowed = options.allowed;
  if (typeof allowed !== 'object' || allowed === null) {
    throw new Error('knip allowlist: knip.jsonc has no preprocessorOptions.allowed');
  }
  const stale = [];
  for (const [type, entries] of Object.entries(allowed)) {
    const issues = data.issues[type];
    if (!issues) throw new Error(`knip allowlist: unknown issue type "${type}"`);
    const pairs = Array.isArray(entries)
      ? entries.map((file) => [file, file])
      : Object.entries(entries).flatMap(([file, symbols]) => symbols.map((symbol) => [file, symbol]));
    for (const [file, symbol] of pairs) {
      if (!issues[file]?.[symbol]) {
        stale.push(`${type}: ${file}${symbol === file ? '' : ` ${symbol}`}`);
        continue;
      }
      delete issues[file][symbol];
      if (Object.keys(issues[file]).length === 0) delete issues[file];
      data.counters[type] -= 1;
    }
  }
  if (stale.length > 0) {
    console.error(`knip.jsonc accepts findings knip no longer reports; remove them:\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  return data;
}
