'use strict';
/**
 * A Serverless Framework plugin that gives one `serverless package`/`deploy` run a temp directory of
 * its own and removes it when the run ends.
 *
 * serverless-esbuild zips each function from a folder it makes in os.tmpdir()
 * (`<function>-<pid>-<time>-<hex>`) and then fails to remove it (a non-recursive remove of a folder
 * that is not empty, its error swallowed): about fifty folders were left in /tmp by every package run
 * of this stack. os.tmpdir() reads TMPDIR at each call, so pointing TMPDIR at a private folder for the
 * run keeps them out of /tmp; the folder goes when the process exits, whatever the outcome.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class PrivateTmpdir {
  constructor() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwarden-sls-'));
    process.env.TMPDIR = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    this.hooks = {};
  }
}

module.exports = PrivateTmpdir;
