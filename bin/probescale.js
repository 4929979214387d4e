#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader, so the published sources are the ones that run.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
