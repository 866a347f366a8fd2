#!/usr/bin/env node
// Committed shim so npm links the bin at install time, before the TypeScript build exists.
await import('../dist/main.js');
