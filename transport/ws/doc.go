// Package ws is Raftlab's peer transport: raft messages between the members
// of one cluster over WebSocket.
//
// Three layers, each in its own file:
//
//   - frame.go: the wire format. A binary WebSocket message (a frame)
//     carries a batch of raft messages from one member to another, each with
//     the message id its sender gave it (the UI pairs a send with its
//     delivery by it). Decoding checks every count and length before it
//     allocates and refuses what raft must never see: local message types,
//     messages whose From or To differ from the frame's.
//   - handshake.go: after the WebSocket upgrade, a challenge-response over
//     HMAC-SHA256 proves to each side that the other holds the cluster
//     token, without sending it, and binds the connection to one member id
//     at each end. Raft trusts its peers (one forged MsgHeartbeat with a
//     large commit panics it), so nothing reaches raft before this succeeds.
//   - Transport (transport.go and the files it uses): the native
//     implementation over gorilla/websocket. One connection per pair of
//     members carries messages both ways, so a member that can only dial (a
//     browser tab) is a full member.
//
// The first two are platform independent and build under js/wasm, where a
// browser member reuses them over the page's WebSocket; the Transport is
// native only (build tag !js).
package ws
