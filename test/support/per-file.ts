/**
 * vitest setup file: runs before each test file. Files share their worker's modules (vitest
 * `isolate: false`: loading the sources and their packages once per worker, not once per file,
 * is most of what a short file costs), so what a file opens is given back when it ends, here.
 */
import { afterAll } from 'vitest';
import { releaseFileDatabases } from './databases.js';

afterAll(releaseFileDatabases);
