// The README picture's renderer (bench/lib/dashboard-render.ts, bench/lib/png-canvas.ts): the PNG
// it writes is well formed (signature, chunk CRCs, IHDR size, IDAT inflating to one filter byte
// plus RGB per row), laid out by gridPos, and a series is drawn in its palette colour.
import { crc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { renderDashboard, formatValue } from '../../bench/lib/dashboard-render.js';

function decode(png: Buffer): { width: number; height: number; rgb: Buffer } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  const chunks: Array<{ type: string; data: Buffer }> = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    expect(png.readUInt32BE(off + 8 + len), `${type} CRC`).toBe(crc32(png.subarray(off + 4, off + 8 + len)) >>> 0);
    chunks.push({ type, data });
    off += 12 + len;
  }
  expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
  const ihdr = chunks[0]!.data;
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  expect([ihdr[8], ihdr[9]]).toEqual([8, 2]);
  const raw = inflateSync(chunks[1]!.data);
  expect(raw.length).toBe((width * 3 + 1) * height);
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    raw.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  }
  return { width, height, rgb };
}

const count = (rgb: Buffer, [r, g, b]: [number, number, number]) => {
  let n = 0;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] === r && rgb[i + 1] === g && rgb[i + 2] === b) n++;
  return n;
};

describe('the dashboard picture renderer', () => {
  const base = { type: 'timeseries', title: 'Requests', gridPos: { h: 8, w: 12, x: 0, y: 1 }, thresholds: [], thresholdLines: false };
  const picture = (series: Array<{ name: string; points: Array<[number, number]> }>) =>
    decode(renderDashboard({ title: 'T', subtitle: 's', rows: [{ title: 'Row', y: 0 }], range: [0, 100], panels: [{ ...base, series }] }));

  it('a well-formed PNG, 24 columns wide and as tall as the lowest panel, with the series in the first palette colour', () => {
    const { width, height, rgb } = picture([
      {
        name: 'a',
        points: [
          [0, 1],
          [50, 3],
          [100, 2],
        ],
      },
    ]);
    expect(width).toBe(24 * 60);
    expect(height).toBe(44 + 9 * 32 + 4);
    expect(count(rgb, [0x7e, 0xb2, 0x6d])).toBeGreaterThan(200); // the line, two pixels thick
  });

  it('no finite value: no line, "No data"', () => {
    const { rgb } = picture([
      {
        name: 'a',
        points: [
          [0, NaN],
          [50, NaN],
        ],
      },
    ]);
    expect(count(rgb, [0x7e, 0xb2, 0x6d])).toBeLessThan(100); // the legend swatch only
  });

  it("formats values in the panels' units", () => {
    expect([
      formatValue(86_400 * 4, 's'),
      formatValue(0.0123, 's'),
      formatValue(3 * 2 ** 20, 'bytes'),
      formatValue(0.25, 'percentunit'),
      formatValue(12_345, 'ops'),
    ]).toEqual(['4d', '12.3ms', '3 MiB', '25%', '12.3k/s']);
  });
});
