// Prints the size of switchboard.mjs (ws/js): source, minified by terser,
// and minified+gzip, as JSON.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { minify } from "terser";

const src = readFileSync(new URL("../../../ws/js/switchboard.mjs", import.meta.url), "utf8");
const { code } = await minify(src, { module: true, compress: true, mangle: true });
console.log(JSON.stringify({ source: Buffer.byteLength(src), minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).length }));
