// Protocol message codes and limits (PostgreSQL docs "Message Formats"; src/include/libpq/protocol.h,
// pqcomm.h, libpq.h).

/** Frontend (client → server) message types. */
export const FrontendCode = {
  Bind: 0x42, // B
  Close: 0x43, // C
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  Flush: 0x48, // H
  Parse: 0x50, // P
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  CopyFail: 0x66, // f
  /** PasswordMessage, SASLInitialResponse, SASLResponse (only during authentication) */
  Password: 0x70, // p
} as const

/** Backend (server → client) message types the wire layer writes itself. */
export const BackendCode = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  NegotiateProtocolVersion: 0x76, // v
  ParameterStatus: 0x53, // S
  ReadyForQuery: 0x5a, // Z
} as const

/** Authentication request codes (the int32 after 'R'). */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const

/** Request codes of packets that come instead of a StartupMessage (pqcomm.h). */
export const StartupCode = {
  CancelRequest: 80877102, // 1234.5678
  SSLRequest: 80877103, // 1234.5679
  GSSENCRequest: 80877104, // 1234.5680
} as const

/** Protocol 3.0, the only version served (3.2's longer cancel keys are not offered). */
export const PROTOCOL_3_0 = 196608

/** pqcomm.h MAX_STARTUP_PACKET_LENGTH */
export const MAX_STARTUP_PACKET = 10000
/** libpq.h PQ_SMALL_MESSAGE_LIMIT / PQ_LARGE_MESSAGE_LIMIT (MaxAllocSize - 1) */
export const SMALL_MESSAGE_LIMIT = 10000
export const LARGE_MESSAGE_LIMIT = 0x3fffffff - 1

/** Largest accepted length of each frontend message type after authentication (postgres.c SocketBackend);
 * types not listed are invalid. */
export const MESSAGE_LIMITS: ReadonlyMap<number, number> = new Map([
  [FrontendCode.Query, LARGE_MESSAGE_LIMIT],
  [FrontendCode.FunctionCall, LARGE_MESSAGE_LIMIT],
  [FrontendCode.Terminate, SMALL_MESSAGE_LIMIT],
  [FrontendCode.Bind, LARGE_MESSAGE_LIMIT],
  [FrontendCode.Parse, LARGE_MESSAGE_LIMIT],
  [FrontendCode.Close, SMALL_MESSAGE_LIMIT],
  [FrontendCode.Describe, SMALL_MESSAGE_LIMIT],
  [FrontendCode.Execute, SMALL_MESSAGE_LIMIT],
  [FrontendCode.Flush, SMALL_MESSAGE_LIMIT],
  [FrontendCode.Sync, SMALL_MESSAGE_LIMIT],
  [FrontendCode.CopyData, LARGE_MESSAGE_LIMIT],
  [FrontendCode.CopyDone, SMALL_MESSAGE_LIMIT],
  [FrontendCode.CopyFail, SMALL_MESSAGE_LIMIT],
])
