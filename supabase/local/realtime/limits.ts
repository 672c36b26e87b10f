/**
 * What one client can make the local Realtime server hold, bounded: hosted Realtime's published
 * limits where it has one (channels per connection 100, presence keys per object 10, payloads of
 * 3,000 KB), and our own bounds for what it leaves unsaid (a presence's size, a socket's unsent
 * backlog). Refusals use Phoenix's reply shape, `{status: 'error', response: {reason}}`.
 */
export const LIMITS = {
  /** Channels joined at once on one socket; joining again past it: `ChannelRateLimitReached`. */
  channelsPerSocket: 100,
  /** Keys of one tracked presence object. */
  presenceKeys: 10,
  /** Bytes of one tracked presence object, as JSON. */
  presenceBytes: 64 * 1024,
  /** Bytes of one client frame; a larger one closes the socket with 1009 (message too big). */
  frameBytes: 3 * 1024 * 1024,
  /**
   * Bytes queued for a socket and not yet taken by the network: a client that stops reading is
   * disconnected past this instead of growing the server's memory with everything sent to it.
   */
  bufferedBytes: 8 * 1024 * 1024,
} as const;
