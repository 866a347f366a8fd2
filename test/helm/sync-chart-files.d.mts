// Types for sync-chart-files.mjs, which stays plain JavaScript so `node` runs it without a build.
export declare const mirrors: { from: string; match: (file: string) => boolean; recurse: boolean; to: string }[];
export declare function plan(): { pairs: [original: string, copy: string][]; stale: string[] };
