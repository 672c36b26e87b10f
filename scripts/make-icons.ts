/**
 * Draws the web app's icons (web/public/icons/) without any network or image library: an SVG and
 * PNGs at 192 and 512 px of one simple mark (three chat lines on SAM green, full-bleed so the
 * icon also works as a maskable one). Run again after changing the mark:
 *   node --import ./node_modules/tsx/dist/loader.mjs scripts/make-icons.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { paths } from '../supabase/local/paths.ts';

const GREEN = [0x15, 0x80, 0x3d] as const;
const WHITE = [0xff, 0xff, 0xff] as const;

/** The mark's bars, in units of the icon's side: x, y, width, height (rounded ends). */
const BARS = [
  [0.25, 0.3, 0.5, 0.1],
  [0.25, 0.45, 0.36, 0.1],
  [0.25, 0.6, 0.44, 0.1],
] as const;

function insideBar(x: number, y: number): boolean {
  return BARS.some(([bx, by, bw, bh]) => {
    const r = bh / 2;
    if (y < by || y > by + bh) return false;
    const cx = Math.min(Math.max(x, bx + r), bx + bw - r);
    return (x - cx) ** 2 + (y - (by + r)) ** 2 <= r * r;
  });
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An RGB PNG of the mark at `size` px, each pixel 4×4 supersampled. */
export function iconPng(size: number): Buffer {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  const S = 4;
  for (let py = 0; py < size; py++) {
    const row = py * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let hits = 0;
      for (let sy = 0; sy < S; sy++)
        for (let sx = 0; sx < S; sx++)
          if (insideBar((px + (sx + 0.5) / S) / size, (py + (sy + 0.5) / S) / size)) hits++;
      const a = hits / (S * S);
      for (let c = 0; c < 3; c++) raw[row + 1 + px * 3 + c] = Math.round(GREEN[c]! * (1 - a) + WHITE[c]! * a);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export function iconSvg(): string {
  const bars = BARS.map(
    ([x, y, w, h]) =>
      `<rect x="${x * 512}" y="${y * 512}" width="${w * 512}" height="${h * 512}" rx="${(h * 512) / 2}" fill="#fff"/>`,
  ).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><rect width="512" height="512" fill="#15803d"/>${bars}</svg>\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = join(paths.root, 'web', 'public', 'icons');
  writeFileSync(join(dir, 'icon.svg'), iconSvg());
  for (const size of [192, 512]) writeFileSync(join(dir, `icon-${size}.png`), iconPng(size));
  console.log(`icons written to ${dir}`);
}
