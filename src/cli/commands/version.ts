/** `tessera version` (also `tessera --version`): the installed version, and the runtime. */
import { bool, type Command } from '../command.js';
import { pretty } from '../io.js';
import { tesseraVersion } from '../version.js';

export const version: Command = {
  name: 'version',
  summary: 'print the version of tessera (also --version)',
  help: `Usage: tessera version [--json]

Options:
  --json       print { version, node } as JSON
  -h, --help   show this help`,
  options: { json: { type: 'boolean' } },
  async run(args, io) {
    io.out(bool(args, 'json') ? pretty({ version: tesseraVersion(), node: process.versions.node }) : `tessera ${tesseraVersion()}`);
  },
};
