import { Writable } from 'node:stream';
import {
  decodeStreamedResponse,
  type ResponseStream,
  type StreamMetadata,
} from '../../lambda/doors/apigateway/http-stream';

/** What Lambda's response stream would send, recorded, with the content type the prelude helper sets. */
export interface RecordingStream extends ResponseStream {
  bytes(): Buffer;
  contentType?: string;
  /** Resolves when the handler ends the stream. */
  readonly finished: Promise<void>;
  /** Each write as it came, with the time it came (to see that SSE events stream). */
  readonly writes: { readonly at: number; readonly chunk: Buffer }[];
}

export function recordingStream(): RecordingStream {
  const writes: { at: number; chunk: Buffer }[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push({ at: Date.now(), chunk: Buffer.from(chunk) });
      callback();
    },
    final(callback) {
      done();
      callback();
    },
  }) as RecordingStream;
  stream.setContentType = (type: string) => {
    stream.contentType = type;
  };
  stream.bytes = () => Buffer.concat(writes.map((write) => write.chunk));
  Object.assign(stream, { finished, writes });
  return stream;
}

/** The streamed response as API Gateway reads it: metadata, and the body as text. */
export function streamedResponse(stream: RecordingStream): { metadata: StreamMetadata; body: string } {
  const decoded = decodeStreamedResponse(stream.bytes());
  if (decoded === undefined)
    throw new Error(`not a streamed HTTP response: ${stream.bytes().toString('utf8').slice(0, 200)}`);
  return { metadata: decoded.metadata, body: decoded.body.toString('utf8') };
}
