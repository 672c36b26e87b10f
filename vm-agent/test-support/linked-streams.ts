/** Two ACP streams wired to each other in memory (NDJSON bytes through TransformStream pairs). */
import * as acp from '@agentclientprotocol/sdk';

export function linkedStreams(): { client: acp.Stream; agent: acp.Stream } {
  const toAgent = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  return {
    client: acp.ndJsonStream(toAgent.writable, toClient.readable),
    agent: acp.ndJsonStream(toClient.writable, toAgent.readable),
  };
}
