/**
 * Phoenix wire frames as realtime-js speaks them.
 *
 * - vsn 2.0.0: text frames are JSON arrays `[join_ref, ref, topic, event, payload]`; client
 *   broadcasts arrive as binary kind 3 (`user_broadcast_push`); the server may answer with JSON text
 *   or binary kind 4 (`user_broadcast`), which the client decodes identically.
 * - vsn 1.0.0: text frames are JSON objects `{join_ref, ref, topic, event, payload}`; no binary.
 */

export type Vsn = '1.0.0' | '2.0.0';

export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** A broadcast as carried in a frame's payload: `{type:'broadcast', event, payload[, meta]}`. */
export interface BroadcastMessage {
  event: string;
  /** JSON value, or raw bytes for binary broadcasts. */
  payload: unknown;
  meta?: Record<string, unknown>;
}

const KIND_USER_BROADCAST_PUSH = 3;
const KIND_USER_BROADCAST = 4;
const ENCODING_BINARY = 0;
const ENCODING_JSON = 1;

export class FrameError extends Error {}

function str(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return String(v);
}

/** Decodes one client frame; throws FrameError on malformed input. */
export function decodeFrame(data: Buffer, isBinary: boolean, vsn: Vsn): Frame {
  if (isBinary) {
    if (vsn !== '2.0.0') throw new FrameError('binary frames need vsn 2.0.0');
    return decodeUserBroadcastPush(data);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    throw new FrameError('frame is not JSON');
  }
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length !== 5) throw new FrameError('frame is not a 5-element array');
    const [joinRef, ref, topic, event, payload] = parsed as unknown[];
    if (typeof topic !== 'string' || typeof event !== 'string') throw new FrameError('topic and event must be strings');
    return { joinRef: str(joinRef), ref: str(ref), topic, event, payload };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FrameError('frame is not an object');
  const o = parsed as Record<string, unknown>;
  if (typeof o.topic !== 'string' || typeof o.event !== 'string')
    throw new FrameError('topic and event must be strings');
  return { joinRef: str(o.join_ref), ref: str(o.ref), topic: o.topic, event: o.event, payload: o.payload };
}

/**
 * Binary kind 3: `[3, joinRefLen, refLen, topicLen, userEventLen, metaLen, encoding]` then joinRef,
 * ref, topic, userEvent, meta (JSON) and the payload (JSON when encoding is 1, raw bytes when 0).
 */
function decodeUserBroadcastPush(data: Buffer): Frame {
  if (data.length < 7 || data[0] !== KIND_USER_BROADCAST_PUSH) throw new FrameError('unsupported binary frame');
  const lengths = [data[1]!, data[2]!, data[3]!, data[4]!, data[5]!];
  const encoding = data[6]!;
  let offset = 7;
  const parts = lengths.map((len) => {
    if (offset + len > data.length) throw new FrameError('truncated binary frame');
    const s = data.subarray(offset, offset + len).toString('utf8');
    offset += len;
    return s;
  });
  const [joinRef, ref, topic, userEvent, meta] = parts as [string, string, string, string, string];
  const body = data.subarray(offset);
  let payload: unknown;
  if (encoding === ENCODING_JSON) {
    try {
      payload = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new FrameError('broadcast payload is not JSON');
    }
  } else if (encoding === ENCODING_BINARY) {
    payload = Buffer.from(body);
  } else {
    throw new FrameError('unknown payload encoding');
  }
  const message: Record<string, unknown> = { type: 'broadcast', event: userEvent, payload };
  if (meta) {
    try {
      const m = JSON.parse(meta) as Record<string, unknown>;
      if (m && typeof m === 'object' && 'persist' in m) message.persist = m.persist;
    } catch {
      throw new FrameError('broadcast meta is not JSON');
    }
  }
  return { joinRef: joinRef || null, ref: ref || null, topic, event: 'broadcast', payload: message };
}

/** Encodes a server frame as text for the socket's protocol version. */
export function encodeFrame(frame: Frame, vsn: Vsn): string {
  if (vsn === '2.0.0') return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
  return JSON.stringify({
    join_ref: frame.joinRef,
    ref: frame.ref,
    topic: frame.topic,
    event: frame.event,
    payload: frame.payload,
  });
}

/**
 * The frame that delivers a broadcast to a client of `vsn`: JSON text, or binary kind 4 when the
 * payload is raw bytes (vsn 1.0.0 cannot carry bytes; it gets them base64-encoded in JSON).
 */
export function encodeBroadcast(topic: string, message: BroadcastMessage, vsn: Vsn): string | Buffer {
  if (Buffer.isBuffer(message.payload)) {
    if (vsn === '2.0.0') return encodeUserBroadcast(topic, message.event, message.payload, message.meta);
    return encodeFrame(
      {
        joinRef: null,
        ref: null,
        topic,
        event: 'broadcast',
        payload: {
          type: 'broadcast',
          event: message.event,
          payload: message.payload.toString('base64'),
          meta: message.meta,
        },
      },
      vsn,
    );
  }
  const payload: Record<string, unknown> = { type: 'broadcast', event: message.event, payload: message.payload };
  if (message.meta) payload.meta = message.meta;
  return encodeFrame({ joinRef: null, ref: null, topic, event: 'broadcast', payload }, vsn);
}

/** Binary kind 4: `[4, topicLen, userEventLen, metaLen, encoding]` + topic + userEvent + meta + payload. */
export function encodeUserBroadcast(
  topic: string,
  event: string,
  payload: Buffer,
  meta?: Record<string, unknown>,
): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const e = Buffer.from(event, 'utf8');
  const m = Buffer.from(meta ? JSON.stringify(meta) : '', 'utf8');
  if (t.length > 255 || e.length > 255 || m.length > 255) throw new FrameError('topic, event or meta too long');
  const header = Buffer.from([KIND_USER_BROADCAST, t.length, e.length, m.length, ENCODING_BINARY]);
  return Buffer.concat([header, t, e, m, payload]);
}
