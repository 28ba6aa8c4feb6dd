/**
 * The repo's own .proto files (`vector/proto/`, shipped in the npm package), loaded with
 * @grpc/proto-loader. The sink uses them for HealthCheck and the method paths; PushEvents
 * requests are written by encode.ts (same wire format, one pass, no message objects) and the
 * tests decode those bytes back with these definitions.
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

/** `<package root>/proto`, from both `src/sinks/vector/` (tests) and `dist/sinks/vector/` (build). */
export const PROTO_DIR = fileURLToPath(new URL('../../../vector/proto/', import.meta.url));

export const PUSH_EVENTS_PATH = '/vector.Vector/PushEvents';
export const HEALTH_CHECK_PATH = '/vector.Vector/HealthCheck';

/** Decoding options: proto field names, int64 as strings (exact), bytes as Buffer, oneof name in `kind`. */
export const DECODE_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: protoLoader.PackageDefinition | undefined;

/** vector.proto + event.proto (+ google/protobuf/timestamp.proto, bundled with protobufjs). */
export function loadVectorProto(): protoLoader.PackageDefinition {
  return (cached ??= protoLoader.loadSync('vector.proto', DECODE_OPTIONS));
}

/** The service definition of `vector.Vector` (for servers and for HealthCheck serializers). */
export function vectorService(): protoLoader.ServiceDefinition {
  return loadVectorProto()['vector.Vector'] as protoLoader.ServiceDefinition;
}
