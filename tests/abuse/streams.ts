const CHUNK = new Uint8Array(64 * 1024).fill(0x20);

export interface LazyUpload {
  response: Response;
  /** Bytes the server made the client produce (pulled from the lazy body) by the time it answered. */
  pulled: number;
}

/**
 * POSTs `total` bytes of spaces produced lazily, chunk by chunk, as the connection pulls them: a
 * streamed body, so fetch sends it chunked, without Content-Length. Nothing is held in memory
 * beyond one chunk, so a huge upload costs the test nothing unless the server makes it read on.
 */
export async function lazyUpload(
  url: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<LazyUpload> {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      const n = Math.min(CHUNK.length, total - pulled);
      pulled += n;
      controller.enqueue(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  } as RequestInit);
  return { response, pulled };
}

export const MiB = 1024 * 1024;
